/**
 * Batch renormalization (`renorm`) and ghost batches (`virtual_batch_size`) change only how a
 * BatchNormalization trains; in inference it is the plain formula with the moving statistics.
 * tfjs's built-in has neither, so a BN that uses them becomes a stock one by dropping their
 * config keys and extra weights (`moving_stddev`, `renorm_mean`, `renorm_stddev`) and giving the
 * four built-in weights their plain [C] shape: it then predicts the same, and trains without them.
 */
import * as tf from '@tensorflow/tfjs';
import { batchNormWeightNames, hasTrainingOnlyKeys, removeTrainingOnlyKeys, trainingOnlyFeatures } from '../core/batch_norm_config';
import { bakesTraining, LayerConfig } from './model_config';

/** The stock form of one BN: its weights, and what was dropped. */
export interface StockForm {
  /** gamma?, beta?, moving_mean, moving_variance, each [C]; the caller disposes them. */
  weights: tf.Tensor[];
  /** E.g. `batch renormalization dropped (training only; inference is unchanged)`. */
  note: string;
}

/**
 * Rewrites `bn` (a model.json layer entry, snake_case) into what tfjs's built-in accepts and
 * returns the matching weights from `layer`, or null (and leaves `bn` alone) when it uses
 * neither batch renormalization nor ghost batches.
 *
 * Usage: `const stock = toStockForm(bnConfig, bnLayer); if (stock) replacement.set(key, stock.weights);`
 */
export function toStockForm(bn: LayerConfig, layer: tf.layers.Layer | undefined): StockForm | null {
  const features = trainingOnlyFeatures(bn.config);
  if (!hasTrainingOnlyKeys(bn.config) || layer == null) return null;
  removeTrainingOnlyKeys(bn.config);
  // The built-in's weights come first, in the same order; the renorm ones follow them.
  const count = batchNormWeightNames(bn.config).length;
  // getWeights() hands out the variables themselves: reshape copies, so the caller may dispose.
  const weights = layer.getWeights().slice(0, count).map((w) => tf.tidy(() => tf.clone(tf.reshape(w, [-1]))));
  // A call saved with training=true normalizes with batch statistics even in predict: there,
  // dropping renorm or ghost batches does change the output.
  const effect = bakesTraining(bn) ? 'its call was saved with training=true, so its outputs change'
    : 'training only; inference is unchanged';
  const note = features.length === 0 ? 'renorm arguments dropped (renorm was off)'
    : `${features.join(' and ')} dropped (${effect})`;
  return { weights, note };
}
