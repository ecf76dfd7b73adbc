/**
 * Load and save helpers that always use this package's handler (even when tfjs-node is around)
 * and put the file name into every error, including tfjs's own "weights do not match" errors.
 */
import * as tf from '@tensorflow/tfjs';
import { modelFromArtifacts } from './from_artifacts';
import { fileSystem, FileSystemOptions, readModelArtifacts, resolveModelJson, stripFileScheme } from './file_system';
import { isKerasFileName, readKerasModelFile } from './keras3/node';
import type { KerasReadOptions } from './keras3/read';

/**
 * Loads a layers model from a model.json path (or its directory, or a file:// URL), or from a
 * Keras `.keras` archive or `.h5` file. Does what tf.loadLayersModel does, after checking the files
 * (see readModelArtifacts, readKerasModelFile) and the topology against the manifest (see
 * buildChecked); no initializer runs, and nothing leaks on failure.
 *
 * Usage: `const model = await loadModel('models/net/model.json'); const k = await loadModel('net.keras');`
 */
export async function loadModel(modelPath: string, options: FileSystemOptions & KerasReadOptions = {}): Promise<tf.LayersModel> {
  const plain = stripFileScheme(modelPath);
  if (isKerasFileName(plain)) return modelFromArtifacts(await readKerasModelFile(plain, options), plain, options);
  const file = await resolveModelJson(plain);
  return modelFromArtifacts(await readModelArtifacts(file, options), file, options);
}

/**
 * Saves a model into a directory as model.json + one weight shard, crash-safely, keeping the folder's other
 * entries (see saveInPlace). Resolves to tfjs's `SaveResult`, as `model.save()` does.
 *
 * Usage: `const { modelArtifactsInfo } = await saveModel(model, 'models/net-folded');`
 */
export async function saveModel(model: tf.LayersModel, dir: string, options: FileSystemOptions = {}): Promise<tf.io.SaveResult> {
  return model.save(fileSystem(dir, options));
}
