/**
 * Builds a layers model from checked artifacts without trusting the layer configs: every weight
 * a layer creates starts as zeros (no initializer runs for weights the file provides), the total
 * may not exceed what the weights manifest holds (so a 1 KB file declaring a 20000 x 20000 Dense
 * fails before allocating), the built weights must match the manifest by name and shape, and on
 * any failure every tensor created so far is disposed.
 */
import * as tf from '@tensorflow/tfjs';
import { ModelFileError } from './errors';
import { checkTopology, DEFAULT_MAX_LAYERS } from './topology';

type LayerVariable = tf.LayerVariable;
type AddWeight = (this: tf.layers.Layer, name: string, shape: number[], dtype?: tf.DataType, ...rest: unknown[]) => LayerVariable;

/**
 * The manifest entries that hold model weights (optimizer state is for resuming training).
 *
 * Usage: `const specs = modelWeightSpecs(artifacts.weightSpecs ?? []);`
 */
export function modelWeightSpecs(specs: tf.io.WeightsManifestEntry[]): tf.io.WeightsManifestEntry[] {
  return specs.filter((s) => s.group !== 'optimizer');
}

const count = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/**
 * Builds the model in `artifacts.modelTopology` with zero-filled weights, checked against
 * `artifacts.weightSpecs`. Throws ModelFileError naming `file`; leaks nothing on failure.
 *
 * Usage: `const model = await buildChecked(artifacts, 'm/model.json'); model.loadWeights(weights);`
 */
export async function buildChecked(artifacts: tf.io.ModelArtifacts, file: string,
  maxLayers = DEFAULT_MAX_LAYERS): Promise<tf.LayersModel> {
  checkTopology(artifacts.modelTopology, file, maxLayers);
  const specs = modelWeightSpecs(artifacts.weightSpecs ?? []);
  const provided = specs.reduce((sum, s) => sum + count(s.shape), 0);
  let remaining = provided;
  const created: LayerVariable[] = [];
  const zeros = { apply: (shape: number[], dtype?: tf.DataType) => tf.zeros(shape, dtype) };
  const proto = tf.layers.Layer.prototype as unknown as { addWeight: AddWeight };
  const original = proto.addWeight;
  proto.addWeight = function addWeightWithinBudget(name, shape, dtype, ...rest) {
    const n = count(shape);
    if (!(n <= remaining)) {
      throw new ModelFileError(file, `layer '${this.name}' creates weight '${name}' of shape ${JSON.stringify(shape)} ` +
        `(${n} values) from its config, more than the weights manifest provides (${provided} values for all ` +
        'layers); expected layer configs that match the manifest.');
    }
    remaining -= n;
    // Arguments 3 and 7 of addWeight are the initializer and its factory: both become zeros.
    const args = [...rest];
    args[0] = zeros;
    args[4] = () => zeros;
    const variable = original.call(this, name, shape, dtype, ...args);
    created.push(variable);
    return variable;
  } as AddWeight;
  let pending: Promise<tf.LayersModel>;
  try {
    // modelFromJSON deserializes synchronously before its first await, so the patch is only in
    // place while this model is built.
    pending = tf.models.modelFromJSON({ modelTopology: artifacts.modelTopology as tf.io.ModelJSON['modelTopology'] });
  } finally {
    proto.addWeight = original;
  }
  let model: tf.LayersModel | null = null;
  try {
    model = await pending;
    checkWeightsMatch(model, specs, file);
    return model;
  } catch (e) {
    // The model may not exist yet (a later layer failed): dispose what was created one by one.
    for (const v of created) {
      try {
        v.dispose();
      } catch {
        // Already disposed with its layer.
      }
    }
    if (e instanceof ModelFileError) throw e;
    throw new ModelFileError(file, `is not a loadable layers model: ${(e as Error).message}`);
  }
}

/** The model's weights and the manifest must name the same weights with the same shapes. */
function checkWeightsMatch(model: tf.LayersModel, specs: tf.io.WeightsManifestEntry[], file: string): void {
  const wanted = new Map(model.weights.map((w) => [w.originalName, w.shape]));
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const spec of specs) {
    seen.add(spec.name);
    const shape = wanted.get(spec.name);
    if (shape == null) problems.push(`the manifest has weight "${spec.name}", which no layer of the model creates`);
    else if (JSON.stringify(shape) !== JSON.stringify(spec.shape)) {
      problems.push(`weight "${spec.name}" has shape ${JSON.stringify(spec.shape)} in the manifest, but the layer ` +
        `config gives ${JSON.stringify(shape)}`);
    }
  }
  for (const name of wanted.keys()) if (!seen.has(name)) problems.push(`the manifest lacks weight "${name}"`);
  if (problems.length > 0) {
    const more = problems.length > 3 ? ` (and ${problems.length - 3} more)` : '';
    throw new ModelFileError(file, `the weights manifest does not match the model: ${problems.slice(0, 3).join('; ')}${more}.`);
  }
}
