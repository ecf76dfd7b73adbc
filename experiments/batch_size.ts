/**
 * Batch size: the same MLP with and without BatchNormalization trained at batch sizes 2, 8, 32
 * and 128 (same epochs, optimizer and learning rate). BN estimates its statistics from each
 * batch, so tiny batches make them noisy in training and unlike the moving averages used at
 * inference; the network without BN has no such dependence.
 */
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { cli, runCli, runOptions, RunOptions } from '../examples/common/cli';
import { loadMnist } from '../examples/common/data';
import { formatTable } from '../examples/common/table';
import { disposeModel, fitWithProgress, testAccuracy } from '../examples/common/train';
import { ChartFiles, ChartSpec, writeChart } from './common/charts';
import { mlpNet, netColors, NET_LABELS, NetKind } from './common/nets';

export const BATCH_DEFAULTS: RunOptions = {
  epochs: 3, samples: 1000, testSamples: 500, batchSize: 32, out: 'models/experiments', seed: 51, bars: false,
};
export const DEFAULT_BATCH_SIZES = [2, 8, 32, 128];

export interface BatchRow {
  network: string;
  batchSize: number;
  steps: number;
  finalLoss: number;
  /** Inference mode: BN uses its moving averages. */
  testAccuracy: number;
  /** Training-mode accuracy on the training set (BN with batch statistics of the training batches). */
  trainAccuracy: number;
  seconds: number;
}

export interface BatchResult {
  rows: BatchRow[];
  chart: ChartFiles;
}

/**
 * Trains both networks at every batch size, prints the table and writes `<out>/batch-size.svg|png`.
 *
 * Usage: `const r = await main({ epochs: 1, samples: 200, batchSizes: [2, 32], out: '/tmp/x' });`
 */
export async function main(options: Partial<RunOptions> & { batchSizes?: number[] } = {}): Promise<BatchResult> {
  const opts = { ...BATCH_DEFAULTS, batchSizes: DEFAULT_BATCH_SIZES, ...options };
  await tf.setBackend('cpu');
  const data = loadMnist({ trainSamples: opts.samples, testSamples: opts.testSamples, seed: opts.seed });
  const rows: BatchRow[] = [];
  try {
    for (const kind of ['plain', 'bn'] as NetKind[]) {
      for (const batchSize of opts.batchSizes) {
        const model = mlpNet({ kind, hidden: [64, 64], seed: opts.seed });
        model.compile({ optimizer: tf.train.adam(0.001), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
        try {
          const fit = await fitWithProgress(model, data.xTrain, data.yTrain, { ...opts, batchSize }, `${NET_LABELS[kind]} batch ${batchSize}`);
          rows.push({
            network: NET_LABELS[kind], batchSize, steps: opts.epochs * Math.ceil(data.yTrain.shape[0] / batchSize),
            finalLoss: fit.loss[fit.loss.length - 1], testAccuracy: testAccuracy(model, data.xTest, data.yTest),
            trainAccuracy: fit.acc[fit.acc.length - 1], seconds: fit.seconds,
          });
        } finally {
          disposeModel(model);
        }
      }
    }
  } finally {
    data.dispose();
  }
  console.log(formatTable(rows.map((r) => ({
    network: r.network, 'batch size': r.batchSize, steps: r.steps, 'final loss': r.finalLoss,
    'train accuracy (training mode)': r.trainAccuracy, 'test accuracy': r.testAccuracy, seconds: r.seconds,
  })), { title: `\nBatch size (MNIST MLP, Adam 1e-3, ${opts.epochs} epochs on ${opts.samples} digits)` }));
  const chart = await writeChart(batchChart(rows), path.join(opts.out, 'batch-size'));
  console.log(`chart: ${chart.svg}${chart.png ? ` and ${chart.png}` : ''}`);
  return { rows, chart };
}

/** Test accuracy (and training-mode accuracy, dashed) against batch size, log2 axis. */
export function batchChart(rows: BatchRow[]): ChartSpec {
  const values = rows.flatMap((r) => [
    { network: r.network, batchSize: r.batchSize, measure: 'test accuracy (inference mode)', value: r.testAccuracy },
    { network: r.network, batchSize: r.batchSize, measure: 'training accuracy (last epoch)', value: r.trainAccuracy },
  ]);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: { text: 'Accuracy against batch size, with and without BN', subtitle: ['MNIST MLP; same epochs, so small batches take more steps', 'solid: test accuracy (inference mode); dashed: training accuracy (last epoch, training mode)'] },
    data: { values },
    width: 380, height: 260,
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'batchSize', type: 'quantitative', scale: { type: 'log', base: 2 }, title: 'batch size (log 2)', axis: { values: Array.from(new Set(rows.map((r) => r.batchSize))) } },
      y: { field: 'value', type: 'quantitative', title: 'accuracy' },
      color: { field: 'network', type: 'nominal', title: null, scale: netColors([NET_LABELS.plain, NET_LABELS.bn]) },
      // Explained in the subtitle: resvg draws no symbols for a dash legend.
      strokeDash: { field: 'measure', type: 'nominal', legend: null, sort: ['test accuracy (inference mode)', 'training accuracy (last epoch)'] },
    },
    config: { legend: { orient: 'bottom', direction: 'vertical', labelLimit: 300 } },
  };
}

if (require.main === module) {
  const program = cli('npm run experiment:batch-size --', 'Accuracy against batch size with and without BN.', BATCH_DEFAULTS)
    .option('--batch-sizes <list>', 'comma-separated batch sizes', (v) => v.split(',').map(Number), DEFAULT_BATCH_SIZES);
  runCli(() => main({ ...runOptions(program.parse()), batchSizes: program.opts().batchSizes }));
}
