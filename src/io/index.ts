/**
 * `tfjs-batchnorm/io`: layers models from and to the file system in Node, without tfjs-node,
 * and Keras 3 models (.keras, .h5, Keras 3 model.json) read as tfjs models. Importing it
 * registers this package's layers (so the models it loads may hold them), `file://` routers for
 * `model.save` and `tf.loadLayersModel`, and Keras 3 translation in the loads of tfjs's own
 * HTTP, browser-file and in-memory handlers.
 *
 * Usage: `import { loadModel, saveModel } from 'tfjs-batchnorm/io';`
 */
import '../index';
import { registerKeras3Loading } from './keras3';
import { registerFileSystemRouters } from './router';
export { fileSystem } from './file_system';
export type { FileSystemOptions } from './file_system';
export { loadModel, saveModel } from './load_save';
export { ModelFileError } from './errors';
export { fromKeras3, isKeras3, KerasFormatError } from './keras3';
// Keras's own files: .keras archives and .h5 models, read anywhere and written in Node.
export { loadKerasModel } from './keras3/load_keras';
export type { KerasSource, LoadKerasOptions } from './keras3/load_keras';
export { saveKerasModel } from './keras3/node';
export { kerasArchiveBytes } from './keras3/write_keras';
export { readKerasFile } from './keras3/read';
export type { KerasReadOptions } from './keras3/read';

registerFileSystemRouters();
registerKeras3Loading();
