/**
 * The browser bench page: the layer table of bench/run.ts (same cases, same training step and
 * inference forward, ours and the built-in alternating) on one backend inside Chromium. Every
 * step reads its results back (dataSync), so GPU time is included; a full garbage collection
 * (Chromium started with --expose-gc) precedes each timed sample.
 */
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { BatchNormalization } from 'tfjs-batchnorm';
import { CASES, Mode, MODES, Row } from '../layer_table';

setWasmPaths('/');

const gc = (globalThis as unknown as { gc?: () => void }).gc ?? (() => undefined);

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function makeStep(layer: tf.layers.Layer, x: tf.Tensor, dy: tf.Tensor, mode: Mode): () => void {
  if (mode === 'infer') return () => tf.tidy(() => { (layer.apply(x) as tf.Tensor).dataSync(); });
  const xVar = tf.variable(x, true);
  const params = layer.trainableWeights.map((w) => w.read() as tf.Variable);
  return () => tf.tidy(() => {
    const { value, grads } = tf.engine().gradients(
      () => layer.apply(xVar, { training: true }) as tf.Tensor, [xVar, ...params], dy);
    value.dataSync();
    grads.forEach((g) => g.dataSync());
  });
}

function timeSample(step: () => void, reps: number): number {
  gc();
  const t0 = performance.now();
  for (let r = 0; r < reps; r++) step();
  return (performance.now() - t0) / reps;
}

/** Warm-up (shader compilation on webgl), then alternating samples until both have minRuns and the budget is spent. */
function measure(steps: Array<(() => void) | null>, minRuns: number, budgetMs: number) {
  const warm = steps.map((s) => (s == null ? 0 : (timeSample(s, 1), timeSample(s, 1))));
  const reps = warm.map((ms) => Math.max(1, Math.min(200, Math.round(20 / Math.max(ms, 1e-3)))));
  const times: number[][] = steps.map(() => []);
  let spent = 0;
  let runs = 0;
  for (; runs < 100 && (runs < minRuns || spent < budgetMs); runs++) {
    steps.forEach((s, i) => {
      if (s == null) return;
      const t = timeSample(s, reps[i]);
      times[i].push(t);
      spent += t * reps[i];
    });
  }
  return { medians: times.map((t) => (t.length ? median(t) : null)), runs, reps };
}

/**
 * Measures every case and mode on `backend`.
 *
 * Usage (from bench/browser/run.ts): `await page.evaluate(([b, q]) => window.runBench(b, q), ['webgl', false])`
 */
async function runBench(backend: string, quick: boolean): Promise<Row[]> {
  if (!(await tf.setBackend(backend)) || tf.getBackend() !== backend) throw new Error(`backend ${backend} did not start`);
  await tf.ready();
  const rows: Row[] = [];
  for (const c of CASES) {
    for (const mode of MODES) {
      const x = tf.tidy(() => tf.add(tf.mul(tf.randomNormal(c.shape), 2), 0.5));
      const dy = tf.randomNormal(c.shape);
      const ours = new BatchNormalization({ axis: c.axis });
      const builtin = tf.layers.batchNormalization({ axis: c.axis });
      ours.build(c.shape);
      builtin.build(c.shape);
      let builtinStep: (() => void) | null = makeStep(builtin, x, dy, mode);
      let builtinError: string | undefined;
      try {
        builtinStep();
      } catch (e) {
        builtinError = (e as Error).message.split('\n')[0].slice(0, 100);
        builtinStep = null;
      }
      const { medians: [oursMs, builtinMs], runs, reps } = measure([makeStep(ours, x, dy, mode), builtinStep],
        quick ? 3 : 7, quick ? 300 : 2000);
      tf.dispose([x, dy]);
      tf.disposeVariables();
      rows.push({ backend, case: c.name, mode, oursMs: oursMs as number, builtinMs,
        speedup: builtinMs != null ? builtinMs / (oursMs as number) : null, runs, reps: reps[0], builtinError });
    }
  }
  return rows;
}

(window as unknown as { runBench: typeof runBench }).runBench = runBench;
