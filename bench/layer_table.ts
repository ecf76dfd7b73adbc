/**
 * The layer benchmark's cases and table, shared by `npm run bench` (Node: cpu, wasm) and
 * `npm run bench:browser` (Chromium: webgl, wasm, cpu).
 */
export interface BenchCase {
  name: string;
  shape: number[];
  axis: number;
}

export const CASES: BenchCase[] = [
  { name: 'dense [256, 1024]', shape: [256, 1024], axis: -1 },
  { name: 'NHWC [32, 32, 32, 64]', shape: [32, 32, 32, 64], axis: -1 },
  { name: 'NCHW [32, 64, 32, 32] axis 1', shape: [32, 64, 32, 32], axis: 1 },
  { name: 'small [8, 16]', shape: [8, 16], axis: -1 },
];
export const MODES = ['train', 'infer'] as const;
export type Mode = typeof MODES[number];

/** Quartiles of the per-round ratio builtin / ours. */
export interface PairedRatios {
  q1: number;
  median: number;
  q3: number;
}

/**
 * Whether ours is slower than the reference beyond the bench's noise: in at least three rounds
 * of four ours took longer (the upper quartile of the per-round ratio is below 1). A row whose
 * median ratio is below 1 but whose rounds go both ways is level within noise.
 *
 * Usage: `rows.filter(slowerBeyondNoise)`
 */
export function slowerBeyondNoise(r: Row): boolean {
  return r.speedup != null && r.speedup < 1 && (r.paired == null || r.paired.q3 < 1);
}

export interface Row {
  backend: string;
  case: string;
  mode: Mode;
  oursMs: number;
  builtinMs: number | null;
  /** builtin / ours: how many times faster ours is (null where the built-in fails). */
  speedup: number | null;
  /** The same ratio round by round, as quartiles (null where the built-in fails). */
  paired?: PairedRatios | null;
  /** Timed samples of each layer (after warm-up). */
  runs: number;
  /** Steps per sample for ours (the built-in's may differ). */
  reps: number;
  builtinError?: string;
}

/**
 * Milliseconds with three significant-ish digits.
 *
 * Usage: `fmt(0.1234) // '0.123'`
 */
export function fmt(ms: number | null): string {
  if (ms == null) return 'n/a';
  return ms < 1 ? ms.toFixed(3) : ms < 10 ? ms.toFixed(2) : ms < 100 ? ms.toFixed(1) : ms.toFixed(0);
}

/**
 * The rows as a Markdown table.
 *
 * Usage: `console.log(table(rows))`
 */
export function table(rows: Row[]): string {
  const ratio = (v: number) => `${v.toFixed(v < 10 ? 2 : 1)}x`;
  const head = ['backend', 'case', 'mode', 'ours ms', 'built-in ms', 'built-in / ours', 'per round, quartiles'];
  const body = rows.map((r) => [
    r.backend, r.case, r.mode, fmt(r.oursMs), r.builtinMs == null ? 'fails' : fmt(r.builtinMs),
    r.speedup == null ? 'n/a' : ratio(r.speedup),
    r.paired == null ? 'n/a' : `${ratio(r.paired.q1)}–${ratio(r.paired.q3)}`,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => `| ${cells.map((s, i) => (i < 3 ? s.padEnd(widths[i]) : s.padStart(widths[i]))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (i < 3 ? `${'-'.repeat(w + 2)}` : `${'-'.repeat(w + 1)}:`)).join('|')}|`;
  return [line(head), rule, ...body.map(line)].join('\n');
}

