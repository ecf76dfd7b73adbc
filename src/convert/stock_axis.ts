/**
 * tfjs 4.22's built-in BatchNormalization computes wrong results in inference when it
 * normalizes any axis but the last (e.g. axis 1 after a channelsFirst conv): its BatchNorm
 * kernel indexes the statistics as if the channel were last (checked on cpu and wasm). So a
 * custom BN on another axis is not silently turned into a stock one.
 */
import * as tf from '@tensorflow/tfjs';
import { configAxis, LayerConfig } from './model_config';

/**
 * Why converting this BN to tfjs's built-in would change its output, or null if it is safe.
 *
 * Usage: `const problem = stockAxisProblem(bnConfig, bnLayer);`
 */
export function stockAxisProblem(bn: LayerConfig, layer: tf.layers.Layer | undefined): string | null {
  const axis = configAxis(bn);
  let rank: number;
  try {
    rank = (layer?.outputShape as tf.Shape).length; // BN keeps its input's shape
  } catch {
    return null; // A layer used several times has no single input shape; nothing to judge.
  }
  if (axis == null || !Number.isInteger(rank) || axis === -1 || axis === rank - 1) return null;
  return `it normalizes axis ${axis} of a rank-${rank} input, which tfjs's built-in BatchNormalization ` +
    'computes incorrectly (its kernel assumes the last axis)';
}
