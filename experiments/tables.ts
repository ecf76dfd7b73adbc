/**
 * Normalization with batch statistics, then gamma and beta: the two small tables that introduce
 * BatchNormalization, recomputed with this package's own training op on their exact numbers, then
 * the same table from a real training run.
 *
 * The worked example: one unit of a second layer sees two inputs. Epoch 1: inputs 2.0 and 3.0,
 * weight 0.5, pre-activations 1.0 and 1.5 (mean 1.25, std 0.25). After an update, epoch 2:
 * inputs 2.5 and 4.0, weight 0.3, pre-activations 0.75 and 1.2 (mean 0.975, std 0.225). Without
 * BN the next layer sees those raw, moving values; with BN it sees (z - mean) / sqrt(var + eps),
 * which is about -1 and +1 both times, exactly ±1 only when epsilon is 0: with the Keras default
 * epsilon 1e-3 it is ±0.992 and ±0.990. A batch of two always normalizes to ±(almost) 1, whatever
 * the inputs: the statistics of tiny batches carry almost no information.
 */
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { BatchNormalization, batchNormTraining } from '../src';
import { runCli } from '../examples/common/cli';
import { formatTable } from '../examples/common/table';
import { disposeModel, fitWithProgress } from '../examples/common/train';
import { ChartFiles, ChartSpec, writeChart } from './common/charts';
import { mlpNet } from './common/nets';
import {
  experimentCli, experimentOptions, forEachSeed, ExperimentInput, ExperimentOptions, formatSpread, resolveOptions, seriesColors, spread, spreadChart,
} from './common/seeds';

export const TABLES_DEFAULTS: ExperimentOptions = {
  epochs: 4, samples: 1000, testSamples: 100, batchSize: 32, out: 'models/experiments', seed: 111, bars: false, seeds: 3,
};
export const TABLES_QUICK: Partial<ExperimentOptions> = { epochs: 1, samples: 100, testSamples: 20, seeds: 2 };

/** The worked example: per epoch, the unit's inputs and weight. */
export const WORKED_EXAMPLE = [
  { epoch: 1, inputs: [2.0, 3.0], weight: 0.5 },
  { epoch: 2, inputs: [2.5, 4.0], weight: 0.3 },
];
/** Epsilons shown: the Keras default, the PyTorch default, and nearly none. */
export const EPSILONS = [1e-3, 1e-5, 1e-9];

export interface WorkedRow {
  epoch: number;
  z: number[];
  mean: number;
  std: number;
  epsilon: number;
  /** (z - mean) / sqrt(var + epsilon), from the package's training op (gamma 1, beta 0). */
  normalized: number[];
}

/** One epoch of the real run (watched unit: unit 1 of hidden layer 2; batch of the first `batchSize` training digits). */
export interface RealRow {
  seed: number;
  epoch: number;
  /** Pre-activations of the batch (raw z = W a). */
  z: number[];
  mean: number;
  std: number;
  /** After normalization with the batch statistics and the layer's epsilon. */
  normalized: number[];
  gamma: number;
  beta: number;
  /** gamma * normalized + beta: what the ReLU sees. */
  output: number[];
}

export interface TablesResult {
  worked: WorkedRow[];
  real: RealRow[];
  chart: ChartFiles;
}

/** Normalizes `z` (one feature, batch along axis 0) with this package's training op. */
function normalize(z: number[], epsilon: number, gamma = 1, beta = 0): { y: number[]; mean: number; variance: number } {
  return tf.tidy(() => {
    const r = batchNormTraining({ x: tf.tensor2d(z, [z.length, 1]), gamma: tf.tensor1d([gamma]), beta: tf.tensor1d([beta]), axis: 1, epsilon });
    const out = { y: Array.from(r.y.dataSync()), mean: r.mean.dataSync()[0], variance: r.variance.dataSync()[0] };
    tf.dispose([r.mean, r.variance]);
    return out;
  });
}

/** Statistics of unit 1 of hidden layer 2 on `batch`, normalized as BN does in a training step. */
function watchUnit(model: tf.LayersModel, batch: tf.Tensor, seed: number, epoch: number): RealRow {
  const dense2 = model.getLayer('dense2');
  const bn = model.getLayer('bn2') as BatchNormalization;
  const z = tf.tidy(() => {
    const out = tf.model({ inputs: model.inputs, outputs: dense2.output as tf.SymbolicTensor }).predict(batch) as tf.Tensor2D;
    return Array.from(out.slice([0, 0], [-1, 1]).dataSync());
  });
  const [gamma, beta] = bn.getWeights().slice(0, 2).map((w) => w.dataSync()[0]);
  const r = normalize(z, bn.epsilon);
  return {
    seed, epoch, z, mean: r.mean, std: Math.sqrt(r.variance), normalized: r.y, gamma, beta,
    output: r.y.map((v) => gamma * v + beta),
  };
}

/**
 * Prints the worked example (with three epsilons) and the real run's table; writes `<out>/tables.svg|png`.
 *
 * Usage: `const r = await main({ quick: true, out: '/tmp/x' });`
 */
