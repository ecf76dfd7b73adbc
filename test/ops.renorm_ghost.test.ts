/**
 * Batch renormalization and ghost batch normalization as ops: outputs, statistics and gradients
 * for x, gamma and beta against the plain references (tf autodiff) and float64 finite
 * differences, on the kernel path (cpu) and the composite path (a cpu copy without our kernels).
 */
import * as tf from '@tensorflow/tfjs';
import { ghostBatchNormTraining } from '../src/ops/ghost_batch';
import { batchRenormTraining, RenormClipping } from '../src/ops/renorm';
import { batchNormTraining } from '../src/ops/batch_norm';
import { NORM_KERNEL_NAMES } from '../src/kernels/names';
import { numericGradient, relativeMaxError } from './reference/reference_batch_norm';
import {
  float64Ghost, float64Renorm, referenceCorrection, referenceGhostTraining, referenceRenormTraining,
} from './reference/reference_renorm';

const COMPOSITE = 'cpu-without-batchnorm-kernels-renorm';
const EPS = 1e-3;

beforeAll(async () => {
  tf.registerBackend(COMPOSITE, tf.findBackendFactory('cpu'));
  for (const k of tf.getKernelsForBackend('cpu')) {
    if (!(NORM_KERNEL_NAMES as readonly string[]).includes(k.kernelName)) tf.registerKernel({ ...k, backendName: COMPOSITE });
  }
  await tf.setBackend('cpu');
});

afterAll(() => tf.removeBackend(COMPOSITE));

/** Variables x, gamma, beta for a case; gamma away from 1 and beta away from 0 so both matter. */
function variables(shape: number[], axis: number, seed: number) {
  const c = shape[axis];
  const variable = (init: tf.Tensor) => {
    const v = tf.variable(init);
    init.dispose();
    return v;
  };
  return {
    x: variable(tf.randomNormal(shape, 1.5, 2, 'float32', seed)),
    gamma: variable(tf.randomUniform([c], 0.5, 1.5, 'float32', seed + 1)),
    beta: variable(tf.randomUniform([c], -1, 1, 'float32', seed + 2)),
  };
}

/** Gradients of sum(f() * w) for [x, gamma, beta]. */
function grads(f: () => tf.Tensor, w: tf.Tensor, vars: tf.Variable[]): tf.Tensor[] {
  const { value, grads: g } = tf.variableGrads(() => tf.sum(tf.mul(f(), w)) as tf.Scalar, vars);
  value.dispose();
  return vars.map((v) => g[v.name]);
}

const f64 = (t: tf.Tensor) => Float64Array.from(t.dataSync());

/** The output of an op's result, the statistics it also returns (kept tensors) disposed. */
function yOf<R extends { y: tf.Tensor }>(result: R): tf.Tensor {
  tf.dispose((Object.values(result) as tf.Tensor[]).filter((t) => t !== result.y));
  return result.y;
}

