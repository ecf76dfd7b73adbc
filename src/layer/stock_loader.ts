/**
 * Loads a stock `BatchNormalization` whose (Keras) config asks for batch renormalization
 * (`renorm: true`) or ghost batches (`virtual_batch_size`) as this package's layer: tfjs's
 * built-in has neither, so it would drop the arguments and then fail on the extra weights
 * (`moving_stddev`, `renorm_mean`, `renorm_stddev`) or on the ghost-batch weight shapes. Every
 * other `BatchNormalization` config still loads as the built-in, through the built-in's own
 * `fromConfig`.
 */
import * as tf from '@tensorflow/tfjs';
import { trainingOnlyFeatures } from '../core/batch_norm_config';
import { BatchNormalization } from './batch_normalization';

type FromConfig = (cls: unknown, config: tf.serialization.ConfigDict, ...rest: unknown[]) => tf.serialization.Serializable;

// Marks the wrapper, so registering twice (or from a second copy of the package) wraps once.
const WRAPPED = Symbol.for('tfjs-batchnorm.stockBatchNormLoader');

/**
 * Wraps the registered `BatchNormalization` loader (idempotent).
 *
 * Usage: `registerStockBatchNormLoader();`
 */
export function registerStockBatchNormLoader(): void {
  const map = tf.serialization.SerializationMap.getMap().classNameMap;
  const entry = map['BatchNormalization'];
  if (entry == null || (entry[1] as unknown as Record<symbol, boolean>)[WRAPPED]) return;
  const [builtin, builtinFromConfig] = entry as unknown as [tf.serialization.SerializableConstructor<tf.serialization.Serializable>, FromConfig];
  const fromConfig: FromConfig = (cls, config, ...rest) => trainingOnlyFeatures(config as Record<string, unknown>).length > 0
    ? new BatchNormalization(config as ConstructorParameters<typeof BatchNormalization>[0])
    : builtinFromConfig(cls, config, ...rest);
  (fromConfig as unknown as Record<symbol, boolean>)[WRAPPED] = true;
  map['BatchNormalization'] = [builtin, fromConfig as unknown as (typeof entry)[1]];
}

registerStockBatchNormLoader();
