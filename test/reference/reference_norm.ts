/**
 * Plain references for LayerNormalization, GroupNormalization and InstanceNormalization, written
 * from the papers' definitions without the package's view or kernels:
 * - `referenceNorm`: composite tf ops, gradients by tf autodiff;
 * - `float64Loss`: the same in float64 JS numbers over index lists, for finite differences.
 */
import * as tf from '@tensorflow/tfjs';

/** What is normalized: LayerNormalization's axes, or groups of channels on one axis. */
export type NormSpec =
  | { kind: 'layer'; axes: number[] }
  | { kind: 'group'; axis: number; groups: number };

const EPS = 1e-3;

/** y = gamma * (x - mean) / sqrt(var + eps) + beta, by tf ops (autodiff-able). */
export function referenceNorm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, spec: NormSpec): tf.Tensor {
  const rank = x.rank;
  if (spec.kind === 'layer') {
    const axes = spec.axes.map((a) => (a < 0 ? a + rank : a)).sort((a, b) => a - b);
    const { mean, variance } = tf.moments(x, axes, true);
    const bshape = x.shape.map((d, i) => (axes.includes(i) ? d : 1));
    const xhat = tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, EPS)));
    return tf.add(tf.mul(xhat, tf.reshape(gamma, bshape)), tf.reshape(beta, bshape));
  }
  const axis = spec.axis < 0 ? spec.axis + rank : spec.axis;
  const C = x.shape[axis];
  const split = [...x.shape.slice(0, axis), spec.groups, C / spec.groups, ...x.shape.slice(axis + 1)];
  const xs = tf.reshape(x, split);
  const reduce = split.map((_, i) => i).filter((i) => i !== 0 && i !== axis);
  const { mean, variance } = tf.moments(xs, reduce, true);
  const xhat = tf.reshape(tf.div(tf.sub(xs, mean), tf.sqrt(tf.add(variance, EPS))), x.shape);
  const bshape = x.shape.map((d, i) => (i === axis ? d : 1));
  return tf.add(tf.mul(xhat, tf.reshape(gamma, bshape)), tf.reshape(beta, bshape));
}

/** The coordinates of flat index `flat` in a row-major tensor of `shape`. */
export function multiIndex(flat: number, shape: number[]): number[] {
  const idx = new Array(shape.length);
  for (let i = shape.length - 1; i >= 0; i--) {
    idx[i] = flat % shape[i];
    flat = Math.floor(flat / shape[i]);
  }
  return idx;
}

/** sum(y * w) in float64, with y as in referenceNorm. */
export function float64Loss(x: number[], gamma: number[], beta: number[], w: number[], shape: number[],
  spec: NormSpec): number {
  const rank = shape.length;
  const keyOf: string[] = [];
  const channelOf: number[] = [];
  for (let i = 0; i < x.length; i++) {
    const idx = multiIndex(i, shape);
    if (spec.kind === 'layer') {
      const axes = spec.axes.map((a) => (a < 0 ? a + rank : a)).sort((a, b) => a - b);
      keyOf.push(idx.map((v, d) => (axes.includes(d) ? '*' : v)).join(','));
      channelOf.push(axes.reduce((c, d) => c * shape[d] + idx[d], 0));
    } else {
      const axis = spec.axis < 0 ? spec.axis + rank : spec.axis;
      keyOf.push(`${idx[0]},${Math.floor(idx[axis] / (shape[axis] / spec.groups))}`);
      channelOf.push(idx[axis]);
    }
  }
  const groups = new Map<string, number[]>();
  keyOf.forEach((k, i) => groups.set(k, [...(groups.get(k) ?? []), i]));
  let loss = 0;
  for (const members of groups.values()) {
    const mean = members.reduce((s, i) => s + x[i], 0) / members.length;
    const variance = members.reduce((s, i) => s + (x[i] - mean) ** 2, 0) / members.length;
    for (const i of members) {
      const c = channelOf[i];
      loss += w[i] * (gamma[c] * (x[i] - mean) / Math.sqrt(variance + EPS) + beta[c]);
    }
  }
  return loss;
}

/** Central finite differences of `f` at every entry of `v` (a copy is perturbed), step h. */
export function finiteDifferences(f: (v: number[]) => number, v: number[], h = 1e-5): number[] {
  return v.map((_, i) => {
    const plus = [...v];
    const minus = [...v];
    plus[i] += h;
    minus[i] -= h;
    return (f(plus) - f(minus)) / (2 * h);
  });
}
