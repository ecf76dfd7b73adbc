/**
 * Keras `.keras` and `.h5` files on the local file system (Node): read with a size limit, only
 * regular files, then parsed as in a browser (see read.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { readRegularFile } from '../safe_read';
import { DEFAULT_MAX_KERAS_FILE_BYTES, KerasReadOptions, readKerasFile } from './read';

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
 * Reads a `.keras` or `.h5` file into the artifacts the TF.js converter writes from it.
 *
 * Usage: `const artifacts = await readKerasModelFile('models/net.keras');`
 */
export async function readKerasModelFile(file: string, options: KerasReadOptions = {}): Promise<tf.io.ModelArtifacts> {
  const max = options.maxFileBytes ?? DEFAULT_MAX_KERAS_FILE_BYTES;
  const bytes = await readRegularFile(file, max, 'a Keras .keras or .h5 model file', '(raise it with the maxFileBytes option)');
  return readKerasFile(bytes, file, options);
}
