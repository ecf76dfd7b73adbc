/**
 * The fused-op path (tf.batchNorm inside customGrad, used on webgl, webgpu and tfjs-node), run
 * here on the cpu backend against the plain references: outputs, statistics and the gradients
 * for x, gamma and beta (tf's autodiff through the reference), for ranks 2 to 5, with and
 * without gamma / beta. Channels-last only: the cpu backend's batchNorm kernel repeats the
 * per-channel values along the last axis instead of broadcasting them, so channels-first runs
 * in the browser suite on webgl, where the path is used.
 */
import * as tf from '@tensorflow/tfjs';
import { fusedOpsInference, fusedOpsTraining } from '../src/ops/fused_ops';
import { referenceInference, referenceTraining } from './reference/reference_batch_norm';
import { gradsOf, input, lossWeights, relError, useBackend } from './helpers/tensors';

beforeAll(() => useBackend('cpu'));

const CASES: Array<{ shape: number[]; axis: number; scale: boolean; center: boolean }> = [
  { shape: [6, 5], axis: 1, scale: true, center: true },
  { shape: [3, 4, 5, 2], axis: 3, scale: true, center: true },
  { shape: [3, 4, 5, 2], axis: 3, scale: true, center: false },
  { shape: [2, 3, 2, 2, 4], axis: 4, scale: false, center: true },
  { shape: [4, 3, 5], axis: 2, scale: false, center: false },
];

describe.each(CASES)('shape $shape axis $axis scale $scale center $center', ({ shape, axis, scale, center }) => {
  const eps = 1e-3;
  const setup = () => {
    const c = shape[axis];
    const variable = (make: () => tf.Tensor) => tf.tidy(() => tf.variable(make(), true));
    const x = variable(() => input(shape, 3));
    const gamma = scale ? variable(() => tf.randomUniform([c], 0.5, 2, 'float32', 4)) : null;
    const beta = center ? variable(() => tf.randomNormal([c], 0, 1, 'float32', 5)) : null;
    const vars = [x, gamma, beta].filter((v): v is tf.Variable => v != null);
    return { x, gamma, beta, vars, w: lossWeights(shape, 9) };
  };

  test('training: output, statistics and gradients match the reference', () => {
    const before = tf.memory().numTensors;
    const { x, gamma, beta, vars, w } = setup();
    const stats: tf.Tensor[] = [];
    const ours = gradsOf(() => {
      const r = fusedOpsTraining({ x, gamma, beta, axis, epsilon: eps });
      stats.push(r.mean, r.variance);
      return r.y;
    }, w, vars);
    const ref = referenceTraining(x, gamma, beta, axis, eps);
    const refGrads = gradsOf(() => referenceTraining(x, gamma, beta, axis, eps).y, w, vars);
    const y = fusedOpsTraining({ x, gamma, beta, axis, epsilon: eps });
    expect(relError(y.y, ref.y)).toBeLessThan(1e-5);
    tf.tidy(() => {
      expect(relError(y.mean, tf.reshape(ref.mean, [-1]))).toBeLessThan(1e-5);
      expect(relError(y.variance, tf.reshape(ref.variance, [-1]))).toBeLessThan(1e-5);
    });
    ours.forEach((g, i) => expect(relError(g, refGrads[i])).toBeLessThan(1e-4));
    tf.dispose([...ours, ...refGrads, ...stats, y.y, y.mean, y.variance, ref.y, ref.mean, ref.variance, w, ...vars]);
    expect(tf.memory().numTensors).toBe(before);
  });

  test('inference: output and gradients (statistics constant) match the reference', () => {
    const before = tf.memory().numTensors;
    const { x, gamma, beta, vars, w } = setup();
    const c = shape[axis];
    const mean = tf.randomNormal([c], 1, 1, 'float32', 6);
    const variance = tf.randomUniform([c], 0.5, 3, 'float32', 7);
    const ours = gradsOf(() => fusedOpsInference({ x, gamma, beta, axis, epsilon: eps }, mean, variance), w, vars);
    const refGrads = gradsOf(() => referenceInference(x, mean, variance, gamma, beta, axis, eps), w, vars);
    const y = fusedOpsInference({ x, gamma, beta, axis, epsilon: eps }, mean, variance);
    const ref = referenceInference(x, mean, variance, gamma, beta, axis, eps);
    expect(relError(y, ref)).toBeLessThan(1e-5);
    ours.forEach((g, i) => expect(relError(g, refGrads[i])).toBeLessThan(1e-4));
    tf.dispose([...ours, ...refGrads, y, ref, mean, variance, w, ...vars]);
    expect(tf.memory().numTensors).toBe(before);
  });
});
