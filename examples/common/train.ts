import * as tf from '@tensorflow/tfjs';
import { RunOptions } from './cli';
import { accuracy } from './data';
import { progressBar } from './progress';

export interface FitResult {
  /** Training loss and accuracy at the end of each epoch. */
  loss: number[];
  acc: number[];
  seconds: number;
}

/**
 * `model.fit` with the shared options and a progress bar per epoch (the model must be compiled
 * with `metrics: ['accuracy']`).
 *
 * Usage: `const fit = await fitWithProgress(model, x, y, opts, 'mlp');`
 */
export async function fitWithProgress(model: tf.LayersModel, x: tf.Tensor | tf.Tensor[], y: tf.Tensor,
  opts: Pick<RunOptions, 'epochs' | 'batchSize' | 'bars'>, label: string): Promise<FitResult> {
  const t0 = Date.now();
  const n = y.shape[0];
  const history = await model.fit(x, y, {
    epochs: opts.epochs,
    batchSize: opts.batchSize,
    shuffle: true,
    // The default yields to the event loop after every batch; nothing else runs here.
    yieldEvery: 'never',
    callbacks: [progressBar({ epochs: opts.epochs, batchesPerEpoch: Math.ceil(n / opts.batchSize), bars: opts.bars, label })],
  });
  const h = history.history;
  return { loss: h.loss as number[], acc: (h.acc ?? h.accuracy) as number[], seconds: (Date.now() - t0) / 1000 };
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
