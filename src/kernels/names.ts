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

// ---------------------------------------------------------------------------------------------
// The unified design (replacing the kernels above once every backend is moved over).
//
// One view for the whole family: `NormView` = `[P, K, G, J, R]` (see ../core/view.ts), with
// statistics per (p, g) over k, j and r, and gamma / beta indexed by `c = k * cK + g * cG + j`.
// BatchNormalization on `[outer, C, inner]` is the case `P = 1, K = outer, G = C, J = 1,
// R = inner, cK = 0, cG = 1`; Layer/Group/Instance/RMSNormalization are per-sample views.
//
// Three kernels, each taking named inputs and returning its outputs in the order listed:
//
//   NormForward  {x, gamma, beta}                 -> [y, mean, variance]  statistics computed
//   NormApply    {x, mean, variance, gamma, beta} -> y                    statistics given
//   NormBackward {dy, x, gamma, mean, variance}   -> [dx, dgamma, dbeta]
//
// - x, y, dy, dx: float32, x's own shape (no reshape needed around a kernel).
// - gamma, beta, dgamma, dbeta: float32 `[channels]`, always passed (ones / zeros when absent).
// - mean, variance: float32 `[P * G]`, index `p * G + g`. With `center: false` (RMSNormalization)
//   mean is all zeros and variance is the mean of squares, so one formula serves both:
//     invStd = 1 / sqrt(variance + epsilon),  y = (x - mean) * invStd * gamma + beta.
//   Variance (not invStd) is the output so that BatchNormalization's moving variance is exact.
// - NormBackward's `statsDependOnX`: true for NormForward's gradient (dx includes the paths
//   through mean and variance), false for NormApply's (statistics are constants for dx).
// ---------------------------------------------------------------------------------------------
export const NormForward = 'TfjsNorm_Forward';
export const NormApply = 'TfjsNorm_Apply';
export const NormBackward = 'TfjsNorm_Backward';
export const NORM_KERNEL_NAMES = [NormForward, NormApply, NormBackward] as const;

/** Attributes of all three kernels: the view, epsilon, and whether the mean is subtracted. */
export interface NormAttrs extends NamedAttrMap {
  P: number;
  K: number;
  G: number;
  J: number;
  R: number;
  cK: number;
  cG: number;
  channels: number;
  epsilon: number;
  /** false for RMSNormalization: mean is taken as 0. */
  center: boolean;
}

/** NormBackward's attributes. */
export interface NormBackwardAttrs extends NormAttrs {
  statsDependOnX: boolean;
}
