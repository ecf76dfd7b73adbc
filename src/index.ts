/**
 * tfjs-batchnorm: normalization layers for TensorFlow.js with analytic gradients.
 *
 * This entry holds the layers and the kernels they run, and nothing that needs Node: it loads
 * the same in a page, a worker and Node. File IO is `tfjs-batchnorm/io`, conversion and folding
 * `tfjs-batchnorm/convert`, the command line the `tfjs-batchnorm` bin.
 *
 * Usage: `import { batchNormalization } from 'tfjs-batchnorm';`
 */
// First: a second copy of @tensorflow/tfjs gets a clear error before anything is registered.
import './layer/single_tfjs';
// Registered for loading only (no export): BatchNormalizationV1 / V2 and SyncBatchNormalization,
// the class names TF and tf.keras wrote, and stock BatchNormalization configs that ask for
// batch renormalization or ghost batches (tfjs's built-in has neither).
import './layer/aliases';
import './layer/stock_loader';
export { BatchNormalization, batchNormalization } from './layer/batch_normalization';
export type { BatchNormalizationArgs } from './layer/batch_normalization';
// The per-sample normalizations: LayerNormalization, GroupNormalization, InstanceNormalization.
export { LayerNormalization, layerNormalization } from './layer/layer_normalization';
export type { LayerNormalizationArgs } from './layer/layer_normalization';
export { GroupNormalization, groupNormalization, InstanceNormalization, instanceNormalization } from './layer/group_normalization';
export type { GroupNormalizationArgs, InstanceNormalizationArgs } from './layer/group_normalization';
// Keras 3's RMSNormalization (one weight, `scale`) and UnitNormalization (no weights).
export { RMSNormalization, rmsNormalization } from './layer/rms_normalization';
export type { RMSNormalizationArgs } from './layer/rms_normalization';
export { UnitNormalization, unitNormalization } from './layer/unit_normalization';
export type { UnitNormalizationArgs } from './layer/unit_normalization';
// BatchNormalization as functions, the form the layer calls.
export { batchNormTraining, batchNormInference } from './ops/batch_norm';
export type { BatchNormInputs, TrainingResult } from './ops/batch_norm';
