/**
 * Stock <-> custom conversion of BatchNormalization and LayerNormalization: rewrites the class
 * name of every such layer (nested models included) in the model's JSON config and rebuilds it
 * with the same weights. Stock and custom classes take the same config keys (the custom ones a
 * few more, which stock tfjs ignores) and hold the same weights in the same order.
 */
import * as tf from '@tensorflow/tfjs';
// Rebuilding a model from its config needs every class of the package registered.
import '../layer/all';
import { CUSTOM_LN, STOCK_LN } from '../core/class_names';
import { ALIAS_BN, bakesTraining, CUSTOM_BN, LayerConfig, STOCK_BN, walkLayers } from './model_config';
import { leafLayers, pathKey, rebuildModel, topologyOf } from './rebuild';
import { stockAxisProblem } from './stock_axis';
import { toStockForm } from './stock_features';

/** The class a conversion moves to: 'custom' (this package's layers) or 'stock' (tfjs's built-ins). */
export type ConversionTarget = 'custom' | 'stock';
/** Which layers to convert: BatchNormalization (and the names TF wrote for it), LayerNormalization. */
export type NormalizationFamily = 'batchNormalization' | 'layerNormalization';

export interface ConversionResult {
  model: tf.LayersModel;
  /** Paths (model names, then layer name) of the layers whose class changed. */
  converted: string[][];
  /** Converted layers that will not predict like the originals (stock BN on a non-last axis), and layers left as they were. */
  warnings: string[];
  /** How many layers of each family changed class. */
  counts: Record<NormalizationFamily, number>;
}

/** The class names converted from, and the one converted to, per family and direction. */
function classNames(family: NormalizationFamily, to: ConversionTarget): [string[], string] {
  if (family === 'layerNormalization') return to === 'custom' ? [[STOCK_LN], CUSTOM_LN] : [[CUSTOM_LN], STOCK_LN];
  // The aliases TF wrote (BatchNormalizationV1, ...) become the canonical name either way.
  return to === 'custom' ? [[STOCK_BN, ...ALIAS_BN], CUSTOM_BN] : [[CUSTOM_BN, ...ALIAS_BN], STOCK_BN];
}

/**
 * Why a LayerNormalization cannot switch class, or null if it can: tfjs's built-in has no
 * rmsScaling, and it shapes gamma in the order the axes are given while this package (as Keras)
 * sorts them, so an unsorted axis list would not carry its weights over.
 */
function layerNormProblem(layer: LayerConfig, to: ConversionTarget): string | null {
  const axis = layer.config['axis'];
  if (Array.isArray(axis) && axis.some((a, i) => i > 0 && Number(a) < Number(axis[i - 1]))) {
    return `its axis list ${JSON.stringify(axis)} is not sorted, so gamma's shape differs between the two classes`;
  }
  if (to === 'stock' && (layer.config['rms_scaling'] === true)) return 'it uses rms_scaling, which the built-in lacks';
  return null;
}

/**
 * Converts every BatchNormalization and/or LayerNormalization layer to `to` ('custom': this
 * package's TfjsBatchNormalization / TfjsLayerNormalization; 'stock': tfjs's built-ins). A
 * LayerNormalization that cannot switch (see warnings) stays as it is. The input model is not
 * changed.
 *
 * Usage: `const { model: stock, warnings } = await convertNormalization(model, 'stock');` (BatchNormalization only:
 * `convertNormalization(model, 'custom', ['batchNormalization'])`)
 */
export async function convertNormalization(model: tf.LayersModel, to: ConversionTarget,
  families: NormalizationFamily[] = ['batchNormalization', 'layerNormalization']): Promise<ConversionResult> {
  const topology = topologyOf(model);
  const converted: string[][] = [];
  const warnings: string[] = [];
  const layers = leafLayers(model);
  const where = (path: string[]) => path.slice(1).join('/');
  const counts: Record<NormalizationFamily, number> = { batchNormalization: 0, layerNormalization: 0 };
  // Weights of BNs whose stock form drops renorm / ghost-batch weights or shapes.
  const replacement = new Map<string, tf.Tensor[]>();
  for (const family of families) {
    const [from, target] = classNames(family, to);
    walkLayers(topology, (layer, path) => {
      if (!from.includes(layer.class_name)) return;
      if (family === 'layerNormalization') {
        const problem = layerNormProblem(layer, to);
        if (problem != null) {
          warnings.push(`${where(path)}: left as ${layer.class_name} because ${problem}`);
          return;
        }
        const constrained = ['beta_constraint', 'gamma_constraint'].filter((k) => layer.config[k] != null);
        if (to === 'stock' && constrained.length > 0) {
          warnings.push(`${where(path)}: tfjs's built-in LayerNormalization ignores ${constrained.join(' and ')}`);
        }
      }
      layer.class_name = target;
      converted.push(path);
      counts[family]++;
      if (family !== 'batchNormalization' || to !== 'stock') return;
      const problem = stockAxisProblem(layer, layers.get(pathKey(path)));
      if (problem != null) warnings.push(`${where(path)}: ${problem}`);
      if (bakesTraining(layer)) {
        warnings.push(`${where(path)}: its call was saved with training=true, which tfjs's built-in ` +
          'BatchNormalization ignores (it will use the moving statistics at inference)');
      }
      const stock = toStockForm(layer, layers.get(pathKey(path)));
      if (stock != null) {
        replacement.set(pathKey(path), stock.weights);
        warnings.push(`${where(path)}: ${stock.note}`);
      }
    });
  }
  try {
    return { model: await rebuildModel(topology, model, replacement), converted, warnings, counts };
  } finally {
    tf.dispose([...replacement.values()].flat());
  }
}
