/**
 * Initialization: BN is said to make a network less sensitive to how its weights are initialized
 * (Ioffe & Szegedy 2015). The same MLP starts from hidden kernels whose standard deviation is
 * 0.01 to 10 times the usual He initialization, without and with BN, trained with plain SGD and
 * with Adam; final test accuracy per scale shows where each network stops learning.
 * Why BN should help: its output does not change when the kernel before it is scaled, so a bad
 * scale cannot blow up or shrink the signal; it still changes the gradient (by 1 / scale), so
 * with SGD a large scale means smaller effective steps.
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

export interface InitOptions extends ExperimentOptions {
  scales: number[];
}

export const INIT_DEFAULTS: InitOptions = {
  epochs: 3, samples: 500, testSamples: 500, batchSize: 32, out: 'models/experiments', seed: 71, bars: false, seeds: 3,
  scales: [0.01, 0.1, 1, 10],
};
export const INIT_QUICK: Partial<InitOptions> = { epochs: 1, samples: 100, testSamples: 50, seeds: 2, scales: [0.1, 10] };

/** The two optimizers, with the learning rates users commonly start from. */
export const INIT_OPTIMIZERS: Array<{ label: string; make: () => tf.Optimizer }> = [
  { label: 'SGD 0.05', make: () => tf.train.sgd(0.05) },
  { label: 'Adam 1e-3', make: () => tf.train.adam(0.001) },
];

export interface InitRow {
  network: string;
  optimizer: string;
  scale: number;
  seed: number;
  finalLoss: number;
  testAccuracy: number;
}

export interface InitResult {
  rows: InitRow[];
  chart: ChartFiles;
}

/**
 * Trains both networks for every scale, optimizer and seed; prints the table and writes `<out>/init.svg|png`.
 *
 * Usage: `const r = await main({ quick: true, out: '/tmp/x' });`
 */
export async function main(options: ExperimentInput<InitOptions> = {}): Promise<InitResult> {
  const opts = resolveOptions(INIT_DEFAULTS, INIT_QUICK, options);
  await tf.setBackend('cpu');
  const rows: InitRow[] = [];
  await forEachSeed(opts, async (seed, data) => {
    for (const optimizer of INIT_OPTIMIZERS) {
      for (const kind of ['plain', 'bn'] as NetKind[]) {
        for (const scale of opts.scales) {
          const model = mlpNet({ kind, hidden: [64, 64, 64], seed, initScale: scale });
          model.compile({ optimizer: optimizer.make(), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
          try {
            const fit = await fitWithProgress(model, data.xTrain, data.yTrain, { ...opts, seed }, `${NET_LABELS[kind]} ${optimizer.label} scale ${scale} seed ${seed}`);
            const acc = testAccuracy(model, data.xTest, data.yTest);
            rows.push({
              network: NET_LABELS[kind], optimizer: optimizer.label, scale, seed,
              finalLoss: fit.loss[fit.loss.length - 1], testAccuracy: Number.isFinite(acc) ? acc : 0,
            });
          } finally {
            disposeModel(model);
          }
        }
      }
    }
  });
  console.log(formatTable(INIT_OPTIMIZERS.flatMap(({ label }) => [NET_LABELS.plain, NET_LABELS.bn].flatMap((network) => opts.scales.map((scale) => {
    const rs = rows.filter((r) => r.network === network && r.optimizer === label && r.scale === scale);
    return {
      optimizer: label, network, 'init scale': scale, 'test accuracy': formatSpread(spread(rs.map((r) => r.testAccuracy))),
      'final loss': formatSpread(spread(rs.map((r) => r.finalLoss))),
    };
  }))), { title: `\nInitialization scale (x He normal; MNIST MLP 3x64, ${opts.epochs} epochs on ${opts.samples} digits; mean ± sd (min–max) over ${opts.seeds} seeds)` }));
  const chart = await writeChart(initChart(rows), path.join(opts.out, 'init'));
  console.log(`chart: ${chart.svg}${chart.png ? ` and ${chart.png}` : ''}`);
  return { rows, chart };
}

/** Test accuracy against the init scale, one panel per optimizer. */
export function initChart(rows: InitRow[]): ChartSpec {
  const networks = [NET_LABELS.plain, NET_LABELS.bn];
  const scales = Array.from(new Set(rows.map((r) => r.scale)));
  const panels = INIT_OPTIMIZERS.map((o) => ({ name: o.label, yTitle: `test accuracy, ${o.label}` }));
  const points = panels.flatMap((p) => networks.flatMap((network) => scales.map((scale) => ({
    series: network, x: scale, panel: p.name,
    values: rows.filter((r) => r.network === network && r.optimizer === p.name && r.scale === scale).map((r) => r.testAccuracy),
  }))));
  // Scales at which a network learns (mean test accuracy above 0.5) with both optimizers.
  const learns = (network: string) => scales.filter((scale) => points.filter((p) => p.series === network && p.x === scale).every((p) => spread(p.values).mean > 0.5));
  const list = (xs: number[]) => (xs.length === 0 ? 'none' : xs.map((x) => `${x}x`).join(', '));
  const title = `Scales at which the MLP learns (test accuracy > 0.5) with both optimizers: ${list(learns(NET_LABELS.bn))} with BN; ${list(learns(NET_LABELS.plain))} without`;
  return spreadChart({
    title, subtitle: 'MNIST MLP (3 hidden layers of 64); hidden kernels drawn with standard deviation = scale x sqrt(2 / fan-in)',
    points, panels, xTitle: 'init scale (x He normal, log scale)', xScale: 'log', colors: netColors(networks),
  });
}

if (require.main === module) {
  const program = experimentCli('npm run experiment:init --', 'Test accuracy across weight-initialization scales with and without BN.', INIT_DEFAULTS)
    .option('--scales <list>', 'comma-separated init scales', (v) => v.split(',').map(Number), INIT_DEFAULTS.scales);
  runCli(() => main(experimentOptions<InitOptions>(program.parse())));
}