describe.each([['cpu'], [COMPOSITE]])('on backend %s', (backend) => {
  beforeAll(async () => { await tf.setBackend(backend); });
  afterAll(async () => { await tf.setBackend('cpu'); });

  const renormCases: Array<[number[], number, RenormClipping]> = [
    [[6, 4], 1, {}],
    [[6, 4], 1, { rmax: 1.2, rmin: 0.9, dmax: 0.3 }],
    [[3, 4, 2, 5], 1, { rmax: 1.5, dmax: 0.5 }],
    [[3, 2, 2, 4], 3, { rmin: 0.8, rmax: 1.25, dmax: 1 }],
  ];

  test.each(renormCases)('renorm %p axis %p clipping %p: output, statistics and gradients', (shape, axis, clipping) => {
    const before = tf.memory().numTensors;
    const { x, gamma, beta } = variables(shape, axis, 3);
    const c = shape[axis];
    // Renorm statistics off the batch's, so r and d differ from 1 and 0 and the clipping bites.
    const renormMean = Array.from({ length: c }, (_, i) => 1.5 + 0.8 * (i - c / 2));
    const renormStddev = Array.from({ length: c }, (_, i) => 0.5 + 0.6 * i);
    const stats = { renormMean: tf.tensor1d(renormMean), renormStddev: tf.tensor1d(renormStddev) };
    const w = tf.randomUniform(shape, -1, 1, 'float32', 9);
    const ours = batchRenormTraining({ x, gamma, beta, axis, epsilon: EPS }, stats, clipping);
    const ref = referenceRenormTraining(x, gamma, beta, axis, EPS, renormMean, renormStddev, clipping);

    expect(relativeMaxError(ours.y.dataSync(), ref.y.dataSync())).toBeLessThan(1e-5);
    expect(relativeMaxError(ours.mean.dataSync(), ref.mean)).toBeLessThan(1e-6);
    expect(relativeMaxError(ours.variance.dataSync(), ref.variance)).toBeLessThan(1e-5);
    expect(relativeMaxError(ours.r.dataSync(), ref.r)).toBeLessThan(1e-6);
    expect(relativeMaxError(ours.d.dataSync(), ref.d)).toBeLessThan(1e-6);
    if (clipping.rmax != null) expect(Math.max(...ours.r.dataSync())).toBeCloseTo(clipping.rmax, 6);
    if (clipping.dmax != null) expect(Math.max(...ours.d.dataSync().map(Math.abs))).toBeCloseTo(clipping.dmax, 6);

    const vars = [x, gamma, beta];
    const g = grads(() => yOf(batchRenormTraining({ x, gamma, beta, axis, epsilon: EPS }, stats, clipping)), w, vars);
    const gRef = grads(() => referenceRenormTraining(x, gamma, beta, axis, EPS, renormMean, renormStddev, clipping).y,
      w, vars);
    g.forEach((gi, i) => expect(relativeMaxError(gi.dataSync(), gRef[i].dataSync())).toBeLessThan(1e-4));

    // Finite differences in float64 with r and d held at this batch's values (stop-gradient).
    const shapeOf = x.shape;
    const wv = f64(w);
    const loss = (y: Float64Array) => y.reduce((s, v, i) => s + v * wv[i], 0);
    const [xv, gv, bv] = vars.map(f64);
    const numX = numericGradient((v) => loss(float64Renorm(v, shapeOf, axis, gv, bv, EPS, ref.r, ref.d)), xv);
    const numG = numericGradient((v) => loss(float64Renorm(xv, shapeOf, axis, v, bv, EPS, ref.r, ref.d)), gv);
    const numB = numericGradient((v) => loss(float64Renorm(xv, shapeOf, axis, gv, v, EPS, ref.r, ref.d)), bv);
    expect(relativeMaxError(g[0].dataSync(), numX)).toBeLessThan(2e-3);
    expect(relativeMaxError(g[1].dataSync(), numG)).toBeLessThan(1e-3);
    expect(relativeMaxError(g[2].dataSync(), numB)).toBeLessThan(1e-3);

    tf.dispose([x, gamma, beta, stats.renormMean, stats.renormStddev, w, ours.y, ours.mean, ours.variance, ours.r,
      ours.d, ref.y, ...g, ...gRef]);
    expect(tf.memory().numTensors).toBe(before);
  });

  test('renorm without gamma and beta (scale and center false) matches the reference', () => {
    const x = tf.randomNormal([5, 3], 2, 3, 'float32', 4);
    const stats = { renormMean: tf.tensor1d([0, 1, 2]), renormStddev: tf.tensor1d([1, 2, 0.5]) };
    const ours = batchRenormTraining({ x, gamma: null, beta: null, axis: 1, epsilon: EPS }, stats, { dmax: 1 });
    const ref = referenceRenormTraining(x, null, null, 1, EPS, [0, 1, 2], [1, 2, 0.5], { dmax: 1 });
    expect(relativeMaxError(ours.y.dataSync(), ref.y.dataSync())).toBeLessThan(1e-5);
    const dx = tf.grad((a: tf.Tensor) => yOf(batchRenormTraining({ x: a, gamma: null, beta: null, axis: 1, epsilon: EPS },
      stats, { dmax: 1 })))(x);
    const dxRef = tf.grad((a: tf.Tensor) => referenceRenormTraining(a, null, null, 1, EPS, [0, 1, 2], [1, 2, 0.5],
      { dmax: 1 }).y)(x);
    expect(relativeMaxError(dx.dataSync(), dxRef.dataSync())).toBeLessThan(1e-4);
    tf.dispose([x, stats.renormMean, stats.renormStddev, ours.y, ours.mean, ours.variance, ours.r, ours.d, ref.y, dx,
      dxRef]);
  });

  const ghostCases: Array<[number[], number, number]> = [
    [[8, 3], 1, 2],
    [[6, 4, 5], 1, 3],
    [[4, 3, 2, 5], 3, 2],
    [[6, 2, 3, 4], 2, 2],
  ];

  test.each(ghostCases)('ghost batches %p axis %p of %p: output, statistics and gradients', (shape, axis, vbs) => {
    const before = tf.memory().numTensors;
    const { x, gamma, beta } = variables(shape, axis, 5);
    const w = tf.randomUniform(shape, -1, 1, 'float32', 11);
    const ours = ghostBatchNormTraining({ x, gamma, beta, axis, epsilon: EPS }, vbs);
    const ref = referenceGhostTraining(x, gamma, beta, axis, EPS, vbs);
    expect(relativeMaxError(ours.y.dataSync(), ref.y.dataSync())).toBeLessThan(1e-5);
    expect(relativeMaxError(ours.ghostMean.dataSync(), ref.ghostMean.dataSync())).toBeLessThan(1e-6);
    expect(relativeMaxError(ours.ghostVariance.dataSync(), ref.ghostVariance.dataSync())).toBeLessThan(1e-5);
    const meanOfGhosts = tf.mean(ref.ghostMean, 0);
    const varianceOfGhosts = tf.mean(ref.ghostVariance, 0);
    expect(relativeMaxError(ours.mean.dataSync(), meanOfGhosts.dataSync())).toBeLessThan(1e-6);
    expect(relativeMaxError(ours.variance.dataSync(), varianceOfGhosts.dataSync())).toBeLessThan(1e-5);
    // The ghost statistics are not the whole batch's: the test would pass for plain BN otherwise.
    const whole = batchNormTraining({ x, gamma, beta, axis, epsilon: EPS });
    expect(relativeMaxError(whole.y.dataSync(), ref.y.dataSync())).toBeGreaterThan(1e-2);

    const vars = [x, gamma, beta];
    const g = grads(() => yOf(ghostBatchNormTraining({ x, gamma, beta, axis, epsilon: EPS }, vbs)), w, vars);
    const gRef = grads(() => referenceGhostTraining(x, gamma, beta, axis, EPS, vbs).y, w, vars);
    g.forEach((gi, i) => expect(relativeMaxError(gi.dataSync(), gRef[i].dataSync())).toBeLessThan(1e-4));

    const wv = f64(w);
    const loss = (y: Float64Array) => y.reduce((s, v, i) => s + v * wv[i], 0);
    const [xv, gv, bv] = vars.map(f64);
    const numX = numericGradient((v) => loss(float64Ghost(v, shape, axis, gv, bv, EPS, vbs)), xv);
    const numG = numericGradient((v) => loss(float64Ghost(xv, shape, axis, v, bv, EPS, vbs)), gv);
    const numB = numericGradient((v) => loss(float64Ghost(xv, shape, axis, gv, v, EPS, vbs)), bv);
    expect(relativeMaxError(g[0].dataSync(), numX)).toBeLessThan(2e-3);
    expect(relativeMaxError(g[1].dataSync(), numG)).toBeLessThan(1e-3);
    expect(relativeMaxError(g[2].dataSync(), numB)).toBeLessThan(1e-3);

    tf.dispose([x, gamma, beta, w, ours.y, ours.mean, ours.variance, ours.ghostMean, ours.ghostVariance, ref.y,
      ref.ghostMean, ref.ghostVariance, meanOfGhosts, varianceOfGhosts, whole.y, whole.mean, whole.variance, ...g,
      ...gRef]);
    expect(tf.memory().numTensors).toBe(before);
  });

  test('renorm over ghost batches: r and d from the ghost-averaged statistics, as tf.keras computes them', () => {
    const shape = [6, 2, 3];
    const { x, gamma, beta } = variables(shape, 2, 7);
    const stats = { renormMean: tf.tensor1d([1, 2, 0]), renormStddev: tf.tensor1d([1.5, 3, 0.7]) };
    const clipping = { rmax: 2, dmax: 1 };
    const ours = batchRenormTraining({ x, gamma, beta, axis: 2, epsilon: EPS }, stats, clipping,
      (a) => ghostBatchNormTraining(a, 3));
    const ghost = referenceGhostTraining(x, null, null, 2, EPS, 3);
    const mean = tf.mean(ghost.ghostMean, 0);
    const variance = tf.mean(ghost.ghostVariance, 0);
    const { r, d } = referenceCorrection(mean.dataSync(), variance.dataSync(), [1, 2, 0], [1.5, 3, 0.7], EPS, clipping);
    const expected = tf.add(tf.mul(tf.add(tf.mul(ghost.y, r), d), gamma), beta);
    expect(relativeMaxError(ours.y.dataSync(), expected.dataSync())).toBeLessThan(1e-5);
    expect(relativeMaxError(ours.mean.dataSync(), mean.dataSync())).toBeLessThan(1e-6);
    tf.dispose([x, gamma, beta, stats.renormMean, stats.renormStddev, ours.y, ours.mean, ours.variance, ours.r, ours.d,
      ghost.y, ghost.ghostMean, ghost.ghostVariance, mean, variance, expected]);
  });
});

test('ghost batches: a batch that is not a multiple of the virtual batch size is refused, naming both', () => {
  const before = tf.memory().numTensors;
  const x = tf.ones([6, 3]);
  expect(() => ghostBatchNormTraining({ x, gamma: null, beta: null, axis: 1, epsilon: EPS }, 4))
    .toThrow('expected a batch size that is a multiple of virtualBatchSize 4, but received batch size 6.');
  expect(() => ghostBatchNormTraining({ x, gamma: null, beta: null, axis: 1, epsilon: EPS }, 0))
    .toThrow('expected a positive integer virtualBatchSize, but received 0.');
  x.dispose();
  expect(tf.memory().numTensors).toBe(before);
});
