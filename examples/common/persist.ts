import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
// tfjs-batchnorm/io registers the file:// save/load routers (and the package's layers).
import '../../src/io';

export interface ReloadCheck {
  /** Folder holding model.json and the weights. */
  dir: string;
  /** The model loaded back from disk (caller disposes it). */
  reloaded: tf.LayersModel;
  /** max |original - reloaded| over the probe predictions (0 when identical). */
  maxAbsDiff: number;
  /** The two models predict bit-for-bit the same values on the probe. */
  identical: boolean;
}

/** `file://` URL of a folder, absolute so it does not depend on the working directory. */
export function fileUrl(dir: string): string {
  return `file://${path.resolve(dir)}`;
}

/**
 * Saves `model` under `dir` through `file://`, loads it back as a fresh model and compares the two
 * models' inference-mode predictions on `probe`.
 *
 * Usage: `const check = await saveAndReload(model, 'models/mlp', xTest); check.reloaded.dispose();`
 */
export async function saveAndReload(model: tf.LayersModel, dir: string, probe: tf.Tensor | tf.Tensor[]): Promise<ReloadCheck> {
  await model.save(fileUrl(dir));
  const reloaded = await tf.loadLayersModel(`${fileUrl(dir)}/model.json`);
  const maxAbsDiff = tf.tidy(() => {
    const a = model.predict(probe) as tf.Tensor;
    const b = reloaded.predict(probe) as tf.Tensor;
    return tf.max(tf.abs(tf.sub(a, b))).dataSync()[0];
  });
  return { dir: path.resolve(dir), reloaded, maxAbsDiff, identical: maxAbsDiff === 0 };
}

/**
 * The summary-table rows every example prints about its save and reload check.
 *
 * Usage: `formatTable([{ item: 'test accuracy', value: acc }, ...reloadRows(check)])`
 */
export function reloadRows(check: ReloadCheck): Array<{ item: string; value: string }> {
  return [
    { item: 'saved to', value: check.dir },
    { item: 'reloaded predictions', value: check.identical ? 'identical' : `max diff ${check.maxAbsDiff}` },
  ];
}
