/**
 * `tfjs-batchnorm/keras`: Keras's own files anywhere JavaScript runs, a page included (no Node
 * built-ins): load a `.keras` archive or `.h5` model from a URL, a File or bytes, read one into
 * artifacts, build a `.keras` archive's bytes, and the Keras 3 translation itself. In Node,
 * `tfjs-batchnorm/io` has the same plus file paths (loadModel, saveKerasModel). Importing it
 * registers this package's layers (Keras files may hold them: GroupNormalization,
 * RMSNormalization, ...) and the Keras 3 translation in the loads of tfjs's own HTTP,
 * browser-file and in-memory handlers, as `tfjs-batchnorm/io` does.
 *
 * Usage: `import { loadKerasModel } from 'tfjs-batchnorm/keras'; const model = await loadKerasModel(file);`
 */
import '../../index';
import { registerKeras3Loading } from './index';
export { loadKerasModel } from './load_keras';
export type { KerasSource, LoadKerasOptions } from './load_keras';
export { kerasArtifacts, readKerasFile } from './read';
export type { KerasReadOptions } from './read';
export { kerasArchiveBytes } from './write_keras';
export { fromKeras3, isKeras3, KerasFormatError, registerKeras3Loading } from './index';
export { ModelFileError } from '../errors';

registerKeras3Loading();
