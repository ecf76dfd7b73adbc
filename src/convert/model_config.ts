/**
 * A walker over a layers model's JSON config (the pythonic form `model.toJSON(null, false)`
 * returns and model.json stores), shared by conversion and folding. It visits every model,
 * including Sequential and functional models nested as layers, with its path of model names.
 */
import { MODEL_CLASSES } from '../core/class_names';
import { parseAxisArg } from '../core/axis';
import { isTruthyTraining } from '../core/batch_norm_config';

/** One layer entry in a model config: `{class_name, config, name?, inbound_nodes?}`. */
export interface LayerConfig {
  class_name: string;
  config: Record<string, unknown>;
  name?: string;
  inbound_nodes?: unknown[];
}

/** A (sub)model config: a LayerConfig whose config holds `layers`. */
export interface ModelConfig extends LayerConfig {
  config: Record<string, unknown> & {
    name?: string;
    layers: LayerConfig[];
    input_layers?: unknown[];
    output_layers?: unknown[];
  };
}

export { ALIAS_BN, CUSTOM_BN, MODEL_CLASSES, STOCK_BN } from '../core/class_names';

/**
 * True for a Sequential / functional model config (one that has a layer list).
 *
 * Usage: `if (isModelConfig(layer)) walkModels(layer, visit);`
 */
export function isModelConfig(layer: LayerConfig): layer is ModelConfig {
  return MODEL_CLASSES.includes(layer.class_name) && Array.isArray((layer.config as { layers?: unknown }).layers);
}

/**
 * A BatchNormalization config's `axis` as a number (Keras 2 writes `[3]`), or null if it is not one.
 *
 * Usage: `configAxis({ class_name: 'BatchNormalization', config: { axis: [3] } }) // 3`
 */
export function configAxis(bn: LayerConfig): number | null {
  const axes = parseAxisArg(bn.config['axis'], [-1]);
  return axes != null && axes.length === 1 ? axes[0] : null;
}

/** A layer's name: functional configs put it beside class_name, Sequential ones in config. */
export function layerName(layer: LayerConfig): string {
  return (layer.name ?? layer.config['name']) as string;
}

/**
 * Calls `visit(model, path)` for `root` and every model nested in it, depth first, parents
 * before children. `path` is the list of model names from the root to `model` (inclusive).
 * `visit` may edit `model.config.layers`; nested models are found after the edit.
 *
 * Usage: `walkModels(topology, (model) => model.config.layers.forEach(rename));`
 */
export function walkModels(root: ModelConfig, visit: (model: ModelConfig, path: string[]) => void,
  path: string[] = [layerName(root) ?? '']): void {
  visit(root, path);
  for (const layer of root.config.layers) {
    if (isModelConfig(layer)) walkModels(layer, visit, [...path, layerName(layer)]);
  }
}

/**
 * Calls `visit(layer, path)` for every non-model layer in `root` and its nested models, where
 * `path` is the model path plus the layer name.
 *
 * Usage: `walkLayers(topology, (layer) => { if (layer.class_name === STOCK_BN) count++; });`
 */
export function walkLayers(root: ModelConfig, visit: (layer: LayerConfig, path: string[]) => void): void {
  walkModels(root, (model, path) => {
    for (const layer of model.config.layers) {
      if (!isModelConfig(layer)) visit(layer, [...path, layerName(layer)]);
    }
  });
}

/** Counts layers of the given class names anywhere in the model. */
export function countLayers(root: ModelConfig, classNames: string[]): number {
  let n = 0;
  walkLayers(root, (layer) => { if (classNames.includes(layer.class_name)) n++; });
  return n;
}

/**
 * True when a layer's call was saved with a truthy `training` kwarg (`BatchNormalization()(x,
 * training=True)` in Keras stores `{"training": true}` or `1` in its inbound node), which Keras
 * honours at every later call, predict included.
 *
 * Usage: `if (bakesTraining(bn)) keep('it uses batch statistics at inference');`
 */
export function bakesTraining(layer: LayerConfig): boolean {
  return (layer.inbound_nodes ?? []).some((node) => Array.isArray(node) && node.some((ref) => {
    const kwargs = Array.isArray(ref) ? ref[3] as Record<string, unknown> | undefined : undefined;
    return isTruthyTraining(kwargs?.['training']);
  }));
}
