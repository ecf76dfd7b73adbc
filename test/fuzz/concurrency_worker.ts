/**
 * One process of the concurrent save/load sweep (see concurrency.ts), bundled and run in a child:
 *
 *   saver <root> <id> <rounds> <saves per round> <savers>: for each round, waits until every saver
 *     is ready, then saves `saves per round` models into <root>/round-<r>, each with all weights
 *     equal to a value unique to (saver, round, save); prints one JSON line per save.
 *   reader <root>: until <root>/stop exists, loads the newest round's model over and over and
 *     prints one JSON line per load: the round, the set of weight values, or the error.
 */
import '../setup/quiet_tfjs';
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { loadModel, saveModel } from '../../src/io';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const print = (line: unknown) => process.stdout.write(`${JSON.stringify(line)}\n`);

/** The value every weight of save k of `saver` in `round` holds. */
export function valueOf(saver: number, round: number, k: number): number {
  return saver * 1000 + round * 10 + k + 1;
}

async function saver(root: string, id: number, rounds: number, saves: number, savers: number): Promise<void> {
  const model = tf.sequential({ layers: [tf.layers.dense({ units: 2, inputShape: [3] })] });
  for (let r = 0; r < rounds; r++) {
    fs.writeFileSync(path.join(root, `ready-${r}-${id}`), '');
    const deadline = Date.now() + 60_000;
    while (fs.readdirSync(root).filter((n) => n.startsWith(`ready-${r}-`)).length < savers) {
      if (Date.now() > deadline) throw new Error(`round ${r}: the other savers never got ready`);
      await sleep(2);
    }
    for (let k = 0; k < saves; k++) {
      const value = valueOf(id, r, k);
      model.setWeights(model.getWeights().map((w) => tf.fill(w.shape, value)));
      const error = await saveModel(model, path.join(root, `round-${r}`)).then(() => null, (e: Error) => e.message);
      print({ round: r, value, error });
    }
  }
  model.dispose();
}

async function reader(root: string): Promise<void> {
  tf.enableProdMode();
  const before = tf.memory().numTensors;
  while (!fs.existsSync(path.join(root, 'stop'))) {
    const rounds = fs.readdirSync(root).filter((n) => /^round-\d+$/.test(n)).map((n) => Number(n.slice(6)));
    const round = rounds.length === 0 ? -1 : Math.max(...rounds);
    if (round < 0 || !fs.existsSync(path.join(root, `round-${round}`, 'model.json'))) {
      await sleep(1);
      continue;
    }
    try {
      const model = await loadModel(path.join(root, `round-${round}`));
      const values = [...new Set(model.getWeights().flatMap((w) => Array.from(w.dataSync())))];
      model.dispose();
      print({ round, values, leaked: tf.memory().numTensors - before });
    } catch (e) {
      print({ round, error: (e as Error).message, leaked: tf.memory().numTensors - before });
    }
  }
}

if (require.main === module) {
  const [role, root, ...rest] = process.argv.slice(2);
  const done = role === 'saver' ? saver(root, ...(rest.map(Number) as [number, number, number, number])) : reader(root);
  done.catch((e) => { process.stderr.write(`${(e as Error).stack}\n`); process.exitCode = 3; });
}
