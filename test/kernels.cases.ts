/**
 * Shared checks for the fused kernels (src/kernels/), run per backend by kernels.cpu.test.ts and
 * kernels.wasm.test.ts: outputs, statistics and gradients against the plain references in
 * reference/reference_batch_norm.ts (tf ops in the input's own layout, tf's autodiff), on the
 * same backend, for ranks 2..5 and several axes, with and without gamma / beta.
 */
import * as tf from '@tensorflow/tfjs';
import { batchNormInference, batchNormTraining } from '../src/ops/batch_norm';
import { hasNormKernels } from '../src/ops/normalize';
import { NormApply, NormBackward, NormForward } from '../src/kernels/names';
import { referenceInference, referenceTraining, relativeMaxError } from './reference/reference_batch_norm';

export const TOLERANCE = 1e-5;
const EPSILON = 1e-3;

/** [shape, axis, what it covers]. */
export const CASES: Array<[number[], number, string]> = [
  [[7, 5], 1, 'rank 2 (odd row count: the 4-row sweep plus a remainder)'],
  [[3, 4, 5], 1, 'rank 3, axis 1'],
  [[3, 4, 5], 2, 'rank 3, last axis'],
  [[2, 3, 4, 5], 3, 'NHWC'],
  [[2, 3, 4, 5], 1, 'NCHW'],
  [[2, 3, 4, 5], 2, 'rank 4, middle axis'],
  [[2, 3, 2, 3, 4], 4, 'rank 5, last axis'],
  [[2, 3, 2, 3, 4], 2, 'rank 5, middle axis'],
  [[1, 4, 4, 3], 3, 'batch of one, NHWC'],
  [[1, 6], 1, 'batch of one, dense (zero variance)'],
];

/** [scale, center] combinations; all four on a few shapes keeps the file fast. */
export const AFFINE: Array<[boolean, boolean]> = [[true, true], [false, true], [true, false], [false, false]];

function rel(a: tf.Tensor, b: tf.Tensor): number {
  expect(a.shape).toEqual(b.shape);
  return relativeMaxError(a.dataSync(), b.dataSync());
}

/** Inputs away from zero mean and unit scale, per-channel gamma / beta not all one / zero. */
function data(shape: number[], axis: number, scale: boolean, center: boolean, seed: number) {
  const c = shape[axis];
  return {
    x: tf.randomNormal(shape, 2, 3, 'float32', seed),
    gamma: scale ? tf.randomUniform([c], 0.5, 2, 'float32', seed + 1) : null,
    beta: center ? tf.randomUniform([c], -1, 1, 'float32', seed + 2) : null,
    dy: tf.randomUniform(shape, -1, 1, 'float32', seed + 3),
    mean: tf.randomNormal([c], 1, 2, 'float32', seed + 4),
    variance: tf.randomUniform([c], 0.5, 4, 'float32', seed + 5),
    u: tf.randomUniform([c], -1, 1, 'float32', seed + 6),
    v: tf.randomUniform([c], -1, 1, 'float32', seed + 7),
  };
}

/** Names of the kernels `f` runs, from tf.profile. */
export async function kernelsRun(f: () => tf.TensorContainer): Promise<string[]> {
  const info = await tf.profile(() => {
    tf.dispose(f());
    return [];
  });
  return info.kernels.map((k) => k.name);
}

/**
 * Training: y, mean, variance; gradients of sum(y * dy) for x, gamma, beta, and with
 * `statsGradients` also of sum(y * dy) + sum(mean * u) + sum(variance * v), which must be the
 * same: the returned statistics are constants for the gradient on every path (as PyTorch's
 * native_batch_norm marks its saved statistics).
 */
