/**
 * Gradient flow and saturation in a deep network: a 20-layer sigmoid MLP without and with BN.
 * BN is said to keep gradients flowing through deep networks and to keep sigmoid/tanh units out
 * of their flat, saturated regions (Ioffe & Szegedy 2015). Measured: the gradient norm of every
 * hidden kernel at the start of training, the fraction of saturated units per layer after
 * training, and whether the network trains at all (test accuracy), with plain SGD and with Adam.
 */
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { runCli } from '../examples/common/cli';
import { formatTable } from '../examples/common/table';
import { disposeModel, fitWithProgress, testAccuracy } from '../examples/common/train';
import { ChartFiles, ChartSpec, writeChart } from './common/charts';
import { mlpNet, netColors, NET_LABELS, NetKind } from './common/nets';
import {
  experimentCli, experimentOptions, forEachSeed, ExperimentInput, ExperimentOptions, formatNumber, formatSpread, resolveOptions, spread, spreadChart,
} from './common/seeds';

export interface DeepOptions extends ExperimentOptions {
  depth: number;
  width: number;
}

export const DEEP_DEFAULTS: DeepOptions = {
  epochs: 3, samples: 600, testSamples: 500, batchSize: 32, out: 'models/experiments', seed: 81, bars: false, seeds: 3,
  depth: 20, width: 32,
};
export const DEEP_QUICK: Partial<DeepOptions> = { epochs: 1, samples: 100, testSamples: 50, seeds: 2, depth: 4, width: 8 };

/** A sigmoid unit counts as saturated when its output is below 0.05 or above 0.95 (slope below a fifth of its maximum). */
export const SATURATION = 0.45;

export const DEEP_OPTIMIZERS: Array<{ label: string; make: () => tf.Optimizer }> = [
  { label: 'SGD 0.1', make: () => tf.train.sgd(0.1) },
  { label: 'Adam 1e-3', make: () => tf.train.adam(0.001) },
];

export interface DeepRow {
  network: string;
  optimizer: string;
  seed: number;
  /** ||dLoss/dKernel|| of hidden layers 1..depth at initialization (on the first training batch). */
  gradNorms: number[];
  /** Fraction of saturated sigmoid outputs per hidden layer, after training (on test digits). */
  saturatedAfter: number[];
  testAccuracy: number;
}

export interface DeepResult {
  rows: DeepRow[];
  chart: ChartFiles;
}

/** Gradient norm of every hidden Dense kernel on one batch (training mode, as in a training step). */
function kernelGradNorms(model: tf.LayersModel, x: tf.Tensor, y: tf.Tensor, depth: number): number[] {
  const kernels = Array.from({ length: depth }, (_, i) => model.getLayer(`dense${i + 1}`).trainableWeights[0].read() as tf.Variable);
  return tf.tidy(() => {
    const { grads } = tf.variableGrads(
      () => tf.mean(tf.metrics.categoricalCrossentropy(y, model.apply(x, { training: true }) as tf.Tensor)) as tf.Scalar, kernels);
    return kernels.map((k) => tf.norm(grads[k.name]).dataSync()[0]);
  });
}

/** Fraction of saturated outputs of every hidden sigmoid (inference mode). */
function saturation(model: tf.LayersModel, x: tf.Tensor, depth: number): number[] {
  return tf.tidy(() => {
    const outputs = Array.from({ length: depth }, (_, i) => model.getLayer(`sigmoid${i + 1}`).output as tf.SymbolicTensor);
    const acts = tf.model({ inputs: model.inputs, outputs }).predict(x) as tf.Tensor[];
    return acts.map((a) => tf.mean(tf.greater(tf.abs(tf.sub(a, 0.5)), SATURATION).toFloat()).dataSync()[0]);
  });
}

/**
 * Trains both networks with both optimizers and every seed; prints the table and writes `<out>/deep.svg|png`.
 *
 * Usage: `const r = await main({ quick: true, out: '/tmp/x' });`
 */
