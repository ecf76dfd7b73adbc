/** File system IO for layers models in Node, without tfjs-node. */
export { fileSystem, readModelArtifacts, writeModelArtifacts } from './file_system';
export type { FileSystemOptions } from './file_system';
export { registerFileSystemRouters } from './router';
export { loadModel, saveModel } from './load_save';
export { ModelFileError } from './errors';
export { fromKeras3, isKeras3, KerasFormatError, registerKeras3Loading } from './keras3';
// Keras's own files: .keras archives and .h5 models, read anywhere and written in Node.
export { loadKerasModel } from './keras3/load_keras';
export type { KerasSource, LoadKerasOptions } from './keras3/load_keras';
export { saveKerasModel } from './keras3/node';
export { kerasArchiveBytes } from './keras3/write_keras';
export { readKerasFile } from './keras3/read';
export type { KerasReadOptions } from './keras3/read';
