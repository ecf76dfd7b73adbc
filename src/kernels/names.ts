/**
 * Names and attributes of this package's BatchNormalization kernels. Every kernel takes its
 * tensors in their own shape and the `[outer, C, inner]` sizes as attributes, so no reshape is
 * needed around them.
 *
 *   BatchNormTraining  {x, gamma, beta}            -> [y, mean, variance]
 *   BatchNormInference {x, mean, variance, gamma, beta} -> y
 *   BatchNormGradSums  {dy, x, mean, variance}     -> [dbeta, dgamma]
 *   BatchNormGradX     {dy, x, mean, variance, gamma, (training:) dbeta, dgamma, dmean, dvariance} -> dx
 *
 * gamma and beta are always passed (ones / zeros when the layer has none), which keeps the
 * engine's saved-tensor lists fixed.
 */
import type { NamedAttrMap } from '@tensorflow/tfjs';
import type { FeatureView, GroupView } from '../core/view';

// Prefixed so they cannot collide with tfjs' own kernel names.
export const BatchNormTraining = 'TfjsBatchNorm_Training';
export const BatchNormInference = 'TfjsBatchNorm_Inference';
export const BatchNormGradSums = 'TfjsBatchNorm_GradSums';
export const BatchNormGradX = 'TfjsBatchNorm_GradX';

export const KERNEL_NAMES = [BatchNormTraining, BatchNormInference, BatchNormGradSums, BatchNormGradX] as const;

/** Attributes shared by all four kernels. */
export interface BatchNormAttrs extends NamedAttrMap {
  outer: number;
  channels: number;
  inner: number;
  epsilon: number;
}

/** GradX also needs to know whether the statistics depend on x. */
export interface GradXAttrs extends BatchNormAttrs {
  training: boolean;
}

/**
 * The attributes for a view and epsilon.
 *
 * Usage: `runKernel(BatchNormTraining, inputs, kernelAttrs(featureView(x.shape, axis), 1e-3))`
 */
export function kernelAttrs(view: FeatureView, epsilon: number): BatchNormAttrs {
  return { outer: view.outer, channels: view.channels, inner: view.inner, epsilon };
}

/**
 * The per-sample normalizations' kernels (LayerNormalization, GroupNormalization,
 * InstanceNormalization) on the `[P, K, G, J, R]` view (../core/view.ts):
 *
 *   GroupNormForward  {x, gamma, beta}                 -> [y, mean, invStd]   (statistics [P * G])
 *   GroupNormBackward {dy, x, gamma, mean, invStd}     -> [dx, dgamma, dbeta]
 *
 * gamma and beta are always passed (ones / zeros when the layer has none, filled by the op).
 */
export const GroupNormForward = 'TfjsNorm_GroupForward';
export const GroupNormBackward = 'TfjsNorm_GroupBackward';
export const GROUP_KERNEL_NAMES = [GroupNormForward, GroupNormBackward] as const;

/** The view's sizes and epsilon. */
export interface GroupNormAttrs extends NamedAttrMap, GroupView {
  epsilon: number;
}

/**
 * The attributes for a view and epsilon.
 *
 * Usage: `runKernel(GroupNormForward, inputs, groupAttrs(layerView(x.shape, 1, 1), 1e-3))`
 */
export function groupAttrs(view: GroupView, epsilon: number): GroupNormAttrs {
  return { ...view, epsilon };
}
