/**
 * Builds a new model from an edited JSON config and fills its weights from the old model,
 * layer by layer (matched by the path of model and layer names), so conversion and folding
 * never depend on weight order across a whole model.
 */
import * as tf from '@tensorflow/tfjs';
import { ModelConfig } from './model_config';
import { asWritten } from '../layer/stock_loader';

/** Path key of a layer: the names of the models around it, then its own name. */
export function pathKey(path: string[]): string {
  return JSON.stringify(path);
}

/**
 * Every non-model layer of `model` and its nested models, keyed by pathKey([...model names, layer name]).
 *
 * Usage: `const bn = leafLayers(model).get(pathKey(['seq', 'bn_Conv1']));`
 */
export function leafLayers(model: tf.LayersModel, path: string[] = [model.name],
  out = new Map<string, tf.layers.Layer>()): Map<string, tf.layers.Layer> {
  for (const layer of model.layers) {
    if (layer instanceof tf.LayersModel) leafLayers(layer, [...path, layer.name], out);
    else out.set(pathKey([...path, layer.name]), layer);
  }
  return out;
}

/** The model config (pythonic JSON) of a model, as model.json stores it. */
export function topologyOf(model: tf.LayersModel): ModelConfig {
  return model.toJSON(null, false) as unknown as ModelConfig;
}

/**
 * Instantiates `topology` and sets each layer's weights: from `replacement` when it has an
 * entry for the layer's path key, else copied from the same path in `source`. The caller owns
 * the replacement tensors (they are copied, so they can be disposed afterwards).
 *
 * Usage: `const model = await rebuildModel(topology, source, new Map());`
 */
export async function rebuildModel(topology: ModelConfig, source: tf.LayersModel,
  replacement: Map<string, tf.Tensor[]>): Promise<tf.LayersModel> {
  // The classes in `topology` are the ones conversion chose: no loader may swap them.
  const model = await asWritten(() => tf.models.modelFromJSON({ modelTopology: topology as unknown as tf.io.ModelJSON['modelTopology'] }));
  const old = leafLayers(source);
  try {
    for (const [key, layer] of leafLayers(model)) {
      if (layer.weights.length === 0) continue;
      const weights = replacement.get(key) ?? old.get(key)?.getWeights();
      if (weights == null) throw new Error(`Layer ${key} of the rebuilt model has no counterpart in the source model.`);
      layer.setWeights(weights);
    }
  } catch (e) {
    model.dispose();
    throw e;
  }
  return model;
}
