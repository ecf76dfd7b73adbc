/**
 * `npm run bench:load`: time to load a big-ish model (default about 100 MB of float32 weights)
 * three ways, side by side in one run: this package's checked `loadModel`, `tf.loadLayersModel`
 * through the package's `file://` router (which checks the topology against the manifest before
 * handing the files to tfjs), and `tf.loadLayersModel` on the same files read without any check
 * (what tfjs itself does once it has the bytes). Loads alternate, each after a full garbage
 * collection, in an order that rotates each round; medians are reported.
 *
 * Usage: `npm run bench:load` | `npm run bench:load -- --mb 20 --runs 3`
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as v8 from 'v8';
import * as vm from 'vm';
import * as tf from '@tensorflow/tfjs';
import { loadModel, saveModel } from '../src/io';
import { readModelArtifacts } from '../src/io/file_system';
import { median } from '../src/core/timing';
import { machine } from './machine';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

async function main(): Promise<void> {
  tf.enableProdMode();
  const mb = arg('mb', 100);
  const runs = arg('runs', 5);
  // Dense layers of width w: about 4 * w^2 bytes each; four of them make up `mb`.
  const width = Math.round(Math.sqrt((mb * 1024 * 1024) / 4 / 4));
  const layers = [tf.layers.dense({ units: width, inputShape: [width] })];
  for (let i = 0; i < 3; i++) layers.push(tf.layers.dense({ units: width }));
  const model = tf.sequential({ layers });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tfjs-bn-bench-load-'));
  try {
    await saveModel(model, dir);
    model.dispose();
    const file = path.join(dir, 'model.json');
    const bytes = fs.statSync(path.join(dir, 'weights.bin')).size;
    const ways: [string, () => Promise<tf.LayersModel>][] = [
      ['loadModel (checked)', () => loadModel(file)],
      ['tf.loadLayersModel file:// (checked router)', () => tf.loadLayersModel(`file://${file}`)],
      ['tf.loadLayersModel, no topology check', () => tf.loadLayersModel({ load: () => readModelArtifacts(file) })],
    ];
    const times: number[][] = ways.map(() => []);
    for (let round = 0; round < runs + 1; round++) {
      // The order rotates each round, so no way always runs right after the same other one.
      for (let j = 0; j < ways.length; j++) {
        const k = (j + round) % ways.length;
        const load = ways[k][1];
        gc();
        const start = performance.now();
        const m = await load();
        const ms = performance.now() - start;
        m.dispose();
        if (round > 0) times[k].push(ms);
      }
    }
    console.log(machine().line);
    console.log(`model: 4 Dense layers of width ${width}, ${(bytes / 1024 / 1024).toFixed(1)} MB of weights; ` +
      `median of ${runs} loads each (after one warm-up round)`);
    const base = median(times[2]);
    for (const [k, [name]] of ways.entries()) {
      const m = median(times[k]);
      console.log(`${name.padEnd(48)} ${m.toFixed(0).padStart(6)} ms   x${(m / base).toFixed(2)}`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => { console.error(e); process.exitCode = 1; });
