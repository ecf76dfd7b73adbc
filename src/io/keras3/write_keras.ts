/**
 * Writing a model as a Keras 3 `.keras` archive: metadata.json, config.json (see to_keras3.ts) and
 * model.weights.h5 (see hdf5_write.ts), stored uncompressed in a zip file in that order, as Keras
 * 3.15.1's `model.save('model.keras')` writes them.
 */
import * as tf from '@tensorflow/tfjs';
import { zipSync } from 'fflate';
import { encodeHdf5, H5Group, h5Group } from './hdf5_write';
import { CONFIG_JSON, METADATA_JSON, WEIGHTS_H5 } from './read';
import { KERAS_VERSION, toKeras3 } from './to_keras3';

function groupAt(root: H5Group, path: string): H5Group {
  let group = root;
  for (const part of path.split('/')) {
    let next = group.children.get(part);
    if (next == null) {
      next = h5Group();
      group.children.set(part, next);
    }
    if (next.kind !== 'group') throw new Error(`model.weights.h5: '${path}' is both a group and a dataset.`);
    group = next;
  }
  return group;
}

function twoDigits(n: number): string {
  return String(n).padStart(2, '0');
}

/**
 * The bytes of a `.keras` archive holding `model` (its config and weights; no optimizer state).
 * Throws, before anything is written anywhere, for a layer Keras 3 cannot load.
 *
 * Usage: `const bytes = await kerasArchiveBytes(model);`
 */
export async function kerasArchiveBytes(model: tf.LayersModel, now = new Date()): Promise<Uint8Array> {
  const { config, variables } = toKeras3(model);
  const root = h5Group();
  for (const v of variables) {
    const group = groupAt(root, v.path);
    group.attrs = { name: v.name };
    for (const [i, variable] of v.values.entries()) {
      const values = await variable.read().data();
      const data = variable.dtype === 'float32' ? new Float32Array(values as Float32Array)
        : Int32Array.from(values as ArrayLike<number>);
      group.children.set(String(i), { kind: 'dataset', shape: [...variable.shape] as number[], data });
    }
  }
  const date = `${now.getUTCFullYear()}-${twoDigits(now.getUTCMonth() + 1)}-${twoDigits(now.getUTCDate())}@` +
    `${twoDigits(now.getUTCHours())}:${twoDigits(now.getUTCMinutes())}:${twoDigits(now.getUTCSeconds())}`;
  const text = (o: unknown) => new TextEncoder().encode(JSON.stringify(o));
  // Keras stores every entry uncompressed; fflate keeps the insertion order.
  return zipSync({
    [METADATA_JSON]: [text({ keras_version: KERAS_VERSION, date_saved: date }), { level: 0 }],
    [CONFIG_JSON]: [text(config), { level: 0 }],
    [WEIGHTS_H5]: [encodeHdf5(root), { level: 0 }],
  });
}
