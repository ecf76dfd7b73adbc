/**
 * Plain float64 references for RMSNormalization and UnitNormalization, written from their
 * definitions over JS number arrays (no tf, no view, no kernels):
 * - PyTorch's `F.rms_norm(x, normalized_shape, weight, eps)`: `x / sqrt(mean(x^2) + eps) * weight`,
 *   the mean over the normalized axes (PyTorch's are trailing; Keras's RMSNormalization also
 *   takes other contiguous axes, so the axes are given);
 * - Keras 3's UnitNormalization: `x / sqrt(max(sum(x^2), 1e-12))` over the axes.
 */
import * as tf from '@tensorflow/tfjs';
import { multiIndex } from './reference_norm';

/** For every value: which sample group it belongs to (the coordinates outside `axes`) and its channel (inside). */
function groupsOver(shape: number[], axes: number[]): { members: number[][]; channelOf: number[] } {
  const byKey = new Map<string, number[]>();
  const channelOf: number[] = [];
  const size = shape.reduce((a, b) => a * b, 1);
  for (let i = 0; i < size; i++) {
    const idx = multiIndex(i, shape);
    const key = idx.map((v, d) => (axes.includes(d) ? '*' : v)).join(',');
    byKey.set(key, [...(byKey.get(key) ?? []), i]);
    channelOf.push(axes.reduce((c, d) => c * shape[d] + idx[d], 0));
  }
  return { members: [...byKey.values()], channelOf };
}

/**
 * F.rms_norm in float64 over the (non-negative) `axes`, with `weight` per position of the axes.
 *
 * Usage: `rmsNorm64(x, [2, 3, 4], [2], weight, 1e-6)`
 */
export function rmsNorm64(x: number[], shape: number[], axes: number[], weight: number[], eps: number): number[] {
  const { members, channelOf } = groupsOver(shape, axes);
  const y = new Array<number>(x.length);
  for (const group of members) {
    const meanSquare = group.reduce((s, i) => s + x[i] * x[i], 0) / group.length;
    const inv = 1 / Math.sqrt(meanSquare + eps);
    for (const i of group) y[i] = x[i] * inv * weight[channelOf[i]];
  }
  return y;
}

/**
 * Keras's UnitNormalization in float64 over the (non-negative) `axes`.
 *
 * Usage: `unitNorm64(x, [2, 5], [1])`
 */
export function unitNorm64(x: number[], shape: number[], axes: number[]): number[] {
  const { members } = groupsOver(shape, axes);
  const y = new Array<number>(x.length);
  for (const group of members) {
    const sumSquares = group.reduce((s, i) => s + x[i] * x[i], 0);
    const inv = 1 / Math.sqrt(Math.max(sumSquares, 1e-12));
    for (const i of group) y[i] = x[i] * inv;
  }
  return y;
}

/**
 * The same two formulas by tf ops over the given axes, for tf's autodiff.
 *
 * Usage: `rmsNormOps(x, [2], scale, 1e-6)`
 */
export function rmsNormOps(x: tf.Tensor, axes: number[], weight: tf.Tensor, eps: number): tf.Tensor {
  const shape = x.shape.map((d, i) => (axes.includes(i) ? d : 1));
  return tf.mul(tf.div(x, tf.sqrt(tf.add(tf.mean(tf.square(x), axes, true), eps))), tf.reshape(weight, shape));
}

/** Usage: `unitNormOps(x, [1])` */
export function unitNormOps(x: tf.Tensor, axes: number[]): tf.Tensor {
  return tf.div(x, tf.sqrt(tf.maximum(tf.sum(tf.square(x), axes, true), 1e-12)));
}
