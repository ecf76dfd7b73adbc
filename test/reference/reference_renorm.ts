/**
 * Plainly written references for batch renormalization and ghost batch normalization,
 * independent of src/: tf ops in the input's own layout with tf's autodiff, and float64 loops
 * for finite differences. They follow the formulas as Keras and tf.keras state them.
 */
import * as tf from '@tensorflow/tfjs';
import { broadcastShape, float64Training, referenceTraining } from './reference_batch_norm';

export interface Clipping { rmax?: number; rmin?: number; dmax?: number }

const clip = (v: number, lo: number | undefined, hi: number | undefined) =>
  Math.min(hi ?? Infinity, Math.max(lo ?? -Infinity, v));

/**
 * r and d per channel as plain numbers, from batch statistics and renorm statistics:
 * r = clip(sqrt(var + eps) / s, rmin, rmax), d = clip((mean - renormMean) / s, -dmax, dmax),
 * s = max(renormStddev, sqrt(eps)).
 */
export function referenceCorrection(mean: ArrayLike<number>, variance: ArrayLike<number>,
  renormMean: ArrayLike<number>, renormStddev: ArrayLike<number>, epsilon: number, clipping: Clipping = {}) {
  const r: number[] = [];
  const d: number[] = [];
  for (let c = 0; c < mean.length; c++) {
    const s = Math.max(renormStddev[c], Math.sqrt(epsilon));
    r.push(clip(Math.sqrt(variance[c] + epsilon) / s, clipping.rmin, clipping.rmax));
    d.push(clip((mean[c] - renormMean[c]) / s, clipping.dmax != null ? -clipping.dmax : undefined, clipping.dmax));
  }
  return { r, d };
}

/**
 * Renorm training output by the textbook, `gamma * (xhat * r + d) + beta`, with r and d
 * computed from the batch's own statistics and held as constants (new tensors from plain
 * numbers), so tf's autodiff gives the stop-gradient semantics.
 */
export function referenceRenormTraining(x: tf.Tensor, gamma: tf.Tensor | null, beta: tf.Tensor | null, axis: number,
  epsilon: number, renormMean: number[], renormStddev: number[], clipping: Clipping = {}) {
  const stats = tf.tidy(() => referenceTraining(tf.clone(x), null, null, axis, epsilon));
  const { r, d } = referenceCorrection(stats.mean.dataSync(), stats.variance.dataSync(), renormMean, renormStddev,
    epsilon, clipping);
  const mean = Array.from(stats.mean.dataSync());
  const variance = Array.from(stats.variance.dataSync());
  tf.dispose([stats.y, stats.mean, stats.variance]);
  const y = tf.tidy(() => {
    const b = broadcastShape(x.shape, axis);
    const xhat = referenceTraining(x, null, null, axis, epsilon).y;
    let out = tf.add(tf.mul(xhat, tf.tensor(r, b)), tf.tensor(d, b));
    if (gamma != null) out = tf.mul(out, tf.reshape(gamma, b));
    if (beta != null) out = tf.add(out, tf.reshape(beta, b));
    return out;
  });
  return { y, r, d, mean, variance };
}

/** Ghost batch k of a batch of B samples in ghost batches of V: samples k, k + G, ..., G = B / V. */
export function ghostIndices(batch: number, virtualBatchSize: number, k: number): number[] {
  const ghosts = batch / virtualBatchSize;
  return Array.from({ length: virtualBatchSize }, (_, j) => k + j * ghosts);
}

/**
 * Ghost batch normalization by the definition: gather each ghost batch's samples, normalize it
 * with referenceTraining, put the outputs back in place. Returns the output and the per-ghost
 * statistics, shape [G, C].
 */
export function referenceGhostTraining(x: tf.Tensor, gamma: tf.Tensor | null, beta: tf.Tensor | null, axis: number,
  epsilon: number, virtualBatchSize: number) {
  return tf.tidy(() => {
    const batch = x.shape[0];
    const ghosts = batch / virtualBatchSize;
    const outputs: tf.Tensor[] = [];
    const means: tf.Tensor[] = [];
    const variances: tf.Tensor[] = [];
    const order: number[] = [];
    for (let k = 0; k < ghosts; k++) {
      const idx = ghostIndices(batch, virtualBatchSize, k);
      const part = referenceTraining(tf.gather(x, idx, 0), gamma, beta, axis, epsilon);
      outputs.push(part.y);
      means.push(part.mean);
      variances.push(part.variance);
      order.push(...idx);
    }
    // Row i of the concatenation is sample order[i]; put each sample back in its place.
    const inverse = new Array<number>(batch);
    order.forEach((sample, i) => { inverse[sample] = i; });
    return {
      y: tf.gather(tf.concat(outputs, 0), inverse, 0),
      ghostMean: tf.stack(means),
      ghostVariance: tf.stack(variances),
    };
  });
}

/** Renorm training in float64 with r and d given (constants), for finite differences. */
export function float64Renorm(x: Float64Array, shape: readonly number[], axis: number, gamma: Float64Array | null,
  beta: Float64Array | null, epsilon: number, r: ArrayLike<number>, d: ArrayLike<number>): Float64Array {
  const xhat = float64Training(x, shape, axis, null, null, epsilon);
  const inner = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const channels = shape[axis];
  return xhat.map((v, i) => {
    const c = Math.floor(i / inner) % channels;
    return (v * r[c] + d[c]) * (gamma ? gamma[c] : 1) + (beta ? beta[c] : 0);
  });
}

/** Ghost batch normalization in float64 loops, for finite differences. */
export function float64Ghost(x: Float64Array, shape: readonly number[], axis: number, gamma: Float64Array | null,
  beta: Float64Array | null, epsilon: number, virtualBatchSize: number): Float64Array {
  const batch = shape[0];
  const per = x.length / batch;
  const partShape = [virtualBatchSize, ...shape.slice(1)];
  const y = new Float64Array(x.length);
  for (let k = 0; k < batch / virtualBatchSize; k++) {
    const idx = ghostIndices(batch, virtualBatchSize, k);
    const part = new Float64Array(virtualBatchSize * per);
    idx.forEach((sample, j) => part.set(x.subarray(sample * per, (sample + 1) * per), j * per));
    const out = float64Training(part, partShape, axis, gamma, beta, epsilon);
    idx.forEach((sample, j) => y.set(out.subarray(j * per, (j + 1) * per), sample * per));
  }
  return y;
}
