/**
 * A plain reference for the unified normalization kernels (src/kernels/names.ts), on the
 * `[P, K, G, J, R]` view: tf ops written from the definition (statistics per (p, g) over k, j and
 * r; gamma / beta indexed by `c = k * cK + g * cG + j`), gradients by tf autodiff.
 */
import * as tf from '@tensorflow/tfjs';

export interface ViewSpec {
  P: number; K: number; G: number; J: number; R: number;
  cK: number; cG: number; channels: number; epsilon: number; center: boolean;
}

/** gamma gathered to the full 5-D view by its index formula (no broadcasting shortcuts). */
function perPosition(v: tf.Tensor, s: ViewSpec): tf.Tensor {
  const index: number[] = [];
  for (let p = 0; p < s.P; p++) for (let k = 0; k < s.K; k++) for (let g = 0; g < s.G; g++)
    for (let j = 0; j < s.J; j++) for (let r = 0; r < s.R; r++) index.push(s.channels === 1 ? 0 : k * s.cK + g * s.cG + j);
  return tf.reshape(tf.gather(v, index), [s.P, s.K, s.G, s.J, s.R]);
}

/** The statistics `[P * G]`: mean (zeros when not centered) and the (biased) variance about it. */
export function referenceStats(x: tf.Tensor, s: ViewSpec): [tf.Tensor, tf.Tensor] {
  const x5 = tf.reshape(x, [s.P, s.K, s.G, s.J, s.R]);
  const mean = s.center ? tf.mean(x5, [1, 3, 4], true) : tf.zeros([s.P, 1, s.G, 1, 1]);
  const variance = tf.mean(tf.square(tf.sub(x5, mean)), [1, 3, 4]);
  return [tf.reshape(mean, [s.P * s.G]), tf.reshape(variance, [s.P * s.G])];
}

/** y = (x - mean) / sqrt(variance + epsilon) * gamma + beta with the given `[P * G]` statistics. */
export function referenceApply(x: tf.Tensor, mean: tf.Tensor, variance: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor,
  s: ViewSpec): tf.Tensor {
  const stat = (t: tf.Tensor) => tf.reshape(t, [s.P, 1, s.G, 1, 1]);
  const x5 = tf.reshape(x, [s.P, s.K, s.G, s.J, s.R]);
  const xhat = tf.div(tf.sub(x5, stat(mean)), tf.sqrt(tf.add(stat(variance), s.epsilon)));
  return tf.reshape(tf.add(tf.mul(xhat, perPosition(gamma, s)), perPosition(beta, s)), x.shape);
}

/** The forward with batch statistics: y, differentiable in x, gamma and beta. */
export function referenceForward(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, s: ViewSpec): tf.Tensor {
  const [mean, variance] = referenceStats(x, s);
  return referenceApply(x, mean, variance, gamma, beta, s);
}
