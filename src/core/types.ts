/**
 * Types shared by the ops (../ops/) and the kernels (../kernels/), kept here so that neither has
 * to import the other's module for them.
 */
import type * as tf from '@tensorflow/tfjs';
import type { NormView } from './view';

/** BatchNormalization's inputs, as its ops take them. */
export interface BatchNormInputs {
  /** Input of any rank >= 2 (int32 and bool are cast to float32). */
  x: tf.Tensor;
  /** Scale, shape [C], or null when the layer has `scale: false`. */
  gamma: tf.Tensor | null;
  /** Offset, shape [C], or null when the layer has `center: false`. */
  beta: tf.Tensor | null;
  /** Resolved (non-negative) feature axis. */
  axis: number;
  epsilon: number;
}

export interface BatchStatistics {
  /** Batch mean per channel, shape [C]. */
  mean: tf.Tensor1D;
  /** Biased batch variance per channel, shape [C]. */
  variance: tf.Tensor1D;
}

export interface TrainingResult extends BatchStatistics {
  y: tf.Tensor;
}

/**
 * The inputs of a normalization on a view (LayerNormalization, GroupNormalization,
 * InstanceNormalization, RMSNormalization): statistics per (p, g) of the view, gamma and beta per
 * channel.
 */
export interface NormInputs {
  /** Input of the size the view describes (int32 and bool are cast to float32). */
  x: tf.Tensor;
  /** Scale, `view.channels` values (any shape), or null for none. */
  gamma: tf.Tensor | null;
  /** Offset, like gamma. */
  beta: tf.Tensor | null;
  /** Where the statistics and the affine parameters sit (see view.ts). */
  view: NormView;
  epsilon: number;
  /**
   * Whether the mean is subtracted (default true). false: RMSNormalization, whose "variance" is
   * the mean of the squares.
   */
  center?: boolean;
}
