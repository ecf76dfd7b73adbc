/** Stock <-> custom BatchNormalization conversion and BatchNormalization folding. */
export { convertBatchNorm, toCustomBatchNorm, toStockBatchNorm } from './convert';
export type { BatchNormKind, ConversionResult } from './convert';
export { foldBatchNorm } from './fold';
export type { FoldedBatchNorm, FoldOptions, FoldResult, KeptBatchNorm } from './fold';
