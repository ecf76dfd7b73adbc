import * as tf from '@tensorflow/tfjs';
import * as cliProgress from 'cli-progress';

export interface ProgressOptions {
  /** Epochs in the run (for the "epoch i/n" label). */
  epochs: number;
  /** Batches per epoch: ceil(samples / batchSize). */
  batchesPerEpoch: number;
  /** Label in front of each bar, e.g. the model's name. */
  label?: string;
  /** false: no bars, only a one-line summary per epoch (tests, CI logs). */
  bars?: boolean;
  /** Where the per-epoch lines go (default console.log). */
  log?: (line: string) => void;
}

const fmt = (v: number | undefined) => (v == null ? '  -   ' : v.toFixed(4));

/**
 * A `model.fit` callback drawing one progress bar per epoch with the running loss and accuracy,
 * then one line per epoch with the validation numbers when there are any.
 *
 * Usage: `await model.fit(x, y, { epochs, batchSize, callbacks: [progressBar({ epochs, batchesPerEpoch })] });`
 */
export function progressBar(options: ProgressOptions): tf.CustomCallback {
  const log = options.log ?? ((line: string) => console.log(line));
  const label = options.label ? `${options.label} ` : '';
  let bar: cliProgress.SingleBar | null = null;
  let started = 0;
  return new tf.CustomCallback({
    onEpochBegin: async (epoch) => {
      started = Date.now();
      if (options.bars === false) return;
      bar = new cliProgress.SingleBar({
        format: `${label}epoch ${epoch + 1}/${options.epochs} [{bar}] {value}/{total} batches | loss {loss} | acc {acc} | {duration}s`,
        hideCursor: true,
        clearOnComplete: false,
      }, cliProgress.Presets.shades_classic);
      bar.start(options.batchesPerEpoch, 0, { loss: fmt(undefined), acc: fmt(undefined) });
    },
    onBatchEnd: async (batch, logs) => {
      bar?.update(batch + 1, { loss: fmt(logs?.loss), acc: fmt(logs?.acc ?? logs?.accuracy) });
    },
    onEpochEnd: async (epoch, logs) => {
      bar?.stop();
      bar = null;
      const val = logs?.val_loss != null
        ? ` | val_loss ${fmt(logs.val_loss)} | val_acc ${fmt(logs.val_acc ?? logs.val_accuracy)}` : '';
      log(`${label}epoch ${epoch + 1}/${options.epochs}: loss ${fmt(logs?.loss)} | acc ${fmt(logs?.acc ?? logs?.accuracy)}`
        + `${val} | ${((Date.now() - started) / 1000).toFixed(1)}s`);
    },
  });
}
