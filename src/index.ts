/**
 * tfjs-batchnorm: a hand-written BatchNormalization layer for TensorFlow.js.
 *
 * Usage: `import { batchNormalization } from 'tfjs-batchnorm';`
 */
// First: a second copy of @tensorflow/tfjs gets a clear error before anything is registered.
import './layer/single_tfjs';
export { BatchNormalization, batchNormalization } from './layer/batch_normalization';
export type { BatchNormalizationArgs } from './layer/batch_normalization';
// Loaders for BatchNormalizationV1 / V2 and SyncBatchNormalization, the names TF and tf.keras wrote.
export { BATCH_NORM_ALIASES } from './layer/aliases';
// The per-sample normalizations on the same base: LayerNormalization, GroupNormalization, InstanceNormalization.
export { LayerNormalization, layerNormalization } from './layer/layer_normalization';
export type { LayerNormalizationArgs } from './layer/layer_normalization';
export { GroupNormalization, groupNormalization, InstanceNormalization, instanceNormalization } from './layer/group_normalization';
export type { GroupNormalizationArgs, InstanceNormalizationArgs } from './layer/group_normalization';
export { RMSNormalization, rmsNormalization } from './layer/rms_normalization';
export type { RMSNormalizationArgs } from './layer/rms_normalization';
export { UnitNormalization, unitNormalization } from './layer/unit_normalization';
export type { UnitNormalizationArgs } from './layer/unit_normalization';
export { NormalizationBase } from './layer/normalization_base';
export type { NormalizationBaseArgs } from './layer/normalization_base';
export { batchNormTraining, batchNormInference, movingAverage } from './ops/batch_norm';
export { normalize } from './ops/normalize';
export type { NormInputs } from './ops/normalize';
export { groupView, layerView } from './core/view';
export type { NormView } from './core/view';
export type { BatchNormInputs, BatchStatistics, TrainingResult } from './ops/batch_norm';
// Batch renormalization and ghost batch normalization as ops (the layer's `renorm` / `virtualBatchSize`).
export { batchRenormTraining } from './ops/renorm';
export type { RenormClipping, RenormStatistics, RenormTrainingResult } from './ops/renorm';
export { ghostBatchNormTraining } from './ops/ghost_batch';
export type { GhostTrainingResult } from './ops/ghost_batch';
// Stock BatchNormalization configs with renorm or virtual_batch_size load as this package's layer.
export { registerStockBatchNormLoader } from './layer/stock_loader';
// File system IO: registers file:// routers in Node unless tfjs-node's are present (see io/router.ts).
export * from './io';
// Stock <-> custom BatchNormalization conversion and folding.
export * from './convert';
import { registerFileSystemRouters, registerKeras3Loading } from './io';
registerFileSystemRouters();
// tf.loadLayersModel on a URL, browser files or tf.io.fromMemory reads Keras 3 models too.
registerKeras3Loading();
