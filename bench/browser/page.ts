/**
 * The browser bench page: the layer table of bench/run.ts (same cases, same training step and
 * inference forward, ours and the built-in alternating) on one backend inside Chromium. Every
 * step reads its results back (dataSync; on webgpu `await data()`, which is the only safe read
 * there), so GPU time is included; a full garbage collection (Chromium started with
 * --expose-gc) precedes each timed sample. On webgpu the family's cases (LN, GN, IN) run too.
 */
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-backend-webgpu';
import { BatchNormalization, groupNormalization, instanceNormalization, layerNormalization } from 'tfjs-batchnorm';
import { familyCases } from '../family_cases';
import { BenchCase, CASES, MODES, Row } from '../layer_table';
import { compareLayers } from '../measure';

setWasmPaths('/');

const gc = (globalThis as unknown as { gc?: () => void }).gc ?? (() => undefined);

/** Backends whose rows include the family's cases. */
const FAMILY_BACKENDS = new Set(['webgpu']);

/**
 * Measures every case and mode on `backend`.
 *
 * Usage (from bench/browser/run.ts): `await page.evaluate(([b, q]) => window.runBench(b, q), ['webgl', false])`
 */
async function runBench(backend: string, quick: boolean): Promise<Row[]> {
  if (!(await tf.setBackend(backend)) || tf.getBackend() !== backend) throw new Error(`backend ${backend} did not start`);
  await tf.ready();
  const family = FAMILY_BACKENDS.has(backend)
    ? familyCases({ layerNormalization: () => layerNormalization(), groupNormalization, instanceNormalization: () => instanceNormalization() })
    : [];
  // On webgpu (SwiftShader) the built-in's composite training steps take seconds to tens of
  // seconds each, so fewer samples there; reads are asynchronous (a synchronous one can lose the device).
  const webgpu = backend === 'webgpu';
  const rows: Row[] = [];
  for (const c of [...CASES, ...family] as Array<BenchCase & Partial<typeof family[number]>>) {
    for (const mode of MODES) {
      const layers = c.make?.() ?? { ours: new BatchNormalization({ axis: c.axis }), reference: tf.layers.batchNormalization({ axis: c.axis }) };
      rows.push(await compareLayers(backend, c, mode, layers.ours, layers.reference,
        { minRuns: quick ? 3 : webgpu ? 7 : 15, maxRuns: 200, budgetMs: quick ? 300 : 5000, gc, asyncRead: webgpu }));
    }
  }
  return rows;
}

(window as unknown as { runBench: typeof runBench }).runBench = runBench;
