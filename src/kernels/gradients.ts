/**
 * The gradients of NormForward and NormApply, registered with `tf.registerGradient`: one
 * definition for every backend that has the kernels. Both run NormBackward once (dx, dgamma and
 * dbeta come out of the same two passes over the data, so computing one of them costs nearly
 * what computing all three does); NormApply's gradients for its mean and variance inputs are
 * separate thunks, run only when the engine asks for them.
 * NormBackward itself has no gradient: second-order derivatives raise a clear error.
 */
import * as tf from '@tensorflow/tfjs';
import type { GradConfig } from '@tensorflow/tfjs';
import { affineViewShape, viewShape } from '../core/view';
import { NormApply, NormAttrs, NormBackward, normBackwardAttrs, NormForward } from './names';

/** dx, dgamma, dbeta from one NormBackward run, as the engine's per-input thunks. */
function backward(dy: tf.Tensor, saved: { x: tf.Tensor; gamma: tf.Tensor; mean: tf.Tensor; variance: tf.Tensor },
  attrs: NormAttrs, statsDependOnX: boolean) {
  const { x, gamma, mean, variance } = saved;
  const [dx, dgamma, dbeta] = tf.engine().runKernel(NormBackward, { dy, x, gamma, mean, variance },
    normBackwardAttrs(attrs, statsDependOnX)) as tf.Tensor[];
  return { x: () => dx, gamma: () => tf.reshape(dgamma, gamma.shape), beta: () => tf.reshape(dbeta, gamma.shape) };
}

/**
 * The gradients of `y = (x - mean) * invStd * gamma + beta` for given statistics, per (p, g)
 * group, as tf ops on the `[P, K, G, J, R]` view (invStd = 1 / sqrt(variance + epsilon)):
 *   d/dmean = -invStd * sum(gamma * dy),   d/dvariance = -invStd^3 / 2 * sum(gamma * dy * (x - mean))
 * Used for NormApply on every path (kernels or composite): its statistics are inputs when they are
 * computed by differentiable ops (masked BatchNormalization's weighted moments, for example).
 *
 * Usage: `const { mean, variance } = statisticGradients(dy, { x, gamma, mean, variance }, attrs);`
 */
export function statisticGradients(dy: tf.Tensor, saved: { x: tf.Tensor; gamma: tf.Tensor; mean: tf.Tensor; variance: tf.Tensor },
  attrs: NormAttrs): { mean: () => tf.Tensor; variance: () => tf.Tensor } {
  const { x, gamma, mean, variance } = saved;
  const stat5 = [attrs.P, 1, attrs.G, 1, 1];
  const axes = [1, 3, 4];
  const gdy = () => tf.mul(tf.reshape(dy, viewShape(attrs)), tf.reshape(gamma, affineViewShape(attrs)));
  const invStd = () => tf.rsqrt(tf.add(tf.reshape(variance, stat5), attrs.epsilon));
  return {
    mean: () => tf.reshape(tf.neg(tf.mul(invStd(), tf.sum(gdy(), axes, true))), mean.shape),
    variance: () => {
      const xc = tf.sub(tf.reshape(x, viewShape(attrs)), tf.reshape(mean, stat5));
      return tf.reshape(tf.mul(tf.mul(-0.5, tf.pow(invStd(), 3)), tf.sum(tf.mul(gdy(), xc), axes, true)), variance.shape);
    },
  };
}

/**
 * NormForward: saved = [x, gamma] (inputs) + [mean, variance] (outputs). The statistics outputs
 * are not differentiable (see names.ts): only dys[0] is used.
 */
export const normForwardGradConfig: GradConfig = {
  kernelName: NormForward,
  inputsToSave: ['x', 'gamma'],
  outputsToSave: [false, true, true],
  gradFunc: (dys, saved, attrs) => {
    const [x, gamma, mean, variance] = saved;
    return backward((dys as tf.Tensor[])[0], { x, gamma, mean, variance }, attrs as NormAttrs, true);
  },
};

/** NormApply: saved = [x, mean, variance, gamma]; the statistics are constants for dx. */
export const normApplyGradConfig: GradConfig = {
  kernelName: NormApply,
  inputsToSave: ['x', 'mean', 'variance', 'gamma'],
  gradFunc: (dy, saved, attrs) => {
    const [x, mean, variance, gamma] = saved;
    const inputs = { x, gamma, mean, variance };
    return { ...backward(dy as tf.Tensor, inputs, attrs as NormAttrs, false),
      ...statisticGradients(dy as tf.Tensor, inputs, attrs as NormAttrs) };
  },
};

/** NormBackward's gradient: a plain error instead of "gradient function not found". */
export const normBackwardGradConfig: GradConfig = {
  kernelName: NormBackward,
  gradFunc: () => {
    throw new Error('tfjs-batchnorm: second-order gradients through the normalization layers are not supported');
  },
};
