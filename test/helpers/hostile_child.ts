/**
 * Loads each model.json given on the command line three ways (loadModel, tf.loadLayersModel via
 * the file:// router, the `fold` CLI), in a process of its own, so a file that hangs or exhausts
 * memory stalls this child, not jest; the parent bounds its time and reads its peak memory.
 * Prints one JSON line per model.json, then one with the peak resident set size.
 */
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { loadModel } from '../../src/io';
import { run } from '../../src/cli/run';

interface Outcome { name: string; message: string }

const outcome = (e: unknown): Outcome | null =>
  (e == null ? null : { name: (e as Error).name, message: (e as Error).message });

async function main(): Promise<void> {
  tf.enableProdMode();
  for (const modelJson of process.argv.slice(2)) {
    const start = performance.now();
    const tensors = tf.memory().numTensors;
    const load = await loadModel(modelJson).then((m) => { m.dispose(); return null; }, outcome);
    const router = await tf.loadLayersModel(`file://${modelJson}`).then((m) => { m.dispose(); return null; }, outcome);
    let stderr = '';
    const code = await run(['fold', modelJson, path.join(path.dirname(modelJson), 'out')],
      { stdout: () => undefined, stderr: (t) => { stderr += t; } });
    process.stdout.write(`${JSON.stringify({ modelJson, load, router, cli: { code, stderr },
      leaked: tf.memory().numTensors - tensors, ms: performance.now() - start })}\n`);
  }
  process.stdout.write(`${JSON.stringify({ maxRssMB: process.resourceUsage().maxRSS / 1024 })}\n`);
}

main().catch((e) => { process.stderr.write(`${(e as Error).stack}\n`); process.exitCode = 3; });
