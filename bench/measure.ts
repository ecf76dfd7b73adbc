/**
 * How the layer bench times one layer against another, shared by `npm run bench` (Node) and
 * `npm run bench:browser` (Chromium), so both tables come from the same method: per case, both
 * layers are built on the same input; after warm-up, timed samples alternate between them, every
 * other round in reverse order (so background load and leftovers hit both alike), each after a
 * full garbage collection, and the median is reported. Every step reads all its results back (dataSync; on webgpu
 * `await data()`, all of a step's reads at once), so the time includes the work
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
  /**
   * Read results with `await data()` instead of dataSync: required on webgpu, where a
   * synchronous read can lose the device. All of a step's reads are awaited together.
   */
  asyncRead?: boolean;
}

/** One measured step: runs once and reads everything back (a promise when reads are asynchronous). */
type Step = () => void | Promise<void>;

function makeStep(layer: tf.layers.Layer, x: tf.Tensor, dy: tf.Tensor, mode: Mode, asyncRead: boolean): Step {
  const xVar = mode === 'train' ? tf.variable(x, true) : null;
  const params = layer.trainableWeights.map((w) => w.read() as tf.Variable);
  // Forward + backward for x, gamma, beta with an upstream gradient dy: no loss ops timed.
  const run = (): tf.Tensor[] => {
    if (xVar == null) return [layer.apply(x) as tf.Tensor];
    const { value, grads } = tf.engine().gradients(() => layer.apply(xVar, { training: true }) as tf.Tensor, [xVar, ...params], dy);
    return [value, ...grads];
  };
  if (!asyncRead) return () => tf.tidy(() => { run().forEach((t) => t.dataSync()); });
  return async () => {
    const out = tf.tidy(run);
    await Promise.all(out.map((t) => t.data()));
    tf.dispose(out);
  };
}

/** Mean time of `reps` back-to-back calls, in ms. */
async function timeSample(step: Step, reps: number, gc: () => void): Promise<number> {
  gc();
  const t0 = performance.now();
  for (let r = 0; r < reps; r++) {
    const pending = step();
    if (pending != null) await pending;
  }
  return (performance.now() - t0) / reps;
}

/**
 * Runs until the JIT (and, on webgl, shader compilation) has settled: 2 to 30 calls, about two
 * seconds. Each call follows a full garbage collection, as the samples do: V8 drops and redoes
 * some optimized code after a forced collection, and a JavaScript kernel of a few milliseconds
 * needs 20 or so such calls before it stays optimized (fewer left LayerNormalization's cpu step
 * timed at 29 ms instead of 3.5 ms).
 */
async function warmUp(step: Step, gc: () => void): Promise<number> {
  let calls = 0;
  let last = 0;
  const t0 = performance.now();
  while (calls < 2 || (calls < 30 && performance.now() - t0 < 2000)) {
    last = await timeSample(step, 1, gc);
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
async function measure(steps: Array<Step | null>, o: MeasureOptions) {
  const warm: Array<number | null> = [];
  for (const s of steps) warm.push(s == null ? null : await warmUp(s, o.gc));
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
      const t = await timeSample(s, reps[i], o.gc);
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
 * Usage: `await compareLayers('cpu', CASES[0], 'train', new BatchNormalization(), tf.layers.batchNormalization(), options)`
 */
export async function compareLayers(backend: string, c: BenchCase, mode: Mode, ours: tf.layers.Layer,
  reference: tf.layers.Layer, options: MeasureOptions): Promise<Row> {
  const x = tf.tidy(() => tf.add(tf.mul(tf.randomNormal(c.shape), 2), 0.5));
  const dy = tf.randomNormal(c.shape);
  ours.build(c.shape);
  reference.build(c.shape);
  const asyncRead = options.asyncRead === true;
  let referenceStep: Step | null = makeStep(reference, x, dy, mode, asyncRead);
  let builtinError: string | undefined;
  try {
    await referenceStep();
  } catch (e) {
    builtinError = (e as Error).message.split('\n')[0].slice(0, 100);
    referenceStep = null;
  }
  const { medians: [oursMs, builtinMs], runs, reps, paired } = await measure([makeStep(ours, x, dy, mode, asyncRead), referenceStep], options);
  tf.dispose([x, dy]);
  tf.disposeVariables();
  return {
    backend, case: c.name, mode, oursMs: oursMs as number, builtinMs,
    speedup: builtinMs != null ? builtinMs / (oursMs as number) : null,
    paired, runs, reps: reps[0], builtinError,
  };
}
