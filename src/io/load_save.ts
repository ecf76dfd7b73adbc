/**
 * Load and save helpers that always use this package's handler (even when tfjs-node is around)
 * and put the file name into every error, including tfjs's own "weights do not match" errors.
 */
import * as tf from '@tensorflow/tfjs';
import { ModelFileError } from './errors';
import { fileSystem, FileSystemOptions, stripFileScheme } from './file_system';

/**
 * Loads a layers model from a model.json path (or its directory, or a file:// URL). Does what
 * tf.loadLayersModel does, but disposes the half-built model when the weights do not fit it.
 *
 * Usage: `const model = await loadModel('models/net/model.json');`
 */
export async function loadModel(modelPath: string): Promise<tf.LayersModel> {
  const file = stripFileScheme(modelPath);
  const artifacts = await fileSystem(file).load!();
  let model: tf.LayersModel | null = null;
  let weights: tf.NamedTensorMap = {};
  try {
    model = await tf.models.modelFromJSON({ modelTopology: artifacts.modelTopology as tf.io.ModelJSON['modelTopology'] });
    // tfjs-core and tfjs-layers declare the same TrainingConfig JSON twice.
    type LayersTrainingConfig = Parameters<tf.LayersModel['loadTrainingConfig']>[0];
    if (artifacts.trainingConfig != null) model.loadTrainingConfig(artifacts.trainingConfig as LayersTrainingConfig);
    if (artifacts.userDefinedMetadata != null) model.setUserDefinedMetadata(artifacts.userDefinedMetadata);
    const specs = artifacts.weightSpecs ?? [];
    weights = tf.io.decodeWeights(artifacts.weightData ?? new ArrayBuffer(0), specs);
    // Optimizer state is for resuming training; inference tools leave it out, as tfjs does without an optimizer.
    for (const spec of specs) if (spec.group === 'optimizer') { weights[spec.name].dispose(); delete weights[spec.name]; }
    model.loadWeights(weights, true);
    return model;
  } catch (e) {
    model?.dispose();
    // Past our checks, tfjs failed to build the model or to match the manifest to its weights.
    throw new ModelFileError(file, `is not a loadable layers model: ${(e as Error).message}`);
  } finally {
    tf.dispose(weights);
  }
}

/**
 * Saves a model into a directory as model.json + weights.bin, atomically.
 *
 * Usage: `await saveModel(model, 'models/net-folded');`
 */
export async function saveModel(model: tf.LayersModel, dir: string, options: FileSystemOptions = {}): Promise<void> {
  await model.save(fileSystem(dir, options));
}
