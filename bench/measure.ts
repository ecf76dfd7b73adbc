/**
 * How the layer bench times one layer against another, shared by `npm run bench` (Node) and
 * `npm run bench:browser` (Chromium), so both tables come from the same method: per case, both
 * layers are built on the same input; after warm-up, timed samples alternate between them, every
 * other round in reverse order (so background load and leftovers hit both alike), each after a
 * full garbage collection, and the median is reported. Every step reads all its results back (dataSync), so the time includes the work
 * (GPU work included on webgl).
 */
import * as tf from '@tensorflow/tfjs';
import { median } from '../src/core/timing';
import type { BenchCase, Mode, PairedRatios, Row } from './layer_table';

export interface MeasureOptions {
  /** Samples of each step at least, and at most. */
  minRuns: number;
  maxRuns: number;
  /** Past minRuns, sampling stops once about this many milliseconds are spent. */
  budgetMs: number;
  /** A full garbage collection, run untimed before each sample (a no-op where unavailable). */
  gc: () => void;
}

/** One measured step: a function that runs it once and reads everything back. */
function makeStep(layer: tf.layers.Layer, x: tf.Tensor, dy: tf.Tensor, mode: Mode): () => void {
  if (mode === 'infer') return () => tf.tidy(() => { (layer.apply(x) as tf.Tensor).dataSync(); });
  const xVar = tf.variable(x, true);
  const params = layer.trainableWeights.map((w) => w.read() as tf.Variable);
  return () => tf.tidy(() => {
    // Forward + backward for x, gamma, beta with an upstream gradient dy: no loss ops timed.
    const { value, grads } = tf.engine().gradients(
      () => layer.apply(xVar, { training: true }) as tf.Tensor, [xVar, ...params], dy);
    value.dataSync();
    grads.forEach((g) => g.dataSync());
  });
}

/** Mean time of `reps` back-to-back calls, in ms. */
function timeSample(step: () => void, reps: number, gc: () => void): number {
  gc();
  const t0 = performance.now();
  for (let r = 0; r < reps; r++) step();
  return (performance.now() - t0) / reps;
}

/**
 * Runs until the JIT (and, on webgl, shader compilation) has settled: 2 to 30 calls, about two
 * seconds. Each call follows a full garbage collection, as the samples do: V8 drops and redoes
 * some optimized code after a forced collection, and a JavaScript kernel of a few milliseconds
 * needs 20 or so such calls before it stays optimized (fewer left LayerNormalization's cpu step
 * timed at 29 ms instead of 3.5 ms).
 */
function warmUp(step: () => void, gc: () => void): number {
  let calls = 0;
  let last = 0;
  const t0 = performance.now();
  while (calls < 2 || (calls < 30 && performance.now() - t0 < 2000)) {
    last = timeSample(step, 1, gc);
    calls++;
  }
  return last;
}

/** Calls per sample so that one sample of a step taking `ms` lasts about 20 ms. */
function repsFor(ms: number): number {
  return Math.max(1, Math.min(500, Math.round(20 / Math.max(ms, 1e-3))));
}

/**
 * Alternating samples of the steps (null: skipped) until each has `minRuns` and the budget is
 * spent. A sample repeats a step back to back for ~20 ms, which lifts sub-millisecond steps above
 * timer noise and keeps each step's own garbage collection in its time. Steps within 2x of each
 * other (the close calls) repeat the same number of times, so a fixed cost per sample (what
 * the garbage collection before it leaves behind) weighs on both alike.
 */
function measure(steps: Array<(() => void) | null>, o: MeasureOptions) {
  const warm = steps.map((s) => (s == null ? null : warmUp(s, o.gc)));
  const known = warm.filter((t): t is number => t != null);
  const close = known.length > 1 && Math.max(...known) < 2 * Math.min(...known);
  const reps = warm.map((t) => (t == null ? 0 : repsFor(close ? Math.min(...known) : t)));
  const times: number[][] = steps.map(() => []);
  let spent = 0;
  let runs = 0;
  for (; runs < o.maxRuns && (runs < o.minRuns || spent < o.budgetMs); runs++) {
    // Every other round in reverse order (A B, B A, ...): whatever a sample leaves behind (GPU work
    // still draining, garbage) then falls on each step alike, not always on the one that follows.
    const order = steps.map((_, i) => (runs % 2 === 0 ? i : steps.length - 1 - i));
    for (const i of order) {
      const s = steps[i];
      if (s == null) continue;
      const t = timeSample(s, reps[i], o.gc);
      times[i].push(t);
      spent += t * reps[i];
    }
  }
  return { medians: times.map((t) => (t.length ? median(t) : null)), runs, reps, paired: pairedRatios(times) };
}

/** The value below which a fraction `q` of the sorted values lie (linear interpolation). */
function quantile(sorted: number[], q: number): number {
  const at = (sorted.length - 1) * q;
  const lo = Math.floor(at);
  return sorted[lo] + (sorted[Math.min(lo + 1, sorted.length - 1)] - sorted[lo]) * (at - lo);
}

/**
 * The reference's time over ours, round by round (the two samples of a round are taken back to
 * back, so they share the machine's load), as quartiles: how much the ratio scatters, and so
 * whether a ratio near 1 is a difference or noise. Null without a reference.
 */
function pairedRatios(times: number[][]): PairedRatios | null {
  const [ours, reference] = times;
  if (ours.length === 0 || reference == null || reference.length === 0) return null;
  const ratios = ours.map((t, i) => reference[i] / t).sort((a, b) => a - b);
  return { q1: quantile(ratios, 0.25), median: quantile(ratios, 0.5), q3: quantile(ratios, 0.75) };
}

/**
 * Times `ours` against `reference` on one case and mode, on the active backend, and disposes
 * what it made. A reference that throws (the built-in on channels-first training) is reported as
 * failing, with its message.
 *
 * Usage: `compareLayers('cpu', CASES[0], 'train', new BatchNormalization(), tf.layers.batchNormalization(), options)`
 */
export function compareLayers(backend: string, c: BenchCase, mode: Mode, ours: tf.layers.Layer,
  reference: tf.layers.Layer, options: MeasureOptions): Row {
  const x = tf.tidy(() => tf.add(tf.mul(tf.randomNormal(c.shape), 2), 0.5));
  const dy = tf.randomNormal(c.shape);
  ours.build(c.shape);
  reference.build(c.shape);
  let referenceStep: (() => void) | null = makeStep(reference, x, dy, mode);
  let builtinError: string | undefined;
  try {
    referenceStep();
  } catch (e) {
    builtinError = (e as Error).message.split('\n')[0].slice(0, 100);
    referenceStep = null;
  }
  const { medians: [oursMs, builtinMs], runs, reps, paired } = measure([makeStep(ours, x, dy, mode), referenceStep], options);
  tf.dispose([x, dy]);
  tf.disposeVariables();
  return {
    backend, case: c.name, mode, oursMs: oursMs as number, builtinMs,
    speedup: builtinMs != null ? builtinMs / (oursMs as number) : null,
    paired, runs, reps: reps[0], builtinError,
  };
}
