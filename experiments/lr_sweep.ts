/**
 * Learning-rate sweep: the same MLP without and with BatchNormalization, trained with plain SGD at
 * learning rates from small to large, with several seeds. Final loss and test accuracy per rate
 * show where each network stops learning or diverges (the claim: BN allows higher learning rates,
 * Ioffe & Szegedy 2015).
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

export interface LrOptions extends ExperimentOptions {
  rates: number[];
}

export const LR_DEFAULTS: LrOptions = {
  epochs: 3, samples: 1000, testSamples: 500, batchSize: 32, out: 'models/experiments', seed: 31, bars: false, seeds: 3,
  rates: [0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10],
};
export const LR_QUICK: Partial<LrOptions> = { epochs: 1, samples: 100, testSamples: 50, seeds: 2, rates: [0.1, 10] };

/**
 * A final loss not finite or above 1.5x chance level (ln 10 for ten balanced classes) counts as
 * diverged: predictions worse than guessing, not merely slow.
 */
export const DIVERGED_LOSS = 1.5 * Math.log(10);

export interface LrRow {
  network: string;
  learningRate: number;
  seed: number;
  /** Training loss of the last epoch (NaN when it blew up). */
  finalLoss: number;
  testAccuracy: number;
  /** learned: test accuracy above 0.5; stuck: no learning but no blow-up; diverged: see DIVERGED_LOSS. */
  outcome: 'learned' | 'stuck' | 'diverged';
}

export interface LrResult {
  rows: LrRow[];
  /** Largest rate at which each network learned (test accuracy above 0.5) with every seed. */
  largestWorkingRate: Record<string, number | null>;
  chart: ChartFiles;
}

/**
 * Runs the sweep for every seed, prints the table and writes `<out>/lr-sweep.svg|png`.
 *
 * Usage: `const r = await main({ quick: true, out: '/tmp/x' });`
 */
export async function main(options: ExperimentInput<LrOptions> = {}): Promise<LrResult> {
  const opts = resolveOptions(LR_DEFAULTS, LR_QUICK, options);
  await tf.setBackend('cpu');
  const rows: LrRow[] = [];
  await forEachSeed(opts, async (seed, data) => {
    for (const kind of ['plain', 'bn'] as NetKind[]) {
      for (const learningRate of opts.rates) {
        const model = mlpNet({ kind, hidden: [64, 64, 64], seed });
        model.compile({ optimizer: tf.train.sgd(learningRate), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
        try {
          const fit = await fitWithProgress(model, data.xTrain, data.yTrain, { ...opts, seed }, `${NET_LABELS[kind]} lr ${learningRate} seed ${seed}`);
          const finalLoss = fit.loss[fit.loss.length - 1];
          const acc = testAccuracy(model, data.xTest, data.yTest);
          const testAcc = Number.isFinite(acc) ? acc : 0;
          const diverged = !Number.isFinite(finalLoss) || finalLoss > DIVERGED_LOSS;
          rows.push({
            network: NET_LABELS[kind], learningRate, seed, finalLoss, testAccuracy: testAcc,
            outcome: diverged ? 'diverged' : testAcc > 0.5 ? 'learned' : 'stuck',
          });
        } finally {
          disposeModel(model);
        }
      }
    }
  });
  const networks = [NET_LABELS.plain, NET_LABELS.bn];
  const largestWorkingRate: Record<string, number | null> = {};
  for (const network of networks) {
    const ok = opts.rates.filter((rate) => rows.filter((r) => r.network === network && r.learningRate === rate).every((r) => r.outcome === 'learned'));
    largestWorkingRate[network] = ok.length ? Math.max(...ok) : null;
  }
  console.log(formatTable(networks.flatMap((network) => opts.rates.map((rate) => {
    const rs = rows.filter((r) => r.network === network && r.learningRate === rate);
    const count = (o: LrRow['outcome']) => rs.filter((r) => r.outcome === o).length;
    return {
      network, 'learning rate': rate, 'test accuracy': formatSpread(spread(rs.map((r) => r.testAccuracy))),
      'final loss': formatSpread(spread(rs.map((r) => r.finalLoss))),
      'learned / stuck / diverged': `${count('learned')} / ${count('stuck')} / ${count('diverged')}`,
    };
  })), { title: `\nSGD learning-rate sweep (MNIST MLP, 3 hidden layers of 64, ${opts.epochs} epochs on ${opts.samples} digits; mean ± sd (min–max) over ${opts.seeds} seeds)` }));
  console.log(formatTable(Object.entries(largestWorkingRate).map(([network, rate]) => ({ network, 'largest rate that learned with every seed': rate ?? 'none' }))));
  const chart = await writeChart(lrChart(rows, largestWorkingRate), path.join(opts.out, 'lr-sweep'));
  console.log(`chart: ${chart.svg}${chart.png ? ` and ${chart.png}` : ''}`);
  return { rows, largestWorkingRate, chart };
}

/** Cap for plotting losses: diverged runs (NaN or huge) are drawn at the cap. */
const LOSS_CAP = 10;

/** Two panels over a log learning-rate axis: test accuracy and final training loss, mean and range over seeds. */
export function lrChart(rows: LrRow[], largest: Record<string, number | null>): ChartSpec {
  const keys = Array.from(new Set(rows.map((r) => `${r.network}|${r.learningRate}`)));
  const panels = [
    { name: 'test accuracy', yTitle: 'test accuracy (fraction correct)' },
    { name: 'final training loss (diverged: drawn at 10)', yTitle: 'final training loss (nats)' },
  ];
  const points = keys.flatMap((key) => {
    const rs = rows.filter((r) => `${r.network}|${r.learningRate}` === key);
    return [
      { series: rs[0].network, x: rs[0].learningRate, panel: panels[0].name, values: rs.map((r) => r.testAccuracy) },
      { series: rs[0].network, x: rs[0].learningRate, panel: panels[1].name, values: rs.map((r) => (Number.isFinite(r.finalLoss) ? Math.min(r.finalLoss, LOSS_CAP) : LOSS_CAP)) },
    ];
  });
  const [plain, bn] = [largest[NET_LABELS.plain], largest[NET_LABELS.bn]];
  return spreadChart({
    title: bn == null && plain == null ? 'Neither network learned at any of these learning rates with every seed'
      : `With BN, SGD learns with every seed up to learning rate ${bn ?? '(none)'}; without BN, up to ${plain ?? '(none)'}`,
    subtitle: ['MNIST MLP (3 hidden layers of 64), plain SGD; "learns" = test accuracy above 0.5 with every seed', 'a loss that diverged (not finite or above 10) is drawn at 10'],
    points, panels, xTitle: 'learning rate (log scale)', xScale: 'log',
    colors: netColors([NET_LABELS.plain, NET_LABELS.bn]),
  });
}

if (require.main === module) {
  const program = experimentCli('npm run experiment:lr-sweep --', 'SGD learning-rate sweep with and without BN.', LR_DEFAULTS)
    .option('-r, --rates <list>', 'comma-separated learning rates', (v) => v.split(',').map(Number), LR_DEFAULTS.rates);
  runCli(() => main(experimentOptions<LrOptions>(program.parse())));
}
