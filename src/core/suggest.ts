/**
 * "Did you mean ...?" for misspelled names: layer arguments (`momentm`), layer names given to
 * the CLI. One edit-distance measure for every place that suggests a name.
 */

/**
 * The optimal string alignment distance between `a` and `b`: insertions, deletions,
 * substitutions and swaps of two adjacent characters each cost 1 (Damerau's typing errors).
 *
 * Usage: `editDistance('momentm', 'momentum') // 1`
 */
export function editDistance(a: string, b: string): number {
  // rows[i][j]: distance between the first i characters of a and the first j of b.
  const rows: number[][] = [];
  for (let i = 0; i <= a.length; i++) rows.push([i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 0; j <= b.length; j++) rows[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(rows[i - 1][j] + 1, rows[i][j - 1] + 1, rows[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, rows[i - 2][j - 2] + 1);
      rows[i][j] = d;
    }
  }
  return rows[a.length][b.length];
}

/**
 * The candidates closest to `word`, when close enough to be a misspelling of it: at most a third
 * of the word's length in edits (at least 1), compared case-insensitively. Several when tied;
 * none for an exact match or when nothing is close.
 *
 * Usage: `closestNames('momentm', ['axis', 'momentum']) // ['momentum']`
 */
export function closestNames(word: string, candidates: readonly string[]): string[] {
  const limit = Math.max(1, Math.floor(word.length / 3));
  let best = Infinity;
  let found: string[] = [];
  for (const candidate of new Set(candidates)) {
    if (candidate === word) return [];
    const d = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (d > limit || d > best) continue;
    if (d < best) found = [];
    best = d;
    found.push(candidate);
  }
  return found;
}

/**
 * A sentence suggesting the closest candidates, or '' when none is close:
 * ` (did you mean \`momentum\`?)`, to append to an error message.
 *
 * Usage: `throw new Error(\`unknown argument momentm${didYouMean('momentm', names)}\`)`
 */
export function didYouMean(word: string, candidates: readonly string[]): string {
  const names = closestNames(word, candidates);
  return names.length === 0 ? '' : ` (did you mean ${names.map((n) => `\`${n}\``).join(' or ')}?)`;
}
