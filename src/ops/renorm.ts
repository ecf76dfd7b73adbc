/**
 * Batch renormalization (Ioffe, "Batch Renormalization: Towards Reducing Minibatch Dependence in
 * Batch-Normalized Models", 2017), with the semantics of Keras's `renorm` arguments.
 *
 * In training, the batch-normalized value is corrected toward what the renorm moving statistics
 * (`renorm_mean`, `renorm_stddev`) would give:
 *   sigma_B = sqrt(var_B + eps),   s = max(renorm_stddev, sqrt(eps))
 *   r = clip(sigma_B / s, rmin, rmax),   d = clip((mean_B - renorm_mean) / s, -dmax, dmax)
 *   y = gamma * (xhat * r + d) + beta
 * with r and d constants for the gradient. Inference is plain BatchNormalization with the moving
 * statistics.
 *
 * How the correction is applied: the batch-normalized output `y0 = gamma * xhat + beta` comes
 * from the existing training op (kernels or composite path, analytic gradient), and the
 * correction is an affine map per channel on top of it,
 *   y = r * y0 + (gamma * d + beta * (1 - r)),
 * which is the same value, and whose gradient is exact: dy0 = r * dy flows into the op's
 * analytic backward (so dx is that of BN with scale gamma * r), and autodiff on the per-channel
 * tensors adds d * sum(dy) to dgamma and (1 - r) * sum(dy) to dbeta. The statistics r and d are
 * computed from are the op's own, so they match the normalization exactly.
 */
import * as tf from '@tensorflow/tfjs';
import { BatchNormInputs, batchNormTraining, movingAverage, TrainingResult } from './batch_norm';

/** Bounds for the correction, as Keras's `renorm_clipping` dict holds them; missing ones do not clip. */
export interface RenormClipping {
  /** Upper bound of r (Keras: infinity when missing). */
  rmax?: number;
  /** Lower bound of r (Keras: 0 when missing, which never clips since r > 0). */
  rmin?: number;
  /** Bound of |d| (Keras: infinity when missing). */
  dmax?: number;
}

/** The renorm moving statistics the correction is measured against, shape [C] each. */
export interface RenormStatistics {
  renormMean: tf.Tensor;
  renormStddev: tf.Tensor;
}

/** The per-channel correction, shape [C] each; constants for the gradient. */
export interface RenormCorrection {
  r: tf.Tensor1D;
  d: tf.Tensor1D;
}

/**
 * A tensor with the values of `t` whose gradient is zero (TensorFlow's `stop_gradient`): tfjs
 * has no such op, so this is an identity with a custom gradient. Meant for small tensors (the
 * per-channel r and d); the zeros it sends back cost as much as t.
 *
 * Usage: `const r = stopGradient(tf.div(batchStd, renormStd));`
 */
export function stopGradient<T extends tf.Tensor>(t: T): T {
  const identity = tf.customGrad((x: tf.Tensor | tf.GradSaveFunc) =>
    ({ value: tf.clone(x as tf.Tensor), gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy) }));
  return identity(t) as T;
}

/**
 * r and d from the batch statistics and the renorm moving statistics (all shape [C]), clipped
 * as Keras clips them, with the gradient stopped.
 *
 * Usage: `const { r, d } = renormCorrection(mean, variance, { renormMean, renormStddev }, 1e-3, { rmax: 3 });`
 */
export function renormCorrection(mean: tf.Tensor, variance: tf.Tensor, stats: RenormStatistics, epsilon: number,
  clipping: RenormClipping = {}): RenormCorrection {
  return tf.tidy(() => {
    const sigma = tf.sqrt(tf.add(variance, epsilon));
    // Keras floors the divisor at sqrt(eps), so an all-zero renorm_stddev cannot divide by zero.
    const s = tf.maximum(stats.renormStddev, Math.sqrt(epsilon));
    let r = tf.div(sigma, s);
    let d = tf.div(tf.sub(mean, stats.renormMean), s);
    if (clipping.rmin != null) r = tf.maximum(r, clipping.rmin);
    if (clipping.rmax != null) r = tf.minimum(r, clipping.rmax);
    if (clipping.dmax != null) d = tf.clipByValue(d, -clipping.dmax, clipping.dmax);
    return {
      r: stopGradient(tf.reshape(r, [-1])) as tf.Tensor1D,
      d: stopGradient(tf.reshape(d, [-1])) as tf.Tensor1D,
    };
  });
}

