/**
 * The one place the CLI reads and writes model files. Every command opens its models through
 * `openModel` and `convert` / `fold` write through `writeModel`, so a new file format is added
 * here once.
 */
import * as fs from 'fs';
import * as path from 'path';
import type * as tf from '@tensorflow/tfjs';
import { saveKerasModel } from '../io/keras3/node';
import { loadModel, saveModel } from '../io/load_save';
import { createOutput, OutputPlan, removeCreated } from './output';
import { Progress } from './progress';

/**
 * Loads the model at `file` (a model.json, as tfjs or Keras's converter writes it; `.keras` and
 * `.h5` files as loadModel reads them), saying on stderr what it does while it takes long.
 *
 * Usage: `const model = await openModel('m/model.json', { maxModelJsonBytes, progress });`
 */
export function openModel(file: string, options: { maxModelJsonBytes: number; progress: Progress }): Promise<tf.LayersModel> {
  return options.progress.during(`loading ${file}`, () => loadModel(file, { maxModelJsonBytes: options.maxModelJsonBytes }));
}

/**
 * Writes `model` into the output `plan` decided before anything was loaded: creates the missing
 * folders, saves (crash-safely: saveModel for a folder, saveKerasModel for a `.keras` archive), and removes the folders it created if the save
 * fails, so a failed command leaves nothing behind.
 *
 * Usage: `await writeModel(folded, planOutput(input, outDir, force), progress);`
 */
export async function writeModel(model: tf.LayersModel, plan: OutputPlan, progress: Progress): Promise<void> {
  await progress.during(`saving ${plan.dir}`, async () => {
    await createOutput(plan);
    try {
      if (plan.kerasFile) await saveKerasModel(model, plan.dir);
      else await saveModel(model, plan.dir);
    } catch (e) {
      removeCreated(plan);
      throw e;
    }
  });
}

/** The model.json of `file` as JSON, when `file` is one (null for other formats or unreadable files). */
export function readModelJson(file: string): Record<string, unknown> | null {
  if (path.extname(file).toLowerCase() !== '.json') return null;
  try {
    const json = JSON.parse(fs.readFileSync(file, 'utf8'));
    return json != null && typeof json === 'object' ? json : null;
  } catch {
    return null;
  }
}
