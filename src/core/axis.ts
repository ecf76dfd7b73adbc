/**
 * Axis arguments, parsed once: the layers and the config walker both read `axis` through
 * `parseAxisArg`, and every resolved (non-negative) axis comes from `normalizeAxis`.
 */

/**
 * `axis` as written in a constructor call or a config: an integer or a list of integers (Keras 2
 * writes BatchNormalization's as `[3]`). Returns the list, or null if `raw` is neither.
 * `undefined` / `null` give `fallback`.
 *
 * Usage: `parseAxisArg([3], [-1]) // [3]`
 */
export function parseAxisArg(raw: unknown, fallback: number[]): number[] | null {
  if (raw == null) return [...fallback];
  const list = Array.isArray(raw) ? raw : [raw];
  return list.every((a) => typeof a === 'number' && Number.isInteger(a)) ? (list as number[]) : null;
}

/**
 * Resolves a possibly negative `axis` against `rank`, or returns null when it is out of range.
 *
 * Usage: `normalizeAxis(-1, 4) // 3`
 */
export function normalizeAxis(axis: number, rank: number): number | null {
  const resolved = axis < 0 ? axis + rank : axis;
  return Number.isInteger(resolved) && resolved >= 0 && resolved < rank ? resolved : null;
}
