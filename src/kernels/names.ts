/**
 * Names, inputs and attributes of this package's kernels, declared once (as tfjs-core's
 * kernel_names.ts does for its own).
 *
 * One view for the whole family: `NormView` = `[P, K, G, J, R]` (see ../core/view.ts), with
 * statistics per (p, g) over k, j and r, and gamma / beta indexed by `c = k * cK + g * cG + j`.
 * BatchNormalization on `[outer, C, inner]` is the case `P = 1, K = outer, G = C, J = 1,
 * R = inner, cK = 0, cG = 1`; Layer/Group/Instance/RMSNormalization are per-sample views.
 *
 * Three kernels, each taking named inputs and returning its outputs in the order listed:
 *
 *   NormForward  {x, gamma, beta}                 -> [y, mean, variance]  statistics computed
 *   NormApply    {x, mean, variance, gamma, beta} -> y                    statistics given
 *   NormBackward {dy, x, gamma, mean, variance}   -> [dx, dgamma, dbeta]
 *
 * - x, y, dy, dx: float32, x's own shape (no reshape needed around a kernel).
 * - gamma, beta, dgamma, dbeta: float32 `[channels]`, always passed (ones / zeros when absent).
 * - mean, variance: float32 `[P * G]`, index `p * G + g`. With `center: false` (RMSNormalization)
 *   NormForward's mean is all zeros and its variance the mean of squares, so one formula serves
 *   both:  invStd = 1 / sqrt(variance + epsilon),  y = (x - mean) * invStd * gamma + beta.
 *   NormApply and NormBackward use the mean they are given, whatever `center` says.
 *   Variance (not invStd) is the output so that BatchNormalization's moving variance is exact.
 * - NormForward's mean and variance outputs are not differentiable (as PyTorch marks
 *   native_batch_norm's saved statistics): gradients arriving at them are ignored, on every
 *   backend and on the composite path alike.
 * - NormBackward's `statsDependOnX`: true for NormForward's gradient (dx includes the paths
 *   through mean and variance; with `center: false` only through the variance), false for
 *   NormApply's (statistics are constants for dx; their own gradients are separate).
 */
import type { NamedAttrMap, TensorInfo } from '@tensorflow/tfjs';
import type { NormView } from '../core/view';

// Prefixed so they cannot collide with tfjs' own kernel names.
export const NormForward = 'TfjsNorm_Forward';
export const NormApply = 'TfjsNorm_Apply';
export const NormBackward = 'TfjsNorm_Backward';
export const NORM_KERNEL_NAMES = [NormForward, NormApply, NormBackward] as const;

export type NormForwardInputs = Record<'x' | 'gamma' | 'beta', TensorInfo>;
export type NormApplyInputs = Record<'x' | 'mean' | 'variance' | 'gamma' | 'beta', TensorInfo>;
export type NormBackwardInputs = Record<'dy' | 'x' | 'gamma' | 'mean' | 'variance', TensorInfo>;

/** Attributes of all three kernels: the view's sizes (see NormView), epsilon, and whether the mean is subtracted. */
export interface NormAttrs extends NamedAttrMap, NormView {
  epsilon: number;
  /** false for RMSNormalization: mean is taken as 0. */
  center: boolean;
}

/** NormBackward's attributes. */
export interface NormBackwardAttrs extends NormAttrs {
  statsDependOnX: boolean;
}

/**
 * The attributes for a view. Always built here, as one object literal: the cpu and wasm loops
 * read the view from this object, and V8's optimized loops bail out when it arrives with another
 * hidden class (as an object built with a spread does after a garbage collection has dropped the
 * old class).
 *
 * Usage: `runKernel(NormForward, { x, gamma, beta }, normAttrs(layerView(x.shape, 1, 1), 1e-3, true))`
 */
export function normAttrs(v: NormView, epsilon: number, center: boolean): NormAttrs {
  return { P: v.P, K: v.K, G: v.G, J: v.J, R: v.R, cK: v.cK, cG: v.cG, channels: v.channels, epsilon, center };
}

/**
 * NormBackward's attributes from a forward kernel's (one literal, as normAttrs).
 *
 * Usage: `normBackwardAttrs(attrs as NormAttrs, true)`
 */
export function normBackwardAttrs(a: NormAttrs, statsDependOnX: boolean): NormBackwardAttrs {
  return {
    P: a.P, K: a.K, G: a.G, J: a.J, R: a.R, cK: a.cK, cG: a.cG, channels: a.channels, epsilon: a.epsilon,
    center: a.center, statsDependOnX,
  };
}
