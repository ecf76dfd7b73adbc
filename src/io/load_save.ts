/**
 * Load and save helpers that always use this package's handler (even when tfjs-node is around)
 * and put the file name into every error, including tfjs's own "weights do not match" errors.
 */
import * as tf from '@tensorflow/tfjs';
import { ModelFileError } from './errors';
import { buildChecked, modelWeightSpecs } from './build';
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
 * Builds a model from read artifacts (see buildChecked) and loads their weights into it; `file`
 * names the source in errors.
 *
 * Usage: `const model = await modelFromArtifacts(readKerasFile(bytes, 'm.keras'), 'm.keras');`
 */
export async function modelFromArtifacts(artifacts: tf.io.ModelArtifacts, file: string,
  options: FileSystemOptions = {}): Promise<tf.LayersModel> {
  const model = await buildChecked(artifacts, file, options.maxLayers);
  let weights: tf.NamedTensorMap = {};
  try {
    // tfjs-core and tfjs-layers declare the same TrainingConfig JSON twice.
    type LayersTrainingConfig = Parameters<tf.LayersModel['loadTrainingConfig']>[0];
    if (artifacts.trainingConfig != null) model.loadTrainingConfig(artifacts.trainingConfig as LayersTrainingConfig);
    if (artifacts.userDefinedMetadata != null) model.setUserDefinedMetadata(artifacts.userDefinedMetadata);
    // Optimizer state is for resuming training; inference tools leave it out, as tfjs does without an optimizer.
    const keep = new Set(modelWeightSpecs(artifacts.weightSpecs ?? []).map((s) => s.name));
    weights = tf.io.decodeWeights(artifacts.weightData ?? new ArrayBuffer(0), artifacts.weightSpecs ?? []);
    for (const name of Object.keys(weights)) {
      if (!keep.has(name)) { weights[name].dispose(); delete weights[name]; }
    }
    model.loadWeights(weights, true);
    return model;
  } catch (e) {
    model.dispose();
    // Past our checks, tfjs failed to build the model or to match the manifest to its weights.
    throw new ModelFileError(file, `is not a loadable layers model: ${(e as Error).message}`);
  } finally {
    tf.dispose(weights);
  }
}

/**
 * Saves a model into a directory as model.json + one weight shard, crash-safely, keeping the folder's other
 * entries (see saveInPlace).
 *
 * Usage: `await saveModel(model, 'models/net-folded');`
 */
export async function saveModel(model: tf.LayersModel, dir: string, options: FileSystemOptions = {}): Promise<void> {
  await model.save(fileSystem(dir, options));
}
