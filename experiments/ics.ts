/**
 * Internal covariate shift, measured: a callback records, at the end of every epoch, the mean and
 * standard deviation of one hidden layer's pre-activations (the input of its ReLU) on a fixed
 * probe batch, for the same MLP without and with BatchNormalization. This is the seeds' Table 1
 * (raw z = W a drifts as weights change) and Table 2 (after BN, z is back to mean beta and
 * standard deviation gamma, which start at 0 and 1) on a real run.
 */
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { BatchNormalization, batchNormTraining } from '../src';
import { cli, runCli, runOptions, RunOptions } from '../examples/common/cli';
import { loadMnist } from '../examples/common/data';
import { formatTable } from '../examples/common/table';
import { disposeModel, fitWithProgress, testAccuracy } from '../examples/common/train';
import { ChartFiles, ChartSpec, writeChart } from './common/charts';
import { mlpNet, netColors, NET_LABELS, NetKind } from './common/nets';

export const ICS_DEFAULTS: RunOptions = {
  epochs: 8, samples: 2000, testSamples: 500, batchSize: 32, out: 'models/experiments', seed: 21, bars: true,
};

/** One row per epoch per network. */
export interface IcsRow {
  network: string;
  epoch: number;
  /** Raw pre-activation z = W a of the watched layer (before BN if any). */
  zMean: number;
  zStd: number;
  /** Input of the ReLU: z itself without BN, BN(z) with BN (batch statistics, as in training). */
  reluInMean: number;
  reluInStd: number;
  /** Mean over units of |per-unit mean now - per-unit mean one epoch earlier| of the ReLU input: the shift. */
  shift: number;
  loss: number;
  acc: number;
}

export interface IcsResult {
  rows: IcsRow[];
  testAccuracy: Record<string, number>;
  chart: ChartFiles;
}

/** Statistics of the watched layer on the probe batch. */
function layerStatistics(model: tf.LayersModel, layerIndex: number, probe: tf.Tensor) {
  return tf.tidy(() => {
    const dense = model.layers[layerIndex];
    const z = tf.model({ inputs: model.inputs, outputs: dense.output as tf.SymbolicTensor }).predict(probe) as tf.Tensor2D;
    const bn = model.layers[layerIndex + 1];
    let reluIn: tf.Tensor2D = z;
    if (bn.getClassName() === 'TfjsBatchNormalization') {
      // The values the ReLU sees in a training step: BN with this batch's statistics.
      const [gamma, beta] = bn.getWeights();
      const r = batchNormTraining({ x: z, gamma, beta, axis: 1, epsilon: (bn as BatchNormalization).epsilon }, null);
      // The statistics come back kept (they outlive tidy by design): free them here.
      tf.dispose([r.mean, r.variance]);
      reluIn = r.y as tf.Tensor2D;
    }
    const all = (t: tf.Tensor) => tf.moments(t);
    const zm = all(z);
    const rm = all(reluIn);
    return {
      zMean: zm.mean.dataSync()[0], zStd: Math.sqrt(zm.variance.dataSync()[0]),
      reluInMean: rm.mean.dataSync()[0], reluInStd: Math.sqrt(rm.variance.dataSync()[0]),
      unitMeans: Array.from(tf.mean(reluIn, 0).dataSync()),
    };
  });
}

/**
 * A `model.fit` callback recording the watched layer's statistics on `probe` at every epoch end
 * into `rows` (one row per epoch).
 *
 * Usage: `callbacks: [icsRecorder(model, 2, probe, 'with BN', rows)]`
 */
export function icsRecorder(model: tf.LayersModel, layerIndex: number, probe: tf.Tensor, network: string, rows: IcsRow[]): tf.CustomCallback {
  let previous: number[] = [];
  return new tf.CustomCallback({
    // fitWithProgress calls fit once per epoch: only the first start is the initial state.
    onTrainBegin: async () => { if (previous.length === 0) previous = layerStatistics(model, layerIndex, probe).unitMeans; },
    onEpochEnd: async (epoch, logs) => {
      const s = layerStatistics(model, layerIndex, probe);
      const shift = s.unitMeans.reduce((sum, m, j) => sum + Math.abs(m - previous[j]), 0) / s.unitMeans.length;
      previous = s.unitMeans;
      rows.push({
        network, epoch: epoch + 1, zMean: s.zMean, zStd: s.zStd, reluInMean: s.reluInMean, reluInStd: s.reluInStd,
        shift, loss: logs?.loss ?? NaN, acc: logs?.acc ?? logs?.accuracy ?? NaN,
      });
    },
  });
}

