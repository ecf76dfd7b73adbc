/** File system IO for layers models in Node, without tfjs-node. */
export { fileSystem, readModelArtifacts, writeModelArtifacts } from './file_system';
export type { FileSystemOptions } from './file_system';
export { registerFileSystemRouters } from './router';
export { loadModel, saveModel } from './load_save';
export { ModelFileError } from './errors';
export { fromKeras3, isKeras3, KerasFormatError, registerKeras3Loading } from './keras3';
