/**
 * The fast path as ops: one engine call per forward, gradients through the registered
 * gradients (gradients.ts). Called by the dispatcher in ../ops/batch_norm.ts (ops call kernels, never the reverse) when the active
 * backend has our kernels.
 */
import * as tf from '@tensorflow/tfjs';
import type { BatchNormInputs, GroupNormInputs, TrainingResult } from '../core/types';
import { featureView } from '../core/view';
import { BatchNormInference, BatchNormTraining, groupAttrs, GroupNormForward, kernelAttrs } from './names';

/** gamma and beta, or ones / zeros standing in for absent ones (disposed by the caller). */
function affineParams(args: BatchNormInputs, channels: number) {
  const owned: tf.Tensor[] = [];
  const orFill = (t: tf.Tensor | null, fill: () => tf.Tensor) => {
    if (t != null) return t;
    const made = fill();
    owned.push(made);
    return made;
  };
  const gamma = orFill(args.gamma, () => tf.ones([channels]));
  const beta = orFill(args.beta, () => tf.zeros([channels]));
  return { gamma, beta, dispose: () => owned.forEach((t) => t.dispose()) };
}

/**
 * Training-mode BN through the BatchNormTraining kernel (see batchNormTraining for semantics).
 *
 * Usage: `const { y, mean, variance } = trainingKernel({ x, gamma, beta, axis: 1, epsilon: 1e-3 });`
 */
export function trainingKernel(args: BatchNormInputs): TrainingResult {
  const view = featureView(args.x.shape, args.axis);
  const params = affineParams(args, view.channels);
  // The tape keeps its own clones of saved inputs, so the fillers can go right away.
  const [y, mean, variance] = tf.engine().runKernel(BatchNormTraining,
    { x: args.x, gamma: params.gamma, beta: params.beta }, kernelAttrs(view, args.epsilon)) as tf.Tensor[];
  params.dispose();
  // Kept like the composite path's statistics: the caller owns them, even across a tidy.
  return { y, mean: tf.keep(mean) as tf.Tensor1D, variance: tf.keep(variance) as tf.Tensor1D };
}

/**
 * Inference-mode BN through the BatchNormInference kernel (see batchNormInference).
 *
 * Usage: `const y = inferenceKernel({ x, gamma, beta, axis: 1, epsilon: 1e-3 }, movingMean, movingVariance);`
 */
export function inferenceKernel(args: BatchNormInputs, mean: tf.Tensor, variance: tf.Tensor): tf.Tensor {
  const view = featureView(args.x.shape, args.axis);
  const params = affineParams(args, view.channels);
  const y = tf.engine().runKernel(BatchNormInference,
    { x: args.x, mean, variance, gamma: params.gamma, beta: params.beta }, kernelAttrs(view, args.epsilon)) as tf.Tensor;
  params.dispose();
  return y;
}

/**
 * LayerNormalization / GroupNormalization / InstanceNormalization through the GroupNormForward
 * kernel (see ../ops/group_norm.ts); gamma and beta are already filled in by the op.
 *
 * Usage: `const y = groupNormKernel({ x, gamma, beta, view, epsilon: 1e-3 });`
 */
export function groupNormKernel(args: GroupNormInputs & { gamma: tf.Tensor; beta: tf.Tensor }): tf.Tensor {
  const [y, mean, invStd] = tf.engine().runKernel(GroupNormForward,
    { x: args.x, gamma: args.gamma, beta: args.beta }, groupAttrs(args.view, args.epsilon)) as tf.Tensor[];
  // Saved for the gradient by the engine (which keeps its own references); not needed here.
  mean.dispose();
  invStd.dispose();
  return y;
}
