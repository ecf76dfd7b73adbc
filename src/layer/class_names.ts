/**
 * The class names under which this package's BatchNormalization layer appears in model.json.
 * Constants only (no tfjs import), so the model-config walkers can use them without loading
 * the layer.
 */

/** The name this package writes. */
export const CUSTOM_BN_CLASS = 'TfjsBatchNormalization';

/**
 * Names TensorFlow and tf.keras wrote that tfjs has no class for: TF 1.13 to 2.x saved
 * `BatchNormalizationV1` / `BatchNormalizationV2`, and
 * `tf.keras.layers.experimental.SyncBatchNormalization` writes `SyncBatchNormalization` (on one
 * device it computes what BatchNormalization computes). They load as this package's layer.
 */
export const KERAS_BN_ALIASES = ['BatchNormalizationV1', 'BatchNormalizationV2', 'SyncBatchNormalization'];
