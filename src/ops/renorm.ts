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
 * How: r and d are computed first, from the batch statistics of a first run of the op (output
 * discarded) on a second handle to x's data that autodiff does not connect to x, so they are
 * constants (TensorFlow's stop_gradient). Then, since gamma * (xhat * r + d) + beta = xhat * (gamma * r) + (gamma * d +
 * beta), the existing training op (fused kernels or composite path, analytic gradient) runs with
 * scale gamma * r and offset gamma * d + beta: dx is the analytic one of BN with that scale, and
 * autodiff on the per-channel products gives dgamma = r * sum(dy * xhat) + d * sum(dy) and dbeta =
 * sum(dy). The cost over plain BN is that first forward run; everything full-size stays in the op.
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
 * r and d from the batch statistics and the renorm moving statistics (all shape [C]), clipped
 * as Keras clips them.
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
    return { r: tf.reshape(r, [-1]) as tf.Tensor1D, d: tf.reshape(d, [-1]) as tf.Tensor1D };
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
 * A tensor with t's data that autodiff does not connect to t (no copy). Ops on it record no path
 * back to t, so nothing computed from it gets or gives a gradient.
 */
function detached<T extends tf.Tensor>(t: T): T {
  const backend = tf.backend();
  backend.incRef(t.dataId); // the new tensor holds its own reference, released on dispose
  return tf.engine().makeTensorFromTensorInfo({ dataId: t.dataId, shape: t.shape, dtype: t.dtype }, backend) as T;
}

/**
 * One training step of batch renormalization: measures the batch statistics with `normalize`
 * (by default plain batchNormTraining; pass the masked or ghost-batch op to combine them), turns
 * them into r and d against `stats`, then normalizes with scale gamma * r and offset gamma * d +
 * beta (see the module comment). Returns the output, the batch statistics (for ghost batches,
 * their averages; r and d use them too, as tf.keras does), and r and d. The caller owns
 * everything returned.
 *
 * Usage: `const { y, mean, variance } = batchRenormTraining(args, { renormMean, renormStddev }, { rmax: 3, dmax: 5 });`
 */
export function batchRenormTraining(args: BatchNormInputs, stats: RenormStatistics, clipping: RenormClipping = {},
  normalize: TrainingNormalization = (a) => batchNormTraining(a)): RenormTrainingResult {
  const correction = tf.tidy(() => {
    const probe = normalize({ ...args, x: detached(args.x), gamma: null, beta: null });
    const { r, d } = renormCorrection(probe.mean, probe.variance, stats, args.epsilon, clipping);
    tf.dispose([probe.mean, probe.variance]);
    return { r, d };
  });
  const { r, d } = correction;
  const { gamma, beta } = tf.tidy(() => {
    const scale = args.gamma != null ? tf.mul(args.gamma, r) : tf.clone(r);
    const shift = args.gamma != null ? tf.mul(args.gamma, d) : d;
    return { gamma: scale, beta: args.beta != null ? tf.add(shift, args.beta) : tf.clone(shift) };
  });
  const result = normalize({ ...args, gamma, beta });
  tf.dispose([gamma, beta]);
  return { ...result, r, d };
}
