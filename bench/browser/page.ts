/**
 * The browser bench page: the layer table of bench/run.ts (same cases, same training step and
 * inference forward, ours and the built-in alternating) on one backend inside Chromium. Every
 * step reads its results back (dataSync), so GPU time is included; a full garbage collection
 * (Chromium started with --expose-gc) precedes each timed sample.
 */
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { BatchNormalization } from 'tfjs-batchnorm';
import { CASES, MODES, Row } from '../layer_table';
import { compareLayers } from '../measure';

setWasmPaths('/');

const gc = (globalThis as unknown as { gc?: () => void }).gc ?? (() => undefined);

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
      rows.push(compareLayers(backend, c, mode, new BatchNormalization({ axis: c.axis }),
        tf.layers.batchNormalization({ axis: c.axis }),
        { minRuns: quick ? 3 : 15, maxRuns: 200, budgetMs: quick ? 300 : 5000, gc }));
    }
  }
  return rows;
}

(window as unknown as { runBench: typeof runBench }).runBench = runBench;
