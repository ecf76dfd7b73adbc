/**
 * Saves and loads at the same time: 5 processes save into one new folder per round while 2
 * processes load from it. Every save succeeds, every load returns one complete model a saver
 * wrote, no tensor leaks, and the folder ends with the last model and nothing of a save's own but
 * its journal. (`npm run fuzz` runs the same sweep over 20 rounds.)
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { loadModel, saveModel } from '../src/io';
import { concurrencySweep } from './fuzz/concurrency';
import { cleanUp, tempDir } from './fixtures/helpers';

it('5 savers and 2 readers over 3 rounds: no failed read, no lost save, no leak, nothing left over', async () => {
  const result = await concurrencySweep({ rounds: 3, savers: 5, readers: 2, savesPerRound: 3 });
  expect(result.problems).toEqual([]);
  expect(result.saves).toBe(45);
  // The readers really ran while the saves did.
  expect(result.reads).toBeGreaterThan(10);
});

it('a shard removed after model.json was read: the reader reads the new model.json and gets the new model', async () => {
  const root = tempDir('tfjs-bn-race-');
  try {
    const dir = path.join(root, 'net');
    const models = [1, 2, 3].map((v) => {
      const m = tf.sequential({ layers: [tf.layers.dense({ units: 2, inputShape: [3] })] });
      m.setWeights(m.getWeights().map((w) => tf.fill(w.shape, v)));
      return m;
    });
    await saveModel(models[0], dir);
    // Between the reader's read of model.json and its first shard, two saves land: the second
    // removes the shard of the model the reader read.
    const realpath = fs.promises.realpath;
    let raced = false;
    const spy = jest.spyOn(fs.promises, 'realpath').mockImplementation(async (p, ...rest) => {
      if (!raced && String(p).endsWith('.bin')) {
        raced = true;
        await saveModel(models[1], dir);
        await saveModel(models[2], dir);
      }
      return realpath(p, ...(rest as []));
    });
    try {
      const loaded = await loadModel(dir);
      expect(raced).toBe(true);
      expect(new Set(loaded.getWeights().flatMap((w) => Array.from(w.dataSync())))).toEqual(new Set([3]));
      loaded.dispose();
    } finally {
      spy.mockRestore();
    }
    // A shard that is missing while model.json stays the same is still an error.
    fs.rmSync(path.join(dir, JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8')).weightsManifest[0].paths[0]));
    await expect(loadModel(dir)).rejects.toThrow(/weights-[0-9a-f]{16}\.bin: file not found \(expected a weight shard listed in .*model\.json\)/);
    models.forEach((m) => m.dispose());
  } finally {
    cleanUp(root);
  }
});