export async function main(options: ExperimentInput = {}): Promise<TablesResult> {
  const opts = resolveOptions(TABLES_DEFAULTS, TABLES_QUICK, options);
  await tf.setBackend('cpu');
  const worked: WorkedRow[] = EPSILONS.flatMap((epsilon) => WORKED_EXAMPLE.map(({ epoch, inputs, weight }) => {
    const z = inputs.map((a) => a * weight);
    const r = normalize(z, epsilon);
    return { epoch, z, mean: r.mean, std: Math.sqrt(r.variance), epsilon, normalized: r.y };
  }));
  const list = (xs: number[], digits = 4) => `[${xs.map((x) => x.toFixed(digits)).join(', ')}]`;
  console.log(formatTable(WORKED_EXAMPLE.map(({ epoch, inputs, weight }) => ({
    epoch, 'inputs a': list(inputs, 2), weight, 'pre-activation z = w a': list(inputs.map((a) => a * weight)),
    'ReLU output (no BN)': list(inputs.map((a) => Math.max(0, a * weight))),
  })), { title: '\nWorked example without BN: the second layer sees raw, moving pre-activations' }));
  console.log(formatTable(worked.map((r) => ({
    epsilon: r.epsilon, epoch: r.epoch, z: list(r.z), 'batch mean': r.mean, 'batch std': r.std, 'normalized (z - mean) / sqrt(var + eps)': list(r.normalized),
  })), { title: '\nWorked example with BN (gamma 1, beta 0), this package\'s training op, three epsilons' }));

  const real: RealRow[] = [];
  await forEachSeed(opts, async (seed, data) => {
    const batch = data.xTrain.slice(0, opts.batchSize);
    const model = mlpNet({ kind: 'bn', hidden: [64, 64], seed });
    model.compile({ optimizer: tf.train.adam(0.001), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    try {
      real.push(watchUnit(model, batch, seed, 0));
      const recorder = new tf.CustomCallback({ onEpochEnd: async (epoch) => { real.push(watchUnit(model, batch, seed, epoch + 1)); } });
      await fitWithProgress(model, data.xTrain, data.yTrain, { ...opts, seed }, `BN MLP seed ${seed}`, [recorder]);
    } finally {
      disposeModel(model);
      batch.dispose();
    }
  });
  const first = real.filter((r) => r.seed === opts.seed);
  console.log(formatTable(first.map((r) => ({
    epoch: r.epoch, 'z of digits 1, 2': list(r.z.slice(0, 2)), 'batch mean': r.mean, 'batch std': r.std,
    'normalized, digits 1, 2': list(r.normalized.slice(0, 2)), gamma: r.gamma, beta: r.beta, 'gamma x + beta, digits 1, 2': list(r.output.slice(0, 2)),
  })), { title: `\nReal run (seed ${opts.seed}): unit 1 of hidden layer 2, a batch of ${opts.batchSize} training digits, at the end of each epoch (0 = before training)` }));
  const epochs = Array.from(new Set(real.map((r) => r.epoch)));
  const moments = (xs: number[]) => spread(xs);
  console.log(formatTable(epochs.map((epoch) => {
    const rs = real.filter((r) => r.epoch === epoch);
    return {
      epoch, 'batch mean of z': formatSpread(spread(rs.map((r) => r.mean))), 'batch std of z': formatSpread(spread(rs.map((r) => r.std))),
      'mean of normalized': formatSpread(spread(rs.map((r) => moments(r.normalized).mean))),
      'std of normalized (population)': formatSpread(spread(rs.map((r) => Math.sqrt(r.normalized.reduce((s, v) => s + v * v, 0) / r.normalized.length)))),
    };
  }), { title: `\nThe same unit over ${opts.seeds} seeds (each seed its own network): mean ± sd (min–max)` }));
  const chart = await writeChart(tablesChart(first, opts.batchSize), path.join(opts.out, 'tables'));
  console.log(`chart: ${chart.svg}${chart.png ? ` and ${chart.png}` : ''}`);
  return { worked, real, chart };
}

/** Raw pre-activations of the batch against normalized ones, per epoch (one seed). */
export function tablesChart(rows: RealRow[], batchSize: number): ChartSpec {
  const raw = 'raw pre-activation z (before BN)';
  const norm = 'normalized (z - mean) / sqrt(var + eps)';
  const points = rows.flatMap((r) => [{ series: raw, x: r.epoch, values: r.z }, { series: norm, x: r.epoch, values: r.normalized }]);
  const range = (xs: number[]) => `${Math.min(...xs).toFixed(2)} to ${Math.max(...xs).toFixed(2)}`;
  const normStd = rows.map((r) => Math.sqrt(r.normalized.reduce((s, v) => s + v * v, 0) / r.normalized.length));
  return spreadChart({
    title: `Raw pre-activations: batch mean ${range(rows.map((r) => r.mean))}, std ${range(rows.map((r) => r.std))} across epochs; after BN: mean 0, std ${range(normStd)}`,
    subtitle: `one unit of hidden layer 2 of a BN MLP on MNIST, a fixed batch of ${batchSize} training digits, at the end of each epoch (0 = before training)`,
    points, xTitle: 'epoch', yTitle: 'value of the unit', xScale: 'linear', spreadOver: `the ${batchSize} digits of the batch`,
    colors: seriesColors([raw, norm], { [raw]: '#e45756', [norm]: '#4c78a8' }), width: 380,
  });
}

if (require.main === module) {
  const program = experimentCli('npm run experiment:tables --', 'The worked BN tables on their exact numbers, then from a real run.', TABLES_DEFAULTS);
  runCli(() => main(experimentOptions(program.parse())));
}
