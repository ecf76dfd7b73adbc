/**
 * Faster convergence: the same MLP without and with BN, same optimizer and learning rate, with
 * plain SGD and with Adam. Recorded: the training loss of every step (averaged over windows of
 * steps), the test accuracy every few steps, and the number of steps until the test accuracy
 * first reaches a target (the measure Ioffe & Szegedy 2015 used, in steps to a given accuracy).
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

export interface ConvergenceOptions extends ExperimentOptions {
  /** Test accuracy to reach. */
  target: number;
  /** Steps between test evaluations (and the width of the loss-averaging window). */
  every: number;
}

export const CONVERGENCE_DEFAULTS: ConvergenceOptions = {
  epochs: 3, samples: 1000, testSamples: 500, batchSize: 32, out: 'models/experiments', seed: 91, bars: false, seeds: 3,
  target: 0.8, every: 8,
};
export const CONVERGENCE_QUICK: Partial<ConvergenceOptions> = { epochs: 1, samples: 100, testSamples: 50, seeds: 2, every: 2, target: 0.3 };

export const CONVERGENCE_OPTIMIZERS: Array<{ label: string; make: () => tf.Optimizer }> = [
  { label: 'SGD 0.05', make: () => tf.train.sgd(0.05) },
  { label: 'Adam 1e-3', make: () => tf.train.adam(0.001) },
];

export interface ConvergenceRun {
  network: string;
  optimizer: string;
  seed: number;
  /** Mean training loss over each window of `every` steps (window k ends at step (k + 1) * every). */
  windowLoss: number[];
  /** Test accuracy after steps every, 2 * every, ... */
  testAccuracy: number[];
  /** First evaluated step where the test accuracy reached the target, or null if it never did. */
  stepsToTarget: number | null;
  finalTestAccuracy: number;
}

export interface ConvergenceResult {
  runs: ConvergenceRun[];
  chart: ChartFiles;
}

/**
 * Trains every network/optimizer/seed, prints the table and writes `<out>/convergence.svg|png`.
 *
 * Usage: `const r = await main({ quick: true, out: '/tmp/x' });`
 */
export async function main(options: ExperimentInput<ConvergenceOptions> = {}): Promise<ConvergenceResult> {
  const opts = resolveOptions(CONVERGENCE_DEFAULTS, CONVERGENCE_QUICK, options);
  await tf.setBackend('cpu');
  const runs: ConvergenceRun[] = [];
  await forEachSeed(opts, async (seed, data) => {
    for (const optimizer of CONVERGENCE_OPTIMIZERS) {
      for (const kind of ['plain', 'bn'] as NetKind[]) {
        const model = mlpNet({ kind, hidden: [64, 64, 64], seed });
        model.compile({ optimizer: optimizer.make(), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
        const run: ConvergenceRun = {
          network: NET_LABELS[kind], optimizer: optimizer.label, seed, windowLoss: [], testAccuracy: [], stepsToTarget: null, finalTestAccuracy: 0,
        };
        let step = 0;
        let window: number[] = [];
        const recorder = new tf.CustomCallback({
          onBatchEnd: async (_batch, logs) => {
            step++;
            window.push(logs?.loss ?? NaN);
            if (step % opts.every !== 0) return;
            run.windowLoss.push(window.reduce((a, b) => a + b, 0) / window.length);
            window = [];
            const acc = testAccuracy(model, data.xTest, data.yTest);
            run.testAccuracy.push(acc);
            if (run.stepsToTarget == null && acc >= opts.target) run.stepsToTarget = step;
          },
        });
        try {
          await fitWithProgress(model, data.xTrain, data.yTrain, { ...opts, seed }, `${NET_LABELS[kind]} ${optimizer.label} seed ${seed}`, [recorder]);
          run.finalTestAccuracy = testAccuracy(model, data.xTest, data.yTest);
          runs.push(run);
        } finally {
          disposeModel(model);
        }
      }
    }
  });
  const totalSteps = opts.epochs * Math.ceil(opts.samples / opts.batchSize);
  console.log(formatTable(CONVERGENCE_OPTIMIZERS.flatMap(({ label }) => [NET_LABELS.plain, NET_LABELS.bn].map((network) => {
    const rs = runs.filter((r) => r.network === network && r.optimizer === label);
    const reached = rs.filter((r) => r.stepsToTarget != null).map((r) => r.stepsToTarget as number);
    const early = rs.map((r) => r.windowLoss[Math.min(r.windowLoss.length - 1, Math.floor(r.windowLoss.length / 4))]);
    return {
      optimizer: label, network, [`steps to test accuracy ${opts.target}`]: reached.length ? formatSpread(spread(reached), 0) : 'never',
      'seeds that reached it': `${reached.length}/${rs.length}`,
      'loss after a quarter of training': formatSpread(spread(early)),
      'final test accuracy': formatSpread(spread(rs.map((r) => r.finalTestAccuracy))),
    };
  })), { title: `\nConvergence (MNIST MLP 3x64, ${totalSteps} steps of batch ${opts.batchSize}; mean ± sd (min–max) over ${opts.seeds} seeds)` }));
  const chart = await writeChart(convergenceChart(runs, opts), path.join(opts.out, 'convergence'));
  console.log(`chart: ${chart.svg}${chart.png ? ` and ${chart.png}` : ''}`);
  return { runs, chart };
}

/** Training loss (window means) against step, one panel per optimizer; steps to target in the title. */
export function convergenceChart(runs: ConvergenceRun[], opts: Pick<ConvergenceOptions, 'every' | 'target'>): ChartSpec {
  const networks = [NET_LABELS.plain, NET_LABELS.bn];
  const panels = CONVERGENCE_OPTIMIZERS.map((o) => ({ name: o.label, yTitle: `training loss, ${o.label} (nats)` }));
  const points = panels.flatMap((p) => networks.flatMap((network) => {
    const rs = runs.filter((r) => r.network === network && r.optimizer === p.name);
    const n = Math.min(...rs.map((r) => r.windowLoss.length));
    return Array.from({ length: n }, (_, k) => ({ series: network, x: (k + 1) * opts.every, panel: p.name, values: rs.map((r) => r.windowLoss[k]) }));
  }));
  const steps = (network: string, optimizer: string) => {
    const rs = runs.filter((r) => r.network === network && r.optimizer === optimizer);
    const reached = rs.filter((r) => r.stepsToTarget != null);
    return reached.length < rs.length ? `not reached by every seed` : `${Math.round(spread(reached.map((r) => r.stepsToTarget as number)).mean)} steps`;
  };
  const parts = CONVERGENCE_OPTIMIZERS.map(({ label }) => `${label}: ${steps(NET_LABELS.bn, label)} with BN vs ${steps(NET_LABELS.plain, label)} without`);
  return spreadChart({
    title: `Steps to ${opts.target} test accuracy — ${parts.join('; ')}`,
    subtitle: `MNIST MLP (3 hidden layers of 64), same learning rate with and without BN; loss averaged over windows of ${opts.every} steps`,
    points, panels, xTitle: 'training step', xScale: 'linear', colors: netColors(networks),
  });
}

if (require.main === module) {
  const program = experimentCli('npm run experiment:convergence --', 'Loss per step and steps to a target accuracy with and without BN.', CONVERGENCE_DEFAULTS)
    .option('--target <acc>', 'test accuracy to reach', (v) => Number(v), CONVERGENCE_DEFAULTS.target)
    .option('--every <n>', 'steps between test evaluations', (v) => Number(v), CONVERGENCE_DEFAULTS.every);
  runCli(() => main(experimentOptions<ConvergenceOptions>(program.parse())));
}