/**
 * Applies the correction to a batch-normalized output `y0 = gamma * xhat + beta` (feature axis
 * `axis`): returns `gamma * (xhat * r + d) + beta`, differentiable in y0, gamma and beta (see
 * the module comment). gamma / beta null mean `scale: false` / `center: false`.
 *
 * Usage: `const y = applyRenorm(y0, gamma, beta, r, d, 3);`
 */
export function applyRenorm(y0: tf.Tensor, gamma: tf.Tensor | null, beta: tf.Tensor | null,
  correction: RenormCorrection, axis: number): tf.Tensor {
  return tf.tidy(() => {
    const { r, d } = correction;
    let shift: tf.Tensor = gamma != null ? tf.mul(gamma, d) : d;
    if (beta != null) shift = tf.add(shift, tf.mul(beta, tf.sub(1, r)));
    const shape = y0.shape.map((size, i) => (i === axis ? size : 1));
    return tf.add(tf.mul(y0, tf.reshape(r, shape)), tf.reshape(shift, shape));
  });
}

/** New values of the five statistics a renorm layer keeps, shape [C] each. */
export interface RenormUpdate {
  renormMean: tf.Tensor;
  renormStddev: tf.Tensor;
  movingMean: tf.Tensor;
  movingStddev: tf.Tensor;
  movingVariance: tf.Tensor;
}

/**
 * The updates Keras makes after a renorm training step, from the batch mean and variance:
 * `renorm_mean` and `renorm_stddev` move toward the batch mean and `sqrt(var + eps)` by
 * `1 - renormMomentum`; `moving_mean` and `moving_stddev` toward the same values by
 * `1 - momentum`; `moving_variance` is then `max(moving_stddev^2 - eps, 0)`, so inference keeps
 * using moving_mean / moving_variance as plain BatchNormalization does. The caller owns the
 * results.
 *
 * Usage: `const next = renormUpdate(current, mean, variance, { momentum: 0.99, renormMomentum: 0.99, epsilon: 1e-3 });`
 */
export function renormUpdate(current: Omit<RenormUpdate, 'movingVariance'>, mean: tf.Tensor, variance: tf.Tensor,
  options: { momentum: number; renormMomentum: number; epsilon: number }): RenormUpdate {
  return tf.tidy(() => {
    const sigma = tf.sqrt(tf.add(variance, options.epsilon));
    const toward = movingAverage;
    const movingStddev = toward(current.movingStddev, sigma, options.momentum);
    return {
      renormMean: toward(current.renormMean, mean, options.renormMomentum),
      renormStddev: toward(current.renormStddev, sigma, options.renormMomentum),
      movingMean: toward(current.movingMean, mean, options.momentum),
      movingStddev,
      movingVariance: tf.relu(tf.sub(tf.square(movingStddev), options.epsilon)),
    };
  });
}

/** A training-mode normalization: the plain op, the masked op or the ghost-batch op. */
export type TrainingNormalization = (args: BatchNormInputs) => TrainingResult;

/** The result of a renorm training step: output, batch statistics, and the correction used. */
export interface RenormTrainingResult extends TrainingResult, RenormCorrection {}

/**
 * One training step of batch renormalization: normalizes with `normalize` (by default plain
 * batchNormTraining; pass the masked or ghost-batch op to combine them), then applies the
 * correction measured against `stats` (see the module comment). Returns the output, the batch
 * statistics `normalize` returned (for ghost batches, their averages; the correction uses them
 * too, as tf.keras does), and r and d. The caller owns everything returned.
 *
 * Usage: `const { y, mean, variance } = batchRenormTraining(args, { renormMean, renormStddev }, { rmax: 3, dmax: 5 });`
 */
export function batchRenormTraining(args: BatchNormInputs, stats: RenormStatistics, clipping: RenormClipping = {},
  normalize: TrainingNormalization = (a) => batchNormTraining(a)): RenormTrainingResult {
  const base = normalize(args);
  const correction = renormCorrection(base.mean, base.variance, stats, args.epsilon, clipping);
  const y = applyRenorm(base.y, args.gamma, args.beta, correction, args.axis);
  base.y.dispose();
  return { y, mean: base.mean, variance: base.variance, ...correction };
}
