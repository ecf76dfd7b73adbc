/**
 * Keras `.keras` and `.h5` files on the local file system (Node): read with a size limit, only
 * regular files, then parsed as in a browser (see read.ts).
 */
import * as fs from 'fs';
import * as path from 'path';
import { randomBytes } from 'crypto';
import * as tf from '@tensorflow/tfjs';
import { readRegularFile } from '../safe_read';
import { syncDirectory, WriteFile, writeFileDurably } from '../save_in_place';
import { kerasArchiveBytes } from './write_keras';
import { DEFAULT_MAX_KERAS_FILE_BYTES, kerasArtifacts, KerasReadOptions } from './read';

/** File names loadModel reads as Keras files rather than as model.json. */
const KERAS_FILE = /\.(keras|h5|hdf5)$/i;

/**
 * Whether `file` names a Keras archive or HDF5 model (by its extension).
 *
 * Usage: `if (isKerasFileName('m.keras')) ...`
 */
export function isKerasFileName(file: string): boolean {
  return KERAS_FILE.test(file);
}

/**
 * Reads a `.keras` or `.h5` file into artifacts tfjs-layers reads (see kerasArtifacts).
 *
 * Usage: `const artifacts = await readKerasModelFile('models/net.keras');`
 */
export async function readKerasModelFile(file: string, options: KerasReadOptions = {}): Promise<tf.io.ModelArtifacts> {
  const max = options.maxFileBytes ?? DEFAULT_MAX_KERAS_FILE_BYTES;
  const bytes = await readRegularFile(file, max, 'a Keras .keras or .h5 model file', '(raise it with the maxFileBytes option)');
  return kerasArtifacts(bytes, file, options);
}

/**
 * Saves `model` as a Keras 3 `.keras` archive at `file`, crash-safely: the archive is built in
 * memory first (a layer Keras cannot load fails before anything is written), written to a
 * temporary file beside `file`, flushed, then renamed over `file` in one step. A crash at any
 * moment leaves the old file or the new one, never a part.
 *
 * Usage: `await saveKerasModel(model, 'models/net.keras');`
 */
export async function saveKerasModel(model: tf.LayersModel, file: string,
  writeFile: WriteFile = writeFileDurably): Promise<void> {
  const bytes = await kerasArchiveBytes(model);
  const dir = path.dirname(path.resolve(file));
  const temp = path.join(dir, `.${path.basename(file)}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    await writeFile(temp, bytes);
    await fs.promises.rename(temp, file);
  } catch (e) {
    await fs.promises.rm(temp, { force: true });
    throw new Error(`Saving the model to ${file} failed (${(e as Error).message}); ${file} was left as it was.`);
  }
  await syncDirectory(dir);
}
