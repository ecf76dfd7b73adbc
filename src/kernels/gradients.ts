/**
 * Gradients of the two forward kernels, registered with `tf.registerGradient`. They run the
 * backward kernels through the engine, so on any backend with our kernels the backward is two
 * fused passes: one for the channel sums (dbeta, dgamma), one for dx.
 * The backward kernels themselves have no gradient: second-order derivatives raise a clear error
 * (the composite customGrad path does not give correct ones either).
 */
import * as tf from '@tensorflow/tfjs';
import type { GradConfig, NamedAttrMap } from '@tensorflow/tfjs';
import { BatchNormGradSums, BatchNormGradX, BatchNormInference, BatchNormTraining, GradXAttrs, GroupNormBackward, GroupNormForward } from './names';

function run(name: string, inputs: tf.NamedTensorMap, attrs: NamedAttrMap): tf.Tensor[] {
  const out = tf.engine().runKernel(name, inputs, attrs) as tf.Tensor | tf.Tensor[];
  return Array.isArray(out) ? out : [out];
}

/**
 * Training: saved = [x, gamma] (inputs) + [mean, variance] (outputs). Gradients arriving at the
 * returned statistics (dys[1], dys[2]; zeros unless the caller differentiates through them) are
 * folded into dx, so the kernel's gradient is exact for all three outputs.
 */
export const trainingGradConfig: GradConfig = {
  kernelName: BatchNormTraining,
  inputsToSave: ['x', 'gamma'],
  outputsToSave: [false, true, true],
  gradFunc: (dys, saved, attrs) => {
    const [dy, dmean, dvariance] = dys as tf.Tensor[];
    const [x, gamma, mean, variance] = saved;
    // Needed by every gradient (dx uses both sums), so computed once, up front.
    const [dbeta, dgamma] = run(BatchNormGradSums, { dy, x, mean, variance }, attrs);
    const xAttrs: GradXAttrs = { ...(attrs as GradXAttrs), training: true };
    return {
      x: () => run(BatchNormGradX, { dy, x, mean, variance, gamma, dbeta, dgamma, dmean, dvariance }, xAttrs)[0],
      gamma: () => tf.reshape(dgamma, gamma.shape),
      beta: () => tf.reshape(dbeta, gamma.shape),
    };
  },
};

/**
 * Inference: saved = [x, mean, variance, gamma]. Each gradient is computed lazily, since a frozen
 * layer (the usual reason to backprop through inference mode) needs dx only. Unlike the
 * composite path, which treats the statistics as constants, mean and variance get their exact
 * gradients here (the engine asks for them only if they depend on what is differentiated).
 */
export const inferenceGradConfig: GradConfig = {
  kernelName: BatchNormInference,
  inputsToSave: ['x', 'mean', 'variance', 'gamma'],
  gradFunc: (dy, saved, attrs) => {
    const [x, mean, variance, gamma] = saved;
    const dyT = dy as tf.Tensor;
    const epsilon = (attrs as GradXAttrs).epsilon;
    // Not cached across the thunks below: the engine runs each in its own tidy, which would
    // dispose a shared result before the next thunk reads it.
    const sums = () => run(BatchNormGradSums, { dy: dyT, x, mean, variance }, attrs);
    const invStd = () => tf.rsqrt(tf.add(tf.reshape(variance, [-1]), epsilon));
    return {
      x: () => run(BatchNormGradX, { dy: dyT, x, mean, variance, gamma }, { ...attrs, training: false })[0],
      gamma: () => tf.reshape(sums()[1], gamma.shape),
      beta: () => tf.reshape(sums()[0], gamma.shape),
      // d/dmean = -gamma * invStd * sum(dy);  d/dvariance = -gamma * invStd^3 * sum(dy * (x - mean)) / 2
      mean: () => tf.reshape(tf.neg(tf.mul(tf.mul(gamma, invStd()), sums()[0])), mean.shape),
      variance: () =>
        tf.reshape(tf.mul(-0.5, tf.mul(tf.mul(gamma, tf.square(invStd())), sums()[1])), variance.shape),
    };
  },
};

/** Gradients of the backward kernels: a plain error instead of "gradient function not found". */
/**
 * The per-sample normalizations: saved = [x, gamma] (inputs) + [mean, invStd] (outputs). One
 * backward kernel gives dx, dgamma and dbeta together, run up front (before the thunks) because
 * every thunk needs its sums. The statistics outputs are internal to the op (never returned to
 * callers), so gradients arriving at them are not folded in.
 */
export const groupNormGradConfig: GradConfig = {
  kernelName: GroupNormForward,
  inputsToSave: ['x', 'gamma'],
  outputsToSave: [false, true, true],
  gradFunc: (dys, saved, attrs) => {
    const dy = (dys as tf.Tensor[])[0];
    const [x, gamma, mean, invStd] = saved;
    const [dx, dgamma, dbeta] = run(GroupNormBackward, { dy, x, gamma, mean, invStd }, attrs);
    return { x: () => dx, gamma: () => tf.reshape(dgamma, gamma.shape), beta: () => tf.reshape(dbeta, gamma.shape) };
  },
};

export const secondOrderGradConfigs: GradConfig[] = [BatchNormGradSums, BatchNormGradX, GroupNormBackward].map((kernelName) => ({
  kernelName,
  gradFunc: () => {
    const layers = kernelName === GroupNormBackward ? 'Layer/Group/InstanceNormalization' : 'BatchNormalization';
    throw new Error(`tfjs-batchnorm: second-order gradients through ${layers} are not supported`);
  },
}));
