/**
 * Plainly written references for the tests, independent of src/: BatchNormalization composed
 * from tf ops in the input's own layout (no [outer, C, inner] view, no custom gradient), so
 * tf's autodiff supplies its gradient; and central finite differences in float64.
 */
import * as tf from '@tensorflow/tfjs';

/** Shape that broadcasts a [C] vector along `axis` of a rank-`rank` tensor. */
export function broadcastShape(shape: readonly number[], axis: number): number[] {
  return shape.map((d, i) => (i === axis ? d : 1));
}

/** Every axis but the feature axis. */
export function reductionAxes(rank: number, axis: number): number[] {
  return [...Array(rank).keys()].filter((i) => i !== axis);
}

/**
 * Training-mode BN by the textbook: batch mean, biased variance, normalize, scale, shift.
 * `mask` (shape of x without the feature axis, or 0/1 weights of x's shape) leaves positions out of the
 * statistics.
 */
export function referenceTraining(
  x: tf.Tensor, gamma: tf.Tensor | null, beta: tf.Tensor | null, axis: number, epsilon: number,
  mask: tf.Tensor | null = null,
): { y: tf.Tensor; mean: tf.Tensor; variance: tf.Tensor } {
  return tf.tidy(() => {
    const axes = reductionAxes(x.rank, axis);
    const b = broadcastShape(x.shape, axis);
    let mean: tf.Tensor;
    let variance: tf.Tensor;
    if (mask == null) {
      mean = tf.mean(x, axes, true);
      variance = tf.mean(tf.square(tf.sub(x, mean)), axes, true);
    } else {
      // A mask of x's rank is per-position weights; a shorter one covers every axis but the feature axis.
      const w = tf.broadcastTo(tf.cast(mask.rank === x.rank ? mask : tf.expandDims(mask, axis), 'float32'), x.shape);
      const n = tf.sum(w, axes, true);
      mean = tf.div(tf.sum(tf.mul(x, w), axes, true), n);
      variance = tf.div(tf.sum(tf.mul(w, tf.square(tf.sub(x, mean))), axes, true), n);
    }
    let y = tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, epsilon)));
    if (gamma != null) y = tf.mul(y, tf.reshape(gamma, b));
    if (beta != null) y = tf.add(y, tf.reshape(beta, b));
    return { y, mean: tf.reshape(mean, [x.shape[axis]]), variance: tf.reshape(variance, [x.shape[axis]]) };
  });
}

/** Inference-mode BN with given statistics. */
export function referenceInference(
  x: tf.Tensor, mean: tf.Tensor, variance: tf.Tensor, gamma: tf.Tensor | null, beta: tf.Tensor | null,
  axis: number, epsilon: number,
): tf.Tensor {
  return tf.tidy(() => {
    const b = broadcastShape(x.shape, axis);
    let y = tf.div(tf.sub(x, tf.reshape(mean, b)), tf.sqrt(tf.add(tf.reshape(variance, b), epsilon)));
    if (gamma != null) y = tf.mul(y, tf.reshape(gamma, b));
    if (beta != null) y = tf.add(y, tf.reshape(beta, b));
    return y;
  });
}

/**
 * Central finite differences of a scalar function of a flat float64 vector.
 * Usage: `numericGradient(v => loss(v), values, 1e-3)`
 */
export function numericGradient(f: (v: Float64Array) => number, at: ArrayLike<number>, h = 1e-3): Float64Array {
  const v = Float64Array.from(at);
  const grad = new Float64Array(v.length);
  for (let i = 0; i < v.length; i++) {
    const orig = v[i];
    v[i] = orig + h;
    const plus = f(v);
    v[i] = orig - h;
    const minus = f(v);
    v[i] = orig;
    grad[i] = (plus - minus) / (2 * h);
  }
  return grad;
}

/**
 * Training-mode BN in float64 plain loops, for finite differences where float32 is too coarse.
 * x is flat in row-major order of `shape`; returns y flat.
 */
export function float64Training(
  x: Float64Array, shape: readonly number[], axis: number, gamma: Float64Array | null, beta: Float64Array | null,
  epsilon: number,
): Float64Array {
  const channels = shape[axis];
  const inner = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const channelOf = (i: number) => Math.floor(i / inner) % channels;
  const sum = new Float64Array(channels);
  const count = new Float64Array(channels);
  x.forEach((v, i) => { sum[channelOf(i)] += v; count[channelOf(i)] += 1; });
  const mean = sum.map((s, c) => s / count[c]);
  const sq = new Float64Array(channels);
  x.forEach((v, i) => { sq[channelOf(i)] += (v - mean[channelOf(i)]) ** 2; });
  const variance = sq.map((s, c) => s / count[c]);
  return x.map((v, i) => {
    const c = channelOf(i);
    const xhat = (v - mean[c]) / Math.sqrt(variance[c] + epsilon);
    return xhat * (gamma ? gamma[c] : 1) + (beta ? beta[c] : 0);
  });
}

/** max |a - b| / max(1, max |b|): an error relative to the values' scale. */
export function relativeMaxError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let diff = 0;
  let scale = 1;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  if (a.length !== b.length) throw new Error(`length mismatch: ${a.length} vs ${b.length}`);
  return diff / scale;
}
