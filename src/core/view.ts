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
