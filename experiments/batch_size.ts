/**
 * Batch size: the same MLP with and without BatchNormalization trained at batch sizes 2, 8, 32
 * and 128 (same epochs, optimizer and learning rate), several seeds. BN estimates its statistics
 * from each batch, so tiny batches make them noisy in training and unlike the moving averages
 * used at inference; the network without BN has no such dependence.
 */
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { runCli } from '../examples/common/cli';
import { formatTable } from '../examples/common/table';
import { disposeModel, fitWithProgress, testAccuracy } from '../examples/common/train';
import { ChartFiles, ChartSpec, writeChart } from './common/charts';
import { mlpNet, netColors, NET_LABELS, NetKind } from './common/nets';
import {
  experimentCli, experimentOptions, forEachSeed, ExperimentInput, ExperimentOptions, formatSpread, resolveOptions, spread, spreadChart,
} from './common/seeds';

export interface BatchOptions extends ExperimentOptions {
  batchSizes: number[];
}

export const BATCH_DEFAULTS: BatchOptions = {
  epochs: 3, samples: 1000, testSamples: 500, batchSize: 32, out: 'models/experiments', seed: 51, bars: false, seeds: 3,
  batchSizes: [2, 8, 32, 128],
};
export const BATCH_QUICK: Partial<BatchOptions> = { epochs: 1, samples: 60, testSamples: 50, seeds: 2, batchSizes: [4, 32] };

export interface BatchRow {
  network: string;
  batchSize: number;
  seed: number;
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
 * Trains both networks at every batch size and seed, prints the table and writes `<out>/batch-size.svg|png`.
 *
 * Usage: `const r = await main({ quick: true, out: '/tmp/x' });`
 */
export async function main(options: ExperimentInput<BatchOptions> = {}): Promise<BatchResult> {
  const opts = resolveOptions(BATCH_DEFAULTS, BATCH_QUICK, options);
  await tf.setBackend('cpu');
  const rows: BatchRow[] = [];
  await forEachSeed(opts, async (seed, data) => {
    for (const kind of ['plain', 'bn'] as NetKind[]) {
      for (const batchSize of opts.batchSizes) {
        const model = mlpNet({ kind, hidden: [64, 64], seed });
        model.compile({ optimizer: tf.train.adam(0.001), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
        try {
          const fit = await fitWithProgress(model, data.xTrain, data.yTrain, { ...opts, batchSize, seed }, `${NET_LABELS[kind]} batch ${batchSize} seed ${seed}`);
          rows.push({
            network: NET_LABELS[kind], batchSize, seed, steps: opts.epochs * Math.ceil(data.yTrain.shape[0] / batchSize),
            finalLoss: fit.loss[fit.loss.length - 1], testAccuracy: testAccuracy(model, data.xTest, data.yTest),
            trainAccuracy: fit.acc[fit.acc.length - 1], seconds: fit.seconds,
          });
        } finally {
          disposeModel(model);
        }
      }
    }
  });
  const networks = [NET_LABELS.plain, NET_LABELS.bn];
  console.log(formatTable(networks.flatMap((network) => opts.batchSizes.map((batchSize) => {
    const rs = rows.filter((r) => r.network === network && r.batchSize === batchSize);
    return {
      network, 'batch size': batchSize, steps: rs[0].steps,
      'train accuracy (training mode)': formatSpread(spread(rs.map((r) => r.trainAccuracy))),
      'test accuracy': formatSpread(spread(rs.map((r) => r.testAccuracy))),
    };
  })), { title: `\nBatch size (MNIST MLP, Adam 1e-3, ${opts.epochs} epochs on ${opts.samples} digits; mean ± sd (min–max) over ${opts.seeds} seeds)` }));
  const chart = await writeChart(batchChart(rows), path.join(opts.out, 'batch-size'));
  console.log(`chart: ${chart.svg}${chart.png ? ` and ${chart.png}` : ''}`);
  return { rows, chart };
}

/** Test accuracy (inference mode) and training-mode accuracy against batch size, log2 axis. */
export function batchChart(rows: BatchRow[]): ChartSpec {
  const networks = [NET_LABELS.plain, NET_LABELS.bn];
  const sizes = Array.from(new Set(rows.map((r) => r.batchSize)));
  const mean = (network: string, b: number) => spread(rows.filter((r) => r.network === network && r.batchSize === b).map((r) => r.testAccuracy)).mean;
  const smallest = Math.min(...sizes);
  const [p, q] = [mean(NET_LABELS.bn, smallest), mean(NET_LABELS.plain, smallest)];
  const panels = [
    { name: 'test accuracy (inference mode)', yTitle: 'test accuracy (inference mode)' },
    { name: 'training accuracy (last epoch, training mode)', yTitle: 'train accuracy (training mode)' },
  ];
  const points = networks.flatMap((network) => sizes.flatMap((b) => {
    const rs = rows.filter((r) => r.network === network && r.batchSize === b);
    return [
      { series: network, x: b, panel: panels[0].name, values: rs.map((r) => r.testAccuracy) },
      { series: network, x: b, panel: panels[1].name, values: rs.map((r) => r.trainAccuracy) },
    ];
  }));
  return spreadChart({
    title: p < q - 0.02 ? `At batch ${smallest}, BN falls behind (test accuracy ${p.toFixed(2)} vs ${q.toFixed(2)} without BN)`
      : `At batch ${smallest}, BN is not behind here (test accuracy ${p.toFixed(2)} vs ${q.toFixed(2)} without BN)`,
    subtitle: 'MNIST MLP (2 hidden layers of 64), Adam 1e-3; same epochs, so small batches take more steps',
    points, panels, xTitle: 'batch size (samples, log 2 scale)', xScale: 'log2', colors: netColors(networks),
  });
}

if (require.main === module) {
  const program = experimentCli('npm run experiment:batch-size --', 'Accuracy against batch size with and without BN.', BATCH_DEFAULTS)
    .option('--batch-sizes <list>', 'comma-separated batch sizes', (v) => v.split(',').map(Number), BATCH_DEFAULTS.batchSizes);
  runCli(() => main(experimentOptions<BatchOptions>(program.parse())));
}
