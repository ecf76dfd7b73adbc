/**
 * Learning-rate sweep: the same MLP without and with BatchNormalization, trained with plain SGD at
 * learning rates from small to large. Final loss and test accuracy per rate show where each
 * network stops learning or diverges (the claim: BN allows higher learning rates).
 */
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { cli, runCli, runOptions, RunOptions } from '../examples/common/cli';
import { loadMnist } from '../examples/common/data';
import { formatTable } from '../examples/common/table';
import { disposeModel, fitWithProgress, testAccuracy } from '../examples/common/train';
import { ChartFiles, ChartSpec, writeChart } from './common/charts';
import { mlpNet, netColors, NET_LABELS, NetKind } from './common/nets';

export const LR_DEFAULTS: RunOptions = {
  epochs: 3, samples: 1000, testSamples: 500, batchSize: 32, out: 'models/experiments', seed: 31, bars: false,
};
export const DEFAULT_RATES = [0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10];

/**
 * A final loss not finite or above 1.5x chance level (ln 10 for ten balanced classes) counts as
 * diverged: predictions worse than guessing, not merely slow.
 */
export const DIVERGED_LOSS = 1.5 * Math.log(10);

export interface LrRow {
  network: string;
  learningRate: number;
  /** Training loss of the last epoch (NaN when it blew up). */
  finalLoss: number;
  testAccuracy: number;
  /** learned: test accuracy above 0.5; stuck: no learning but no blow-up; diverged: see DIVERGED_LOSS. */
  outcome: 'learned' | 'stuck' | 'diverged';
}

export interface LrResult {
  rows: LrRow[];
  /** Largest rate at which each network still learned (test accuracy above 0.5). */
  largestWorkingRate: Record<string, number | null>;
  chart: ChartFiles;
}

/**
 * Runs the sweep, prints the table and writes `<out>/lr-sweep.svg|png`.
 *
 * Usage: `const r = await main({ epochs: 1, samples: 200, rates: [0.01, 1], out: '/tmp/x' });`
 */
export async function main(options: Partial<RunOptions> & { rates?: number[] } = {}): Promise<LrResult> {
  const opts = { ...LR_DEFAULTS, rates: DEFAULT_RATES, ...options };
  await tf.setBackend('cpu');
  const data = loadMnist({ trainSamples: opts.samples, testSamples: opts.testSamples, seed: opts.seed });
  const rows: LrRow[] = [];
  try {
    for (const kind of ['plain', 'bn'] as NetKind[]) {
      for (const learningRate of opts.rates) {
        const model = mlpNet({ kind, hidden: [64, 64, 64], seed: opts.seed });
        model.compile({ optimizer: tf.train.sgd(learningRate), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
        try {
          const fit = await fitWithProgress(model, data.xTrain, data.yTrain, opts, `${NET_LABELS[kind]} lr ${learningRate}`);
          const finalLoss = fit.loss[fit.loss.length - 1];
          const acc = testAccuracy(model, data.xTest, data.yTest);
          const testAcc = Number.isFinite(acc) ? acc : 0;
          const diverged = !Number.isFinite(finalLoss) || finalLoss > DIVERGED_LOSS;
          rows.push({
            network: NET_LABELS[kind], learningRate, finalLoss, testAccuracy: testAcc,
            outcome: diverged ? 'diverged' : testAcc > 0.5 ? 'learned' : 'stuck',
          });
        } finally {
          disposeModel(model);
        }
      }
    }
  } finally {
    data.dispose();
  }
  const largestWorkingRate: Record<string, number | null> = {};
  for (const network of [NET_LABELS.plain, NET_LABELS.bn]) {
    const ok = rows.filter((r) => r.network === network && r.outcome === 'learned').map((r) => r.learningRate);
    largestWorkingRate[network] = ok.length ? Math.max(...ok) : null;
  }
  console.log(formatTable(rows.map((r) => ({
    network: r.network, 'learning rate': r.learningRate, 'final loss': r.finalLoss, 'test accuracy': r.testAccuracy,
    outcome: r.outcome,
  })), { title: '\nSGD learning-rate sweep (MNIST MLP, 3 hidden layers of 64)' }));
  console.log(formatTable(Object.entries(largestWorkingRate).map(([network, rate]) => ({ network, 'largest rate that learned': rate ?? 'none' }))));
  const chart = await writeChart(lrChart(rows), path.join(opts.out, 'lr-sweep'));
  console.log(`chart: ${chart.svg}${chart.png ? ` and ${chart.png}` : ''}`);
  return { rows, largestWorkingRate, chart };
}

/** Cap for plotting losses: diverged runs (NaN or huge) are drawn at the cap with a cross. */
const LOSS_CAP = 10;

/** Two panels over a log learning-rate axis: final training loss (log) and test accuracy. */
export function lrChart(rows: LrRow[]): ChartSpec {
  const values = rows.flatMap((r) => [
    { network: r.network, lr: r.learningRate, panel: 'final training loss (capped at 10)', value: Number.isFinite(r.finalLoss) ? Math.min(r.finalLoss, LOSS_CAP) : LOSS_CAP, outcome: r.outcome },
    { network: r.network, lr: r.learningRate, panel: 'test accuracy', value: r.testAccuracy, outcome: r.outcome },
  ]);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: { text: 'Learning-rate sweep: plain SGD, same MLP without and with BN', subtitle: 'MNIST digits; squares: stuck (test accuracy <= 0.5), crosses: diverged (loss > 1.5x chance or not finite)' },
    data: { values },
    facet: { column: { field: 'panel', type: 'nominal', title: null, sort: ['final training loss (capped at 10)', 'test accuracy'] } },
    spec: {
      width: 300, height: 220,
      layer: [
        { mark: { type: 'line' }, encoding: { color: { field: 'network', type: 'nominal', title: null, scale: netColors([NET_LABELS.plain, NET_LABELS.bn]) } } },
        {
          mark: { type: 'point', filled: true, size: 80 },
          encoding: {
            color: { field: 'network', type: 'nominal', title: null, scale: netColors([NET_LABELS.plain, NET_LABELS.bn]) },
            shape: { field: 'outcome', type: 'nominal', title: null, scale: { domain: ['learned', 'stuck', 'diverged'], range: ['circle', 'square', 'cross'] } },
          },
        },
      ],
      encoding: {
        x: { field: 'lr', type: 'quantitative', scale: { type: 'log' }, title: 'learning rate (log scale)' },
        y: { field: 'value', type: 'quantitative', title: null },
      },
    },
    resolve: { scale: { y: 'independent' } },
  };
}

if (require.main === module) {
  const program = cli('npm run experiment:lr-sweep --', 'SGD learning-rate sweep with and without BN.', LR_DEFAULTS)
    .option('-r, --rates <list>', 'comma-separated learning rates', (v) => v.split(',').map(Number), DEFAULT_RATES);
  runCli(() => main({ ...runOptions(program.parse()), rates: program.opts().rates }));
}
