/**
 * Ghost batch normalization (Hoffer, Hubara and Soudry, "Train longer, generalize better", 2017),
 * with the semantics of tf.keras 2's `virtual_batch_size`: in training, the batch is split into
 * virtual ("ghost") batches of `virtualBatchSize` samples that are normalized separately, each
 * with its own mean and variance per channel, sharing gamma and beta. The moving statistics move
 * toward the mean over ghost batches of their means and variances. Inference is unchanged.
 *
 * Which samples form a ghost batch: tf.keras reshapes the batch `[B, ...]` to
 * `[virtualBatchSize, B / virtualBatchSize, ...]` and keeps axis 1 apart, so with
 * `G = B / virtualBatchSize` ghost batches, ghost batch k holds samples k, k + G, k + 2G, ...
 * (strided, not contiguous). This module does the same, so a model trained here and in tf.keras
 * sees the same groups.
 *
 * How: after that reshape, the ghost axis is moved next to the feature axis and merged with it,
 * so each (ghost batch, channel) pair becomes one channel of an ordinary BatchNormalization with
 * G * C channels and gamma / beta tiled G times. The existing training op (kernels or composite
 * path, analytic gradient) does the math; reshape, transpose and tile carry their own exact
 * gradients (tile's sums the G copies of dgamma and dbeta back into one).
 */
import * as tf from '@tensorflow/tfjs';
import { BatchNormInputs, batchNormTraining, TrainingResult } from './batch_norm';

/** The result of a ghost-batch training step: the output, and statistics per channel. */
export interface GhostTrainingResult extends TrainingResult {
  /** Per ghost batch and channel, shape [G, C]. */
  ghostMean: tf.Tensor2D;
  ghostVariance: tf.Tensor2D;
}

/** The permutation of the `[V, G, ...rest]` view that moves G (axis 1) to just before the feature axis. */
function ghostPermutation(rank: number, featureAxis: number): number[] {
  // In the [V, G, ...rest] view (rank + 1 dims) the feature axis sits at featureAxis + 1.
  const perm = [0];
  for (let i = 2; i <= featureAxis; i++) perm.push(i);
  perm.push(1);
  for (let i = featureAxis + 1; i <= rank; i++) perm.push(i);
  return perm;
}

function inversePermutation(perm: number[]): number[] {
  const inverse = new Array<number>(perm.length);
  perm.forEach((p, i) => { inverse[p] = i; });
  return inverse;
}

/**
 * Training-mode BatchNormalization over ghost batches of `virtualBatchSize` samples (see the
 * module comment). The batch axis is 0 and `args.axis` must be another axis; the batch size must
 * be a multiple of `virtualBatchSize`. `mean` / `variance` of the result are the averages over
 * ghost batches (what the moving statistics move toward); the caller owns all four statistics.
 *
 * Usage: `const { y, mean, variance } = ghostBatchNormTraining({ x, gamma, beta, axis: 1, epsilon: 1e-3 }, 4);`
 */
export function ghostBatchNormTraining(args: BatchNormInputs, virtualBatchSize: number): GhostTrainingResult {
  const { x, axis } = args;
  const batch = x.shape[0];
  if (!(Number.isInteger(virtualBatchSize) && virtualBatchSize > 0)) {
    throw new Error(`ghostBatchNormTraining: expected a positive integer virtualBatchSize, but received ${virtualBatchSize}.`);
  }
  if (axis < 1 || axis >= x.rank) {
    throw new Error(`ghostBatchNormTraining: expected a feature axis in [1, ${x.rank - 1}], but received ${axis}.`);
  }
  if (batch % virtualBatchSize !== 0) {
    throw new Error(`ghostBatchNormTraining: expected a batch size that is a multiple of virtualBatchSize ` +
      `${virtualBatchSize}, but received batch size ${batch}.`);
  }
  const ghosts = batch / virtualBatchSize;
  const channels = x.shape[axis];
  const before = x.shape.slice(1, axis);
  const after = x.shape.slice(axis + 1);
  const perm = ghostPermutation(x.rank, axis);
  const identity = perm.every((p, i) => p === i);

  let ghostMean: tf.Tensor2D | null = null;
  let ghostVariance: tf.Tensor2D | null = null;
  const y = tf.tidy(() => {
    const split = tf.reshape(x, [virtualBatchSize, ghosts, ...x.shape.slice(1)]);
    const moved = identity ? split : tf.transpose(split, perm);
    // [V, ...before, G * C, ...after]: channel g * C + c is channel c of ghost batch g.
    const merged = tf.reshape(moved, [virtualBatchSize, ...before, ghosts * channels, ...after]);
    const tile = (t: tf.Tensor | null) => (t == null ? null : tf.tile(t, [ghosts]));
    const result = batchNormTraining({ ...args, x: merged, gamma: tile(args.gamma), beta: tile(args.beta) });
    ghostMean = tf.keep(tf.reshape(result.mean, [ghosts, channels]) as tf.Tensor2D);
    ghostVariance = tf.keep(tf.reshape(result.variance, [ghosts, channels]) as tf.Tensor2D);
    result.mean.dispose();
    result.variance.dispose();
    const yMoved = tf.reshape(result.y, moved.shape);
    const ySplit = identity ? yMoved : tf.transpose(yMoved, inversePermutation(perm));
    return tf.reshape(ySplit, x.shape);
  });
  const gm = ghostMean as unknown as tf.Tensor2D;
  const gv = ghostVariance as unknown as tf.Tensor2D;
  return { y, mean: tf.mean(gm, 0), variance: tf.mean(gv, 0), ghostMean: gm, ghostVariance: gv };
}