/**
 * Trains the MLP without and with BN (same data, seeds, optimizer), records the watched layer
 * per epoch, prints the table and writes `<out>/ics.svg|png`.
 *
 * Usage: `const r = await main({ epochs: 1, samples: 200, out: '/tmp/x' });`
 */
export async function main(options: Partial<RunOptions> = {}): Promise<IcsResult> {
  const opts = { ...ICS_DEFAULTS, ...options };
  await tf.setBackend('cpu');
  const data = loadMnist({ trainSamples: opts.samples, testSamples: opts.testSamples, seed: opts.seed });
  const probe = data.xTest.slice(0, Math.min(256, data.xTest.shape[0]));
  const rows: IcsRow[] = [];
  const testAcc: Record<string, number> = {};
  try {
    for (const kind of ['plain', 'bn'] as NetKind[]) {
      const model = mlpNet({ kind, hidden: [64, 64, 64], seed: opts.seed });
      // The watched layer: the second hidden Dense (its input comes from a layer that also learns).
      const layerIndex = model.layers.findIndex((l) => l.name === 'dense2');
      model.compile({ optimizer: tf.train.sgd(0.05), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
      try {
        await fitWithProgress(model, data.xTrain, data.yTrain, opts, NET_LABELS[kind],
          [icsRecorder(model, layerIndex, probe, NET_LABELS[kind], rows)]);
        testAcc[NET_LABELS[kind]] = testAccuracy(model, data.xTest, data.yTest);
      } finally {
        disposeModel(model);
      }
    }
  } finally {
    probe.dispose();
    data.dispose();
  }
  console.log(formatTable(rows.map((r) => ({
    network: r.network, epoch: r.epoch, 'z mean': r.zMean, 'z std': r.zStd,
    'ReLU input mean': r.reluInMean, 'ReLU input std': r.reluInStd, 'shift of unit means': r.shift, loss: r.loss, acc: r.acc,
  })), { title: '\nWatched layer (2nd hidden Dense) on a fixed batch of test digits, per epoch' }));
  console.log(formatTable(Object.entries(testAcc).map(([network, acc]) => ({ network, 'test accuracy': acc }))));
  const chart = await writeChart(icsChart(rows), path.join(opts.out, 'ics'));
  console.log(`chart: ${chart.svg}${chart.png ? ` and ${chart.png}` : ''}`);
  return { rows, testAccuracy: testAcc, chart };
}

/** Two panels (mean, std of the ReLU input per epoch), plus the raw z of the BN network dashed. */
export function icsChart(rows: IcsRow[]): ChartSpec {
  const values = rows.flatMap((r) => {
    const points = [
      { series: `${r.network}: ReLU input`, epoch: r.epoch, statistic: 'mean', value: r.reluInMean },
      { series: `${r.network}: ReLU input`, epoch: r.epoch, statistic: 'standard deviation', value: r.reluInStd },
    ];
    if (r.network === NET_LABELS.bn) {
      points.push(
        { series: `${r.network}: raw z before BN`, epoch: r.epoch, statistic: 'mean', value: r.zMean },
        { series: `${r.network}: raw z before BN`, epoch: r.epoch, statistic: 'standard deviation', value: r.zStd },
      );
    }
    return points;
  });
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: { text: 'Internal covariate shift: pre-activations of hidden layer 2 per epoch', subtitle: 'MNIST MLP, same seeds and SGD; statistics on a fixed batch of test digits' },
    data: { values },
    facet: { column: { field: 'statistic', type: 'nominal', title: null } },
    spec: {
      width: 300, height: 220,
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'epoch', type: 'ordinal', title: 'epoch', axis: { labelAngle: 0 } },
        y: { field: 'value', type: 'quantitative', title: null },
        color: {
          field: 'series', type: 'nominal', title: null, legend: { orient: 'bottom', columns: 1, labelLimit: 400 },
          scale: {
            domain: [`${NET_LABELS.plain}: ReLU input`, `${NET_LABELS.bn}: ReLU input`, `${NET_LABELS.bn}: raw z before BN`],
            range: [...netColors([NET_LABELS.plain, NET_LABELS.bn]).range, '#9ecae9'],
          },
        },
        strokeDash: { field: 'series', type: 'nominal', legend: null },
      },
    },
    resolve: { scale: { y: 'independent' } },
  };
}

if (require.main === module) {
  const program = cli('npm run experiment:ics --', 'Per-epoch statistics of a hidden layer\'s pre-activations with and without BN.', ICS_DEFAULTS);
  runCli(() => main(runOptions(program.parse())));
}
