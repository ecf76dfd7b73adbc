/**
 * Artifacts already read and checked -> a model with their weights, without the file system, so
 * that Node's loadModel and the browser's loadKerasModel build models the same way.
 */
import * as tf from '@tensorflow/tfjs';
import { ModelFileError } from './errors';
import { buildChecked, LoadChecks, modelWeightSpecs } from './build';

/**
 * Builds a model from read artifacts (see buildChecked) and loads their weights into it; `file`
 * names the source in errors.
 *
 * Usage: `const model = await modelFromArtifacts(kerasArtifacts(bytes, 'm.keras'), 'm.keras');`
 */
export async function modelFromArtifacts(artifacts: tf.io.ModelArtifacts, file: string,
  checks: LoadChecks = {}): Promise<tf.LayersModel> {
  // Built with the training config loaded, if the file has one.
  const model = await buildChecked(artifacts, file, checks);
  let weights: tf.NamedTensorMap = {};
  try {
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
