/**
 * Every class name this package reads or writes in model.json, in one place. The layers register
 * under these names, conversion and folding look them up here, and io checks topologies against
 * the model classes.
 */

/** Container classes whose config holds a `layers` list (tfjs and Keras spellings). */
export const MODEL_CLASSES = ['Sequential', 'Model', 'Functional'];

/** tfjs's built-in BatchNormalization, as model.json names it. */
export const STOCK_BN = 'BatchNormalization';
/**
 * This package's BatchNormalization. A name of its own, so stock `BatchNormalization` layers in
 * other models keep loading as the built-in.
 */
export const CUSTOM_BN = 'TfjsBatchNormalization';

/**
 * Names TensorFlow and tf.keras wrote that tfjs has no class for: TF 1.13 to 2.x saved
 * `BatchNormalizationV1` / `BatchNormalizationV2`, and
 * `tf.keras.layers.experimental.SyncBatchNormalization` writes `SyncBatchNormalization` (on one
 * device it computes what BatchNormalization computes). They load as this package's layer.
 */
export const ALIAS_BN = ['BatchNormalizationV1', 'BatchNormalizationV2', 'SyncBatchNormalization'];

/** tfjs's built-in LayerNormalization, and this package's (a name of its own, as for BatchNormalization). */
export const STOCK_LN = 'LayerNormalization';
export const CUSTOM_LN = 'TfjsLayerNormalization';

/**
 * GroupNormalization as Keras 2.11+ / Keras 3 and TF Addons name it. tfjs has no such class, so
 * this package registers the Keras name itself (and writes it).
 */
export const GROUP_NORM = 'GroupNormalization';
export const GROUP_NORM_ALIASES = ['Addons>GroupNormalization'];

/** InstanceNormalization as keras-contrib names it (written), and TF Addons' name (read). */
export const INSTANCE_NORM = 'InstanceNormalization';
export const INSTANCE_NORM_ALIASES = ['Addons>InstanceNormalization'];

/** Keras 3's RMSNormalization and UnitNormalization: tfjs has neither, so the Keras names are registered (and written). */
export const RMS_NORM = 'RMSNormalization';
export const UNIT_NORM = 'UnitNormalization';
