/**
 * Types shared by the ops (../ops/) and the kernels (../kernels/), kept here so that neither has
 * to import the other's module for them.
 */
import type * as tf from '@tensorflow/tfjs';
import type { NormView } from './view';

/** What every normalization op takes: the input, the affine parameters and epsilon. */
interface AffineInputs {
  /** Input (int32 and bool are cast to float32). */
  x: tf.Tensor;
  /** Scale, one value per channel (any shape), or null for none (`scale: false`). */
  gamma: tf.Tensor | null;
  /** Offset, like gamma (null: `center: false`). */
  beta: tf.Tensor | null;
  epsilon: number;
}

/** BatchNormalization's inputs, as its ops take them: gamma and beta shape [C]. */
export interface BatchNormInputs extends AffineInputs {
  /** Resolved (non-negative) feature axis. */
  axis: number;
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
export interface NormInputs extends AffineInputs {
  /** Where the statistics and the affine parameters (`view.channels` values) sit (see view.ts). */
  view: NormView;
  /**
   * Whether the mean is subtracted (default true). false: RMSNormalization, whose "variance" is
   * the mean of the squares.
   */
  center?: boolean;
}