export function checkTraining(shape: number[], axis: number, scale: boolean, center: boolean, seed = 1,
  statsGradients = true): void {
  const d = data(shape, axis, scale, center, seed);
  const xs = [d.x, d.gamma, d.beta].filter((t): t is tf.Tensor => t != null);
  const split = (ts: tf.Tensor[]) => {
    let i = 1;
    return { x: ts[0], gamma: scale ? ts[i++] : null, beta: center ? ts[i++] : null };
  };
  const before = tf.memory().numTensors;

  const ours = batchNormTraining({ ...split(xs), axis, epsilon: EPSILON });
  const ref = referenceTraining(d.x, d.gamma, d.beta, axis, EPSILON);
  expect(rel(ours.y, ref.y)).toBeLessThan(TOLERANCE);
  expect(rel(ours.mean, ref.mean)).toBeLessThan(TOLERANCE);
  expect(rel(ours.variance, ref.variance)).toBeLessThan(TOLERANCE);
  tf.dispose([ours.y, ours.mean, ours.variance, ref.y, ref.mean, ref.variance]);

  const loss = (r: { y: tf.Tensor; mean: tf.Tensor; variance: tf.Tensor }, withStats: boolean) => {
    const l = tf.sum(tf.mul(r.y, d.dy));
    const out = withStats ? tf.addN([l, tf.sum(tf.mul(r.mean, d.u)), tf.sum(tf.mul(r.variance, d.v))]) : l;
    // The caller owns the statistics (the composite path keeps them out of every tidy).
    tf.dispose([r.mean, r.variance]);
    return out;
  };
  for (const withStats of statsGradients ? [false, true] : [false]) {
    const oursGrads = tf.grads((...ts: tf.Tensor[]) => loss(batchNormTraining({ ...split(ts), axis, epsilon: EPSILON }), withStats))(xs);
    const refGrads = tf.grads((...ts: tf.Tensor[]) => {
      const s = split(ts);
      return loss(referenceTraining(s.x, s.gamma, s.beta, axis, EPSILON), false);
    })(xs);
    oursGrads.forEach((g, i) => expect(rel(g, refGrads[i])).toBeLessThan(TOLERANCE));
    tf.dispose([...oursGrads, ...refGrads]);
  }
  expect(tf.memory().numTensors).toBe(before);
  tf.dispose(Object.values(d).filter((t): t is tf.Tensor => t != null));
}

/**
 * Inference: y and the gradients for x, gamma, beta, and with `statsGradients` for the (moving)
 * mean and variance too.
 */
export function checkInference(shape: number[], axis: number, scale: boolean, center: boolean, seed = 1,
  statsGradients = true): void {
  const d = data(shape, axis, scale, center, seed);
  const stats = statsGradients ? [d.mean, d.variance] : [];
  const xs = [d.x, ...stats, d.gamma, d.beta].filter((t): t is tf.Tensor => t != null);
  const split = (ts: tf.Tensor[]) => {
    let i = 1 + stats.length;
    return {
      x: ts[0], mean: statsGradients ? ts[1] : d.mean, variance: statsGradients ? ts[2] : d.variance,
      gamma: scale ? ts[i++] : null, beta: center ? ts[i++] : null,
    };
  };
  const before = tf.memory().numTensors;

  const y = batchNormInference({ x: d.x, gamma: d.gamma, beta: d.beta, axis, epsilon: EPSILON }, d.mean, d.variance);
  const yRef = referenceInference(d.x, d.mean, d.variance, d.gamma, d.beta, axis, EPSILON);
  expect(rel(y, yRef)).toBeLessThan(TOLERANCE);
  tf.dispose([y, yRef]);

  const oursGrads = tf.grads((...ts: tf.Tensor[]) => {
    const s = split(ts);
    return batchNormInference({ x: s.x, gamma: s.gamma, beta: s.beta, axis, epsilon: EPSILON }, s.mean, s.variance);
  })(xs, d.dy);
  const refGrads = tf.grads((...ts: tf.Tensor[]) => {
    const s = split(ts);
    return referenceInference(s.x, s.mean, s.variance, s.gamma, s.beta, axis, EPSILON);
  })(xs, d.dy);
  oursGrads.forEach((g, i) => expect(rel(g, refGrads[i])).toBeLessThan(TOLERANCE));
  tf.dispose([...oursGrads, ...refGrads]);
  expect(tf.memory().numTensors).toBe(before);
  tf.dispose(Object.values(d).filter((t): t is tf.Tensor => t != null));
}

