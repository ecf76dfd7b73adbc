/**
 * Every BatchNormalization, whatever its rank and axis, is the same computation on a 3-D view
 * `[outer, channels, inner]` of the input: statistics reduce over axes 0 and 2. NHWC is
 * `[N*H*W, C, 1]`, NCHW is `[N, C, H*W]`, dense `[N, C, 1]`. Reshapes are free, so the math
 * below never needs to know the original layout.
 */
export interface FeatureView {
  /** Product of the dimensions before the feature axis. */
  outer: number;
  /** Size of the feature axis. */
  channels: number;
  /** Product of the dimensions after the feature axis. */
  inner: number;
  /** `[outer, channels, inner]`. */
  shape: [number, number, number];
  /** Number of values each statistic is computed over: `outer * inner`. */
  count: number;
}

/**
 * The `[outer, channels, inner]` view of `shape` around the (already resolved) feature `axis`.
 *
 * Usage: `featureView([8, 3, 4, 4], 1).shape // [8, 3, 16]`
 */
export function featureView(shape: readonly number[], axis: number): FeatureView {
  const product = (dims: readonly number[]) => dims.reduce((a, b) => a * b, 1);
  const outer = product(shape.slice(0, axis));
  const channels = shape[axis];
  const inner = product(shape.slice(axis + 1));
  return { outer, channels, inner, shape: [outer, channels, inner], count: outer * inner };
}

/**
 * Every per-sample normalization (LayerNormalization, GroupNormalization, InstanceNormalization)
 * is one computation on a 5-D view `[P, K, G, J, R]` of the input: statistics per (p, g), over
 * k, j and r; gamma and beta indexed by `c = k * cK + g * cG + j`. Reshapes are free, so the
 * math never needs to know the original layout.
 *
 * - GroupNormalization on axis a of `[N, S1, C, S2]` with `groups` groups: `[N, S1, groups,
 *   C / groups, S2]`, `cK = 0`, `cG = C / groups` (channels in contiguous blocks, as Keras does);
 *   InstanceNormalization is the case `groups = C`.
 * - LayerNormalization over the contiguous axes lo..hi, L = product of the dims before, D of the
 *   normalized ones, T of those after: `[L, 1, 1, D, 1]` (`c = j`) when T = 1, else
 *   `[L, D, T, 1, 1]` (`c = k`).
 */
export interface GroupView {
  P: number;
  K: number;
  G: number;
  J: number;
  R: number;
  /** gamma's stride along k and along g (see above). */
  cK: number;
  cG: number;
  /** Number of gamma / beta values. */
  channels: number;
}

/**
 * Values each (p, g) statistic is computed over: `K * J * R`.
 *
 * Usage: `groupCount(view)`
 */
export function groupCount(v: GroupView): number {
  return v.K * v.J * v.R;
}

const product = (dims: readonly number[]) => dims.reduce((a, b) => a * b, 1);

/**
 * The view for groups of channels on the (resolved) `axis`: `groups` must divide the axis size.
 * `channels` is the gamma size: the axis size, or 1 when one gamma serves every channel.
 *
 * Usage: `groupView([8, 4, 4, 32], 3, 8)` for GroupNormalization(groups 8), channels last
 */
export function groupView(shape: readonly number[], axis: number, groups: number, sharedAffine = false): GroupView {
  const [P, K, J, R] = [shape[0], product(shape.slice(1, axis)), shape[axis] / groups, product(shape.slice(axis + 1))];
  if (sharedAffine) return { P, K, G: groups, J: 1, R: J * R, cK: 0, cG: 0, channels: 1 };
  return { P, K, G: groups, J, R, cK: 0, cG: J, channels: shape[axis] };
}

/**
 * The shape gamma and beta take to broadcast against the `[P, K, G, J, R]` view.
 *
 * Usage: `tf.reshape(gamma, affineViewShape(view))`
 */
export function affineViewShape(v: GroupView): number[] {
  return [1, v.cK > 0 ? v.K : 1, v.cG > 0 ? v.G : 1, v.channels > 1 && v.cK === 0 ? v.J : 1, 1];
}

/**
 * The view for normalizing over the contiguous, sorted axes `lo..hi` (LayerNormalization).
 *
 * Usage: `layerView([32, 128, 256], 2, 2) // P 4096, J 256`
 */
export function layerView(shape: readonly number[], lo: number, hi: number): GroupView {
  const L = product(shape.slice(0, lo));
  const D = product(shape.slice(lo, hi + 1));
  const T = product(shape.slice(hi + 1));
  return T === 1
    ? { P: L, K: 1, G: 1, J: D, R: 1, cK: 0, cG: 0, channels: D }
    : { P: L, K: D, G: T, J: 1, R: 1, cK: 1, cG: 0, channels: D };
}
