/**
 * Every normalization of this package, whatever its rank and axes, is one computation on a 5-D
 * view `[P, K, G, J, R]` of the input: statistics per (p, g), over k, j and r; gamma and beta
 * indexed by `c = k * cK + g * cG + j`. Reshapes are free, so the math never needs to know the
 * original layout.
 *
 * - BatchNormalization on axis a of `[d0, ..., a, ...]`: outer = product of the dims before a,
 *   inner = of those after: `[1, outer, C, 1, inner]`, `cK = 0`, `cG = 1` (one statistic per
 *   channel, over the batch and every other axis). NHWC is `[1, N*H*W, C, 1, 1]`, NCHW
 *   `[1, N, C, 1, H*W]`.
 * - GroupNormalization on axis a of `[N, S1, C, S2]` with `groups` groups: `[N, S1, groups,
 *   C / groups, S2]`, `cK = 0`, `cG = C / groups` (channels in contiguous blocks, as Keras does);
 *   InstanceNormalization is the case `groups = C`.
 * - LayerNormalization and RMSNormalization over the contiguous axes lo..hi, L = product of the
 *   dims before, D of the normalized ones, T of those after: `[L, 1, 1, D, 1]` (`c = j`) when
 *   T = 1, else `[L, D, T, 1, 1]` (`c = k`).
 */
export interface NormView {
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

const product = (dims: readonly number[]) => dims.reduce((a, b) => a * b, 1);

/**
 * Values each (p, g) statistic is computed over: `K * J * R`.
 *
 * Usage: `viewCount(view)`
 */
export function viewCount(v: NormView): number {
  return v.K * v.J * v.R;
}

/**
 * The view as a tensor shape.
 *
 * Usage: `tf.reshape(x, viewShape(view))`
 */
export function viewShape(v: NormView): number[] {
  return [v.P, v.K, v.G, v.J, v.R];
}

/**
 * BatchNormalization's view: one statistic per channel of the (resolved) `axis`.
 *
 * Usage: `batchView([8, 3, 4, 4], 1) // P 1, K 8, G 3, R 16`
 */
export function batchView(shape: readonly number[], axis: number): NormView {
  const C = shape[axis];
  return { P: 1, K: product(shape.slice(0, axis)), G: C, J: 1, R: product(shape.slice(axis + 1)), cK: 0, cG: 1, channels: C };
}

/**
 * The view for groups of channels on the (resolved) `axis`: `groups` must divide the axis size.
 * `channels` is the gamma size: the axis size, or 1 when one gamma serves every channel.
 *
 * Usage: `groupView([8, 4, 4, 32], 3, 8)` for GroupNormalization(groups 8), channels last
 */
export function groupView(shape: readonly number[], axis: number, groups: number, sharedAffine = false): NormView {
  const [P, K, J, R] = [shape[0], product(shape.slice(1, axis)), shape[axis] / groups, product(shape.slice(axis + 1))];
  if (sharedAffine) return { P, K, G: groups, J: 1, R: J * R, cK: 0, cG: 0, channels: 1 };
  return { P, K, G: groups, J, R, cK: 0, cG: J, channels: shape[axis] };
}

/**
 * The view for normalizing over the contiguous, sorted axes `lo..hi` (LayerNormalization,
 * RMSNormalization, UnitNormalization).
 *
 * Usage: `layerView([32, 128, 256], 2, 2) // P 4096, J 256`
 */
export function layerView(shape: readonly number[], lo: number, hi: number): NormView {
  const L = product(shape.slice(0, lo));
  const D = product(shape.slice(lo, hi + 1));
  const T = product(shape.slice(hi + 1));
  return T === 1
    ? { P: L, K: 1, G: 1, J: D, R: 1, cK: 0, cG: 0, channels: D }
    : { P: L, K: D, G: T, J: 1, R: 1, cK: 1, cG: 0, channels: D };
}

/**
 * The shape gamma and beta take to broadcast against the `[P, K, G, J, R]` view.
 *
 * Usage: `tf.reshape(gamma, affineViewShape(view))`
 */
export function affineViewShape(v: NormView): number[] {
  return [1, v.cK > 0 ? v.K : 1, v.cG > 0 ? v.G : 1, v.channels > 1 && v.cK === 0 ? v.J : 1, 1];
}

/**
 * The view laid over a tensor shape, for code that works with tensors rather than loops: the
 * working shape, the axes the statistics reduce over, and the shapes the statistics and gamma
 * broadcast from. Where every factor of the view is a run of whole dimensions of `shape` (every
 * BatchNormalization and LayerNormalization) the working shape is `shape` itself, so no reshape is
 * needed (on webgl a reshape that changes the last two dimensions repacks the texture); else it
 * is the 5-D view.
 */
export interface ViewLayout {
  shape: number[];
  /** The axes of k, j and r: the statistics reduce over them. */
  axes: number[];
  /** The statistics' shape, with the reduced axes kept as 1 (flattened: index `p * G + g`). */
  statShape: number[];
  /** gamma's and beta's shape (flattened: index `c`). */
  affineShape: number[];
}

/**
 * The layout of `view` over `shape` (see ViewLayout).
 *
 * Usage: `const { shape, axes } = viewLayout(x.shape, view);`
 */
export function viewLayout(shape: readonly number[], v: NormView): ViewLayout {
  const factors = viewShape(v);
  // Which factor (0..4 for P, K, G, J, R) each dimension of `shape` belongs to.
  const owner: number[] = [];
  let d = 0;
  for (let f = 0; f < 5; f++) {
    let size = 1;
    while (size < factors[f] && d < shape.length) {
      size *= shape[d++];
      owner.push(f);
    }
    if (size !== factors[f]) return fiveD(v);
  }
  // Trailing dimensions of size 1 go with R.
  while (owner.length < shape.length) owner.push(4);
  const varies = [false, v.cK > 0, v.cG > 0, v.channels > 1 && v.cK === 0, false];
  const reduced = (f: number) => f === 1 || f === 3 || f === 4;
  return {
    shape: [...shape],
    axes: owner.flatMap((f, i) => (reduced(f) ? [i] : [])),
    statShape: shape.map((size, i) => (reduced(owner[i]) ? 1 : size)),
    affineShape: shape.map((size, i) => (varies[owner[i]] ? size : 1)),
  };
}

function fiveD(v: NormView): ViewLayout {
  return { shape: viewShape(v), axes: [1, 3, 4], statShape: [v.P, 1, v.G, 1, 1], affineShape: affineViewShape(v) };
}