export async function main(options: ExperimentInput<DeepOptions> = {}): Promise<DeepResult> {
  const opts = resolveOptions(DEEP_DEFAULTS, DEEP_QUICK, options);
  await tf.setBackend('cpu');
  const rows: DeepRow[] = [];
  const hidden = Array.from({ length: opts.depth }, () => opts.width);
  await forEachSeed(opts, async (seed, data) => {
    const [xb, yb] = [data.xTrain.slice(0, opts.batchSize), data.yTrain.slice(0, opts.batchSize)];
    try {
      for (const optimizer of DEEP_OPTIMIZERS) {
        for (const kind of ['plain', 'bn'] as NetKind[]) {
          // Glorot-uniform kernels would be the Keras default for sigmoid; He normal (scale 1) is close and shared by every experiment.
          const model = mlpNet({ kind, hidden, seed, activation: 'sigmoid' });
          model.compile({ optimizer: optimizer.make(), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
          try {
            const gradNorms = kernelGradNorms(model, xb, yb, opts.depth);
            await fitWithProgress(model, data.xTrain, data.yTrain, { ...opts, seed }, `${NET_LABELS[kind]} ${optimizer.label} seed ${seed}`);
            const acc = testAccuracy(model, data.xTest, data.yTest);
            rows.push({
              network: NET_LABELS[kind], optimizer: optimizer.label, seed, gradNorms,
              saturatedAfter: saturation(model, data.xTest, opts.depth), testAccuracy: Number.isFinite(acc) ? acc : 0,
            });
          } finally {
            disposeModel(model);
          }
        }
      }
    } finally {
      tf.dispose([xb, yb]);
    }
  });
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  console.log(formatTable(DEEP_OPTIMIZERS.flatMap(({ label }) => [NET_LABELS.plain, NET_LABELS.bn].map((network) => {
    const rs = rows.filter((r) => r.network === network && r.optimizer === label);
    return {
      optimizer: label, network, 'test accuracy': formatSpread(spread(rs.map((r) => r.testAccuracy))),
      'grad norm, layer 1 (start)': formatSpread(spread(rs.map((r) => r.gradNorms[0]))),
      [`grad norm, layer ${opts.depth} (start)`]: formatSpread(spread(rs.map((r) => r.gradNorms[opts.depth - 1]))),
      'layer 1 / last ratio': formatSpread(spread(rs.map((r) => r.gradNorms[0] / r.gradNorms[opts.depth - 1]))),
      'saturated units after training (mean over layers)': formatSpread(spread(rs.map((r) => mean(r.saturatedAfter)))),
    };
  })), { title: `\nDeep sigmoid MLP (${opts.depth} hidden layers of ${opts.width}), ${opts.epochs} epochs on ${opts.samples} digits; mean ± sd (min–max) over ${opts.seeds} seeds` }));
  const chart = await writeChart(deepChart(rows, opts.depth), path.join(opts.out, 'deep'));
  console.log(`chart: ${chart.svg}${chart.png ? ` and ${chart.png}` : ''}`);
  return { rows, chart };
}

/** Gradient norm per layer at the start (log) and saturated fraction per layer after SGD training. */
export function deepChart(rows: DeepRow[], depth: number): ChartSpec {
  const networks = [NET_LABELS.plain, NET_LABELS.bn];
  const sgd = DEEP_OPTIMIZERS[0].label;
  const panels = [
    { name: 'grad', yTitle: 'kernel gradient norm at start', yLog: true },
    { name: 'sat', yTitle: 'saturated fraction after training' },
  ];
  const layers = Array.from({ length: depth }, (_, i) => i);
  const points = networks.flatMap((network) => {
    const rs = rows.filter((r) => r.network === network && r.optimizer === sgd);
    return layers.flatMap((i) => [
      { series: network, x: i + 1, panel: 'grad', values: rs.map((r) => r.gradNorms[i]) },
      { series: network, x: i + 1, panel: 'sat', values: rs.map((r) => r.saturatedAfter[i]) },
    ]);
  });
  const acc = (network: string, optimizer: string) => spread(rows.filter((r) => r.network === network && r.optimizer === optimizer).map((r) => r.testAccuracy)).mean;
  const ratio = (network: string) => spread(rows.filter((r) => r.network === network && r.optimizer === sgd).map((r) => r.gradNorms[0] / r.gradNorms[depth - 1])).mean;
  return spreadChart({
    title: `${depth}-layer sigmoid MLP with ${sgd}: test accuracy ${acc(NET_LABELS.plain, sgd).toFixed(2)} without BN, ${acc(NET_LABELS.bn, sgd).toFixed(2)} with BN`,
    subtitle: [
      `first-layer gradient / last-layer gradient at start: ${formatNumber(ratio(NET_LABELS.plain))} without BN, ${formatNumber(ratio(NET_LABELS.bn))} with BN`,
      `left: gradient norm of each hidden kernel before training (log scale); right: fraction of sigmoid outputs below 0.05 or above 0.95 on test digits after ${sgd}`,
    ],
    points, panels, xTitle: 'hidden layer (1 = nearest the input)', xScale: 'linear', colors: netColors(networks),
  });
}

if (require.main === module) {
  const program = experimentCli('npm run experiment:deep --', 'Gradient flow and saturation in a deep sigmoid MLP with and without BN.', DEEP_DEFAULTS)
    .option('--depth <n>', 'hidden layers', (v) => Number(v), DEEP_DEFAULTS.depth)
    .option('--width <n>', 'units per hidden layer', (v) => Number(v), DEEP_DEFAULTS.width);
  runCli(() => main(experimentOptions<DeepOptions>(program.parse())));
}
