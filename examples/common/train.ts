import * as tf from '@tensorflow/tfjs';
import { RunOptions } from './cli';
import { accuracy, seededRandom } from './data';
import { progressBar } from './progress';

export interface FitResult {
  /** Training loss and accuracy at the end of each epoch. */
  loss: number[];
  acc: number[];
  seconds: number;
}

/**
 * `model.fit` with the shared options and a progress bar per epoch (the model must be compiled
 * with `metrics: ['accuracy']`). Each epoch sees the samples in a new order drawn from `seed`:
 * fit's own `shuffle` uses Math.random, which cannot be seeded, so runs would not repeat.
 *
 * Usage: `const fit = await fitWithProgress(model, x, y, opts, 'mlp');`
 */
export async function fitWithProgress(model: tf.LayersModel, x: tf.Tensor, y: tf.Tensor,
  opts: Pick<RunOptions, 'epochs' | 'batchSize' | 'bars' | 'seed'>, label: string,
  callbacks: tf.CustomCallback[] = []): Promise<FitResult> {
  const t0 = Date.now();
  const n = y.shape[0];
  const rand = seededRandom(opts.seed + 7919);
  const progress = progressBar({ epochs: opts.epochs, batchesPerEpoch: Math.ceil(n / opts.batchSize), bars: opts.bars, label });
  const loss: number[] = [];
  const acc: number[] = [];
  for (let epoch = 0; epoch < opts.epochs; epoch++) {
    const order = Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
    const idx = tf.tensor1d(order, 'int32');
    const [xs, ys] = [tf.gather(x, idx), tf.gather(y, idx)];
    idx.dispose();
    try {
      const history = await model.fit(xs, ys, {
        epochs: epoch + 1,
        initialEpoch: epoch,
        batchSize: opts.batchSize,
        shuffle: false,
        // The default yields to the event loop after every batch; nothing else runs here.
        yieldEvery: 'never',
        callbacks: [...callbacks, progress],
      });
      const h = history.history;
      loss.push(...(h.loss as number[]));
      acc.push(...((h.acc ?? h.accuracy ?? []) as number[]));
    } finally {
      tf.dispose([xs, ys]);
    }
  }
  return { loss, acc, seconds: (Date.now() - t0) / 1000 };
}

/**
 * Inference-mode accuracy of `model` on one-hot labels `y`.
 *
 * Usage: `const acc = testAccuracy(model, xTest, yTest);`
 */
export function testAccuracy(model: tf.LayersModel, x: tf.Tensor | tf.Tensor[], y: tf.Tensor): number {
  const p = model.predict(x) as tf.Tensor;
  try {
    return accuracy(p, y);
  } finally {
    p.dispose();
  }
}

/**
 * Disposes a model and the optimizer it was compiled with (tfjs leaves a passed-in optimizer's
 * slot variables alive).
 *
 * Usage: `disposeModel(model);`
 */
export function disposeModel(model: tf.LayersModel | null | undefined): void {
  if (!model) return;
  const optimizer = model.optimizer;
  model.dispose();
  optimizer?.dispose();
}
