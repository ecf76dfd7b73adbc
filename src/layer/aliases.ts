/**
 * Registers this package's layer under the BatchNormalization class names that TensorFlow and
 * tf.keras wrote but tfjs does not know (see ../core/class_names.ts), so such model.json files load.
 * Each alias is a subclass that only changes the class name: it takes the same (Keras) config
 * keys, computes the same, and saves under the name it was loaded with. The stock name
 * `BatchNormalization` is left to tfjs's built-in.
 */
import { BatchNormalization } from './batch_normalization';
import { ALIAS_BN } from '../core/class_names';
import { registerLayerClass } from './register_class';

function alias(name: string): typeof BatchNormalization {
  const cls = class extends BatchNormalization {
    static override className = name;
  };
  return registerLayerClass(cls);
}

/**
 * The alias classes by name (`BatchNormalizationV1`, `BatchNormalizationV2`, `SyncBatchNormalization`).
 *
 * Usage: `new BATCH_NORM_ALIASES.BatchNormalizationV2({ axis: 3 })`
 */
export const BATCH_NORM_ALIASES: Record<string, typeof BatchNormalization> =
  Object.fromEntries(ALIAS_BN.map((name) => [name, alias(name)]));
