/** Keras 3 models: the translation into what tfjs-layers reads, and where loaders apply it. */
import type * as tf from '@tensorflow/tfjs';
import { ModelFileError } from '../errors';
import { fromKeras3, KerasFormatError } from './translate';

export { fromKeras3, isKeras3, KerasFormatError } from './translate';
export { registerKeras3Loading } from './hook';

/**
 * `fromKeras3` for artifacts read from `file`: a problem becomes a ModelFileError naming the file.
 *
 * Usage: `const artifacts = fromKeras3File(await readRaw(file), file);`
 */
export function fromKeras3File(artifacts: tf.io.ModelArtifacts, file: string): tf.io.ModelArtifacts {
  try {
    return fromKeras3(artifacts);
  } catch (e) {
    if (e instanceof KerasFormatError) throw new ModelFileError(file, `is a Keras 3 model TF.js cannot load: ${e.message}`);
    throw e;
  }
}