/**
 * The whole suite for one backend that has our kernels.
 *
 * Usage: `describeKernels('cpu')` inside a test file that set the backend in beforeAll.
 */
export function describeKernels(backend: string): void {
  test(`${backend} has the kernels, and the forward and backward run them`, async () => {
    expect(tf.getBackend()).toBe(backend);
    expect(hasNormKernels()).toBe(true);
    const x = tf.randomNormal([4, 3]);
    const gamma = tf.ones([3]);
    const trained = await kernelsRun(() => tf.grads((a: tf.Tensor, g: tf.Tensor) =>
      batchNormTraining({ x: a, gamma: g, beta: null, axis: 1, epsilon: EPSILON }).y)([x, gamma]));
    expect(trained).toEqual(expect.arrayContaining([NormForward, NormBackward]));
    const inferred = await kernelsRun(() => batchNormInference({ x, gamma, beta: null, axis: 1, epsilon: EPSILON }, tf.zeros([3]), tf.ones([3])));
    expect(inferred).toContain(NormApply);
    // No composite ops around the fused forward: it is one kernel (plus the fillers for beta).
    expect(trained).not.toContain('Rsqrt');
    tf.dispose([x, gamma]);
  });

  describe.each(CASES)(`${backend}: %p axis %p (%s)`, (shape, axis) => {
    test('training: y, mean, variance and gradients match the reference', () => checkTraining(shape, axis, true, true));
    test('inference: y and gradients match the reference', () => checkInference(shape, axis, true, true));
  });

  describe.each([[[5, 4], 1], [[2, 3, 4, 4], 1], [[2, 4, 3, 3], 3]] as Array<[number[], number]>)(
    `${backend}: scale / center on %p axis %p`, (shape, axis) => {
      test.each(AFFINE.slice(1))('scale %p center %p', (scale, center) => {
        checkTraining(shape, axis, scale, center, 11);
        checkInference(shape, axis, scale, center, 11);
      });
    });

  test(`${backend}: second-order gradients fail with a plain message (not silently wrong)`, () => {
    const x = tf.randomNormal([6, 3], 1, 2, 'float32', 1);
    const f = (a: tf.Tensor) => {
      const r = batchNormTraining({ x: a, gamma: null, beta: null, axis: 1, epsilon: EPSILON });
      tf.dispose([r.mean, r.variance]);
      return tf.sum(tf.square(r.y));
    };
    expect(() => tf.grad((a: tf.Tensor) => tf.sum(tf.square(tf.grad(f)(a))))(x))
      .toThrow('second-order gradients through the normalization layers are not supported');
    x.dispose();
  });

  test(`${backend}: statistics stay accurate when |mean| >> std (shifted sums)`, () => {
    const x = tf.tidy(() => tf.add(tf.mul(tf.randomNormal([64, 3], 0, 1, 'float32', 5), 0.01), 1000));
    const ours = batchNormTraining({ x, gamma: null, beta: null, axis: 1, epsilon: 1e-6 });
    const ref = referenceTraining(x, null, null, 1, 1e-6);
    // Relative to the variance itself (~1e-4), not to max(1, |v|): a looser check would hide cancellation.
    const [v, vRef] = [ours.variance.dataSync(), ref.variance.dataSync()];
    vRef.forEach((r, i) => expect(Math.abs(v[i] - r) / r).toBeLessThan(1e-2));
    expect(rel(ours.y, ref.y)).toBeLessThan(1e-2);
    tf.dispose([x, ours.y, ours.mean, ours.variance, ref.y, ref.mean, ref.variance]);
  });
}
