/**
 * Stock <-> custom BatchNormalization conversion: rewrites the class name of every BN layer
 * (nested models included) in the model's JSON config and rebuilds it with the same weights.
 * Both classes take the same config keys and hold the same four weights in the same order.
 */
import * as tf from '@tensorflow/tfjs';
import '../layer/aliases';
import '../layer/stock_loader';
import { ALIAS_BN, bakesTraining, CUSTOM_BN, STOCK_BN, walkLayers } from './model_config';
import { leafLayers, pathKey, rebuildModel, topologyOf } from './rebuild';
import { stockAxisProblem } from './stock_axis';
import { toStockForm } from './stock_features';

export type BatchNormKind = 'custom' | 'stock';

export interface ConversionResult {
  model: tf.LayersModel;
  /** Paths (model names, then layer name) of the layers whose class changed. */
  converted: string[][];
  /** Converted layers that will not predict like the originals (stock BN on a non-last axis). */
  warnings: string[];
}

/**
 * Converts every BatchNormalization layer to `to` ('custom': this package's
 * TfjsBatchNormalization; 'stock': tfjs's built-in). The input model is not changed.
 *
 * Usage: `const { model: stock, converted } = await convertBatchNorm(model, 'stock');`
 */
export async function convertBatchNorm(model: tf.LayersModel, to: BatchNormKind): Promise<ConversionResult> {
  // The aliases TF wrote (BatchNormalizationV1, ...) become the canonical name either way.
  const [from, target] = to === 'custom' ? [[STOCK_BN, ...ALIAS_BN], CUSTOM_BN] : [[CUSTOM_BN, ...ALIAS_BN], STOCK_BN];
  const topology = topologyOf(model);
  const converted: string[][] = [];
  const warnings: string[] = [];
  const layers = leafLayers(model);
  // Weights of BNs whose stock form drops renorm / ghost-batch weights or shapes.
  const replacement = new Map<string, tf.Tensor[]>();
  walkLayers(topology, (layer, path) => {
    if (!from.includes(layer.class_name)) return;
    layer.class_name = target;
    converted.push(path);
    const problem = to === 'stock' ? stockAxisProblem(layer, layers.get(pathKey(path))) : null;
    if (problem != null) warnings.push(`${path.slice(1).join('/')}: ${problem}`);
    if (to === 'stock' && bakesTraining(layer)) {
      warnings.push(`${path.slice(1).join('/')}: its call was saved with training=true, which tfjs's built-in ` +
        'BatchNormalization ignores (it will use the moving statistics at inference)');
    }
    const stock = to === 'stock' ? toStockForm(layer, layers.get(pathKey(path))) : null;
    if (stock != null) {
      replacement.set(pathKey(path), stock.weights);
      warnings.push(`${path.slice(1).join('/')}: ${stock.note}`);
    }
  });
  try {
    return { model: await rebuildModel(topology, model, replacement), converted, warnings };
  } finally {
    tf.dispose([...replacement.values()].flat());
  }
}

/**
 * A copy of `model` with every BatchNormalization (also inside nested models) replaced by this
 * package's layer, weights kept.
 *
 * Usage: `const custom = await toCustomBatchNorm(await tf.loadLayersModel('file://m/model.json'));`
 */
export async function toCustomBatchNorm(model: tf.LayersModel): Promise<tf.LayersModel> {
  return (await convertBatchNorm(model, 'custom')).model;
}

/**
 * A copy of `model` with every TfjsBatchNormalization replaced by tfjs's built-in, weights kept:
 * the saved result loads in plain `@tensorflow/tfjs` without this package. (BNs on a non-last
 * axis are converted too, but tfjs's built-in gets them wrong; convertBatchNorm warns.)
 *
 * Usage: `await (await toStockBatchNorm(model)).save('file://m-stock');`
 */
export async function toStockBatchNorm(model: tf.LayersModel): Promise<tf.LayersModel> {
  return (await convertBatchNorm(model, 'stock')).model;
}
