/**
 * BatchNormalization's ops: the training-mode forward (batch statistics) and the inference-mode
 * forward (moving statistics), both on the normalization kernels through the dispatcher
 * (normalize.ts) with BatchNormalization's view, one statistic per channel (../core/view.ts).
 * The layer, the converters and the examples all call these two functions.
 *
 * A mask (positions left out of the statistics) is expressed with weights: the weighted mean and
 * variance per channel are computed by tf ops, and NormApply normalizes with them. NormApply's
 * gradient includes those for its mean and variance inputs, so autodiff through the weighted
 * moments completes the exact gradient of the masked layer, and the full-size work stays in the
 * kernels.
 */
import * as tf from '@tensorflow/tfjs';
import type { BatchNormInputs, BatchStatistics, TrainingResult } from '../core/types';
import { batchView } from '../core/view';
import { normAttrs } from '../kernels/names';
import { normApply, normForward } from './normalize';

export type { BatchNormInputs, BatchStatistics, TrainingResult };

/**
 * Weighted mean and biased variance per channel (`[C]` each). `mask`: 0/1 weights of x's shape
 * (one per position, as the layer passes Keras's broadcast mask), or of x's shape without the
 * feature axis. A channel without any weight gets zeros rather than NaN.
 */
function maskedMoments(x: tf.Tensor, mask: tf.Tensor, axis: number): { mean: tf.Tensor; variance: tf.Tensor } {
  const weights = tf.cast(mask.rank === x.rank ? mask : tf.expandDims(mask, axis), 'float32');
  const axes = [...Array(x.rank).keys()].filter((i) => i !== axis);
  const xf = tf.cast(x, 'float32');
  const n = tf.maximum(tf.sum(tf.mul(weights, tf.onesLike(xf)), axes, true), 1);
  const mean = tf.div(tf.sum(tf.mul(xf, weights), axes, true), n);
  const variance = tf.div(tf.sum(tf.mul(weights, tf.square(tf.sub(xf, mean))), axes, true), n);
  return { mean: tf.reshape(mean, [-1]), variance: tf.reshape(variance, [-1]) };
}

/**
 * Training-mode BatchNormalization: normalizes with the batch mean and biased variance over
 * every axis but `axis` (masked positions left out of the statistics), with the analytic
 * gradient for x, gamma and beta. The caller owns the returned statistics (constants for the
 * gradient without a mask, as the kernels' statistics outputs are).
 *
 * Usage: `const { y, mean, variance } = batchNormTraining({ x, gamma, beta, axis: 3, epsilon: 1e-3 });`
 */
export function batchNormTraining(args: BatchNormInputs, mask: tf.Tensor | null = null): TrainingResult {
  const attrs = normAttrs(batchView(args.x.shape, args.axis), args.epsilon, true);
  let stats: tf.Tensor[] = [];
  const y = tf.tidy(() => {
    if (mask == null) {
      const [out, mean, variance] = normForward(args, attrs);
      stats = [tf.keep(mean), tf.keep(variance)];
      return out;
    }
    const { mean, variance } = maskedMoments(args.x, mask, args.axis);
    stats = [tf.keep(mean), tf.keep(variance)];
    return normApply({ ...args, mean, variance }, attrs);
  });
  return { y, mean: stats[0] as tf.Tensor1D, variance: stats[1] as tf.Tensor1D };
}

/**
 * Inference-mode BatchNormalization with given (moving) statistics:
 * `y = gamma * (x - mean) / sqrt(variance + epsilon) + beta`, with the analytic gradient for x,
 * gamma and beta, and for mean and variance when they are differentiated too.
 *
 * Usage: `const y = batchNormInference({ x, gamma, beta, axis: 1, epsilon: 1e-3 }, movingMean, movingVariance);`
 */
export function batchNormInference(args: BatchNormInputs, mean: tf.Tensor, variance: tf.Tensor): tf.Tensor {
  return tf.tidy(() => normApply({ ...args, mean, variance }, normAttrs(batchView(args.x.shape, args.axis), args.epsilon, true)));
}

/**
 * The moving-average update Keras uses: `moving * momentum + batch * (1 - momentum)`.
 *
 * Usage: `movingMean.write(movingAverage(movingMean.read(), mean, 0.99));`
 */
export function movingAverage(moving: tf.Tensor, batch: tf.Tensor, momentum: number): tf.Tensor {
  return tf.tidy(() => tf.add(tf.mul(moving, momentum), tf.mul(batch, 1 - momentum)));
}
