/**
 * Small parts of `convert` and `fold` around the model itself: what to say when there is nothing
 * to convert, and carrying the files that sit beside an input model.json (Teachable Machine's
 * metadata.json, labels, a README) into a new output folder.
 */
import * as fs from 'fs';
import * as path from 'path';
import type * as tf from '@tensorflow/tfjs';
import { CUSTOM_BN, STOCK_BN } from '../core/class_names';
import { countLayers } from '../convert/model_config';
import { topologyOf } from '../convert/rebuild';

/**
 * The line `convert` prints when no layer changed: whether the model already uses the target
 * class, or has no BatchNormalization at all.
 *
 * Usage: `out.stdout(nothingToConvert(model, 'custom', 'models/out'))`
 */
export function nothingToConvert(model: tf.LayersModel, to: 'custom' | 'stock', outDir: string): string {
  const target = to === 'custom' ? CUSTOM_BN : STOCK_BN;
  const present = countLayers(topologyOf(model), [target]);
  const already = to === 'custom'
    ? `the model's ${present} BatchNormalization layer(s) already use this package's layer (${CUSTOM_BN})`
    : `the model's ${present} BatchNormalization layer(s) already use tfjs's built-in layer (${STOCK_BN})`;
  const why = present > 0 ? already : 'the model has no BatchNormalization layers';
  return `Nothing to convert: ${why}; wrote it unchanged to ${outDir}/model.json\n`;
}

/**
 * Copies the regular files beside `inputModelJson` that are not part of the model (not
 * model.json, not a weight file its manifest lists) into `outDir`, skipping names `outDir`
 * already has (a save keeps those). Returns the names copied.
 *
 * Usage: `carryCompanionFiles('models/tm/model.json', 'models/tm-custom')  // ['metadata.json']`
 */
export function carryCompanionFiles(inputModelJson: string, outDir: string): string[] {
  const inputDir = path.dirname(path.resolve(inputModelJson));
  if (path.resolve(outDir) === inputDir) return [];
  const modelFiles = new Set([path.basename(inputModelJson)]);
  try {
    const manifest = JSON.parse(fs.readFileSync(inputModelJson, 'utf8')).weightsManifest ?? [];
    for (const group of manifest) for (const p of group.paths ?? []) modelFiles.add(path.normalize(p));
  } catch {
    // The model loaded already, so its JSON is fine; a failure here only means nothing is skipped.
  }
  const copied: string[] = [];
  for (const entry of fs.readdirSync(inputDir, { withFileTypes: true })) {
    if (!entry.isFile() || modelFiles.has(entry.name) || entry.name.startsWith('.')) continue;
    const target = path.join(outDir, entry.name);
    if (fs.existsSync(target)) continue;
    fs.copyFileSync(path.join(inputDir, entry.name), target, fs.constants.COPYFILE_EXCL);
    copied.push(entry.name);
  }
  return copied;
}
