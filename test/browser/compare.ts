/**
 * How the browser checks compare results: the largest difference relative to the values' size,
 * read asynchronously (on webgpu a synchronous read can lose the device, so no check uses one).
 */
import * as tf from '@tensorflow/tfjs';

/**
 * Largest |a - b| over two equally shaped arrays, relative to the larger magnitude (at least 1);
 * Infinity when the lengths differ.
 *
 * Usage: `relDiff(await got.data(), await want.data())`
 */
export function relDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let worst = 0;
  let scale = 1;
  for (let i = 0; i < a.length; i++) {
    worst = Math.max(worst, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(a[i]), Math.abs(b[i]));
  }
  return worst / scale;
}

/**
 * The largest relDiff over consecutive pairs `[a0, b0, a1, b1, ...]`, each read with `await
 * data()`; disposes them all, also when a read fails.
 *
 * Usage: `const worst = await pairsDiff(tf.tidy(() => [ours(x), reference(x)]));`
 */
export async function pairsDiff(tensors: tf.Tensor[]): Promise<number> {
  let worst = 0;
  try {
    for (let i = 0; i < tensors.length; i += 2) worst = Math.max(worst, relDiff(await tensors[i].data(), await tensors[i + 1].data()));
  } finally {
    tf.dispose(tensors);
  }
  return worst;
}
