/** Stock <-> custom BatchNormalization / LayerNormalization conversion and BatchNormalization folding. */
export { convertBatchNorm, convertNormalization, toCustomBatchNorm, toCustomNormalization, toStockBatchNorm, toStockNormalization } from './convert';
export type { BatchNormKind, ConversionResult, NormalizationFamily } from './convert';
export { foldBatchNorm } from './fold';
export type { FoldedBatchNorm, FoldOptions, FoldResult, KeptBatchNorm } from './fold';
