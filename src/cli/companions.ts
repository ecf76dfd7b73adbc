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

/** The files beside an input model to copy into the output folder, and those left out with the reason. */
export interface CompanionPlan {
  from: string;
  copy: string[];
  skipped: { name: string; reason: string }[];
}

/**
 * Decides, before anything is written, which regular files beside `inputModelJson` that are not
 * part of the model (not model.json, not a weight file its manifest lists, not hidden) go into
 * `outDir`: a name `outDir` already has in any form (a file, a folder, a symbolic link, even a
 * dangling one) is kept there and skipped.
 *
 * Usage: `const plan = planCompanions('models/tm/model.json', 'models/tm-custom');`
 */
export function planCompanions(inputModelJson: string, outDir: string): CompanionPlan {
  const from = path.dirname(path.resolve(inputModelJson));
  const plan: CompanionPlan = { from, copy: [], skipped: [] };
  if (path.resolve(outDir) === from) return plan;
  const modelFiles = new Set([path.basename(inputModelJson)]);
  try {
    const manifest = JSON.parse(fs.readFileSync(inputModelJson, 'utf8')).weightsManifest ?? [];
    for (const group of manifest) for (const p of group.paths ?? []) modelFiles.add(path.normalize(p));
  } catch {
    // Not a model.json (a .keras or .h5 file), or unreadable: nothing beside it is part of the model.
  }
  for (const entry of fs.readdirSync(from, { withFileTypes: true })) {
    if (!entry.isFile() || modelFiles.has(entry.name) || entry.name.startsWith('.')) continue;
    let present = false;
    try {
      fs.lstatSync(path.join(outDir, entry.name));
      present = true;
    } catch {
      // absent: copied
    }
    if (present) plan.skipped.push({ name: entry.name, reason: 'the output folder has its own, which is kept' });
    else plan.copy.push(entry.name);
  }
  return plan;
}

/**
 * Copies what `plan` decided, after the model is saved. A copy that fails then (the folder
 * changed in between) is reported, not thrown: the model is written either way.
 *
 * Usage: `const { copied, failed } = copyCompanions(plan, 'models/tm-custom');`
 */
export function copyCompanions(plan: CompanionPlan, outDir: string): { copied: string[]; failed: string[] } {
  const copied: string[] = [];
  const failed: string[] = [];
  for (const name of plan.copy) {
    try {
      fs.copyFileSync(path.join(plan.from, name), path.join(outDir, name), fs.constants.COPYFILE_EXCL);
      copied.push(name);
    } catch (e) {
      failed.push(`${name} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
  }
  return { copied, failed };
}
