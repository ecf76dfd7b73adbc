/**
 * `tfjs-batchnorm/convert`: stock <-> custom conversion of BatchNormalization and
 * LayerNormalization, and folding BatchNormalization into the layer before it. Works wherever
 * the layers do; it reads and writes no files (`tfjs-batchnorm/io` does).
 *
 * Usage: `import { convertNormalization, foldBatchNorm } from 'tfjs-batchnorm/convert';`
 */
import '../index';
export { convertNormalization } from './convert';
export type { ConversionResult, ConversionTarget, NormalizationFamily } from './convert';
export { foldBatchNorm } from './fold';
export type { FoldedBatchNorm, FoldOptions, FoldResult, KeptBatchNorm } from './fold';
