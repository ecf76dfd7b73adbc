/**
 * Regularization: BN is said to regularize a little, because each sample is normalized with the
 * statistics of a random mini-batch (noise), sometimes making dropout unnecessary (Ioffe &
 * Szegedy 2015). The same MLP is trained on a training set small enough to overfit, without and
 * with BN, without and with dropout; the train–test gap (both measured in inference mode) and the
 * test accuracy show whether BN narrows the gap.
 */
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { runCli } from '../examples/common/cli';
import { formatTable } from '../examples/common/table';
import { disposeModel, fitWithProgress, testAccuracy } from '../examples/common/train';
import { ChartFiles, ChartSpec, writeChart } from './common/charts';
import { mlpNet, NET_LABELS, NetKind } from './common/nets';
import {
  experimentCli, experimentOptions, forEachSeed, ExperimentInput, ExperimentOptions, formatSpread, resolveOptions, seriesColors, spread, spreadChart,
} from './common/seeds';

export const REG_DEFAULTS: ExperimentOptions = {
  epochs: 30, samples: 500, testSamples: 1000, batchSize: 32, out: 'models/experiments', seed: 61, bars: false, seeds: 3,
};
export const REG_QUICK: Partial<ExperimentOptions> = { epochs: 1, samples: 100, testSamples: 50, seeds: 2 };

/** Dropout rate of the dropout variants. */
export const DROPOUT = 0.5;

/** The four networks, in table and chart order. */
export const REG_NETWORKS: Array<{ label: string; kind: NetKind; dropout: number }> = [
  { label: NET_LABELS.plain, kind: 'plain', dropout: 0 },
  { label: NET_LABELS.bn, kind: 'bn', dropout: 0 },
  { label: `dropout ${DROPOUT}, without BN`, kind: 'plain', dropout: DROPOUT },
  { label: `dropout ${DROPOUT}, with BN`, kind: 'bn', dropout: DROPOUT },
];

export interface RegRow {
  network: string;
  seed: number;
  /** Inference-mode accuracy on the training samples. */
  trainAccuracy: number;
  testAccuracy: number;
  /** trainAccuracy - testAccuracy. */
  gap: number;
}

export interface RegResult {
  rows: RegRow[];
  chart: ChartFiles;
}

/**
 * Trains the four networks with every seed, prints the table and writes `<out>/regularization.svg|png`.
 *
 * Usage: `const r = await main({ quick: true, out: '/tmp/x' });`
 */
export async function main(options: ExperimentInput = {}): Promise<RegResult> {
  const opts = resolveOptions(REG_DEFAULTS, REG_QUICK, options);
  await tf.setBackend('cpu');
  const rows: RegRow[] = [];
  await forEachSeed(opts, async (seed, data) => {
    for (const net of REG_NETWORKS) {
      const model = mlpNet({ kind: net.kind, hidden: [128, 128], seed, dropout: net.dropout });
      model.compile({ optimizer: tf.train.adam(0.001), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
      try {
        await fitWithProgress(model, data.xTrain, data.yTrain, { ...opts, seed }, `${net.label} seed ${seed}`);
        const trainAccuracy = testAccuracy(model, data.xTrain, data.yTrain);
        const testAcc = testAccuracy(model, data.xTest, data.yTest);
        rows.push({ network: net.label, seed, trainAccuracy, testAccuracy: testAcc, gap: trainAccuracy - testAcc });
      } finally {
        disposeModel(model);
      }
    }
  });
  console.log(formatTable(REG_NETWORKS.map(({ label }) => {
    const rs = rows.filter((r) => r.network === label);
    return {
      network: label, 'train accuracy': formatSpread(spread(rs.map((r) => r.trainAccuracy))),
      'test accuracy': formatSpread(spread(rs.map((r) => r.testAccuracy))), 'train - test gap': formatSpread(spread(rs.map((r) => r.gap))),
    };
  }), { title: `\nRegularization (MNIST MLP 2x128, Adam 1e-3, ${opts.epochs} epochs on ${opts.samples} digits, inference-mode accuracies; mean ± sd (min–max) over ${opts.seeds} seeds)` }));
  const chart = await writeChart(regChart(rows), path.join(opts.out, 'regularization'));
  console.log(`chart: ${chart.svg}${chart.png ? ` and ${chart.png}` : ''}`);
  return { rows, chart };
}

/** Test accuracy and train–test gap per network, mean and range over seeds. */
export function regChart(rows: RegRow[]): ChartSpec {
  const labels = REG_NETWORKS.map((n) => n.label);
  const panels = [
    { name: 'test accuracy', yTitle: 'test accuracy (fraction correct)' },
    { name: 'train – test gap (overfitting)', yTitle: 'train − test accuracy (gap)' },
  ];
  const points = labels.flatMap((label) => {
    const rs = rows.filter((r) => r.network === label);
    return [
      { series: label, x: label, panel: panels[0].name, values: rs.map((r) => r.testAccuracy) },
      { series: label, x: label, panel: panels[1].name, values: rs.map((r) => r.gap) },
    ];
  });
  const gap = (label: string) => spread(rows.filter((r) => r.network === label).map((r) => r.gap));
  const [plain, bn, drop] = [gap(labels[0]), gap(labels[1]), gap(labels[2])];
  const bnVerdict = bn.max < plain.min ? 'BN narrows the train–test gap' : bn.min > plain.max ? 'BN widens the train–test gap' : 'BN does not clearly change the train–test gap';
  const dropVerdict = drop.mean < plain.mean - 0.01 ? `; dropout narrows it (${drop.mean.toFixed(3)} vs ${plain.mean.toFixed(3)})` : '; dropout does not narrow it either';
  return spreadChart({
    title: `${bnVerdict} (${bn.mean.toFixed(3)} vs ${plain.mean.toFixed(3)} without BN)${dropVerdict}`,
    subtitle: 'MNIST MLP (2 hidden layers of 128) on a training set small enough to overfit; accuracies in inference mode',
    points, panels, xTitle: 'network', xScale: 'ordinal', noLine: true, width: 320,
    colors: seriesColors(labels, { [NET_LABELS.plain]: '#e45756', [NET_LABELS.bn]: '#4c78a8' }),
  });
}

if (require.main === module) {
  const program = experimentCli('npm run experiment:regularization --', 'Train-test gap with and without BN and dropout.', REG_DEFAULTS);
  runCli(() => main(experimentOptions(program.parse())));
}
