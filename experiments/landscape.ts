/**
 * Loss landscape along the gradient (Santurkar et al. 2018, "How Does Batch Normalization Help
 * Optimization?"). While training the same deep MLP with plain SGD, every few steps we stand at
 * the current weights w, take the gradient g, and look at w - eta * g for several step sizes eta:
 * - the spread (min..max) of the loss over those points ("loss landscape" variation),
 * - the largest change of the gradient, max ||grad(w - eta g) - g|| ("gradient predictiveness"),
 * - the largest ratio of that change to ||eta g|| ("effective beta-smoothness").
 * Three networks: without BN, with BN, and with noisy BN (BN followed by time-varying noise with
 * non-zero mean and non-unit variance, the paper's explicit covariate shift).
 */
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { runCli, RunOptions } from '../examples/common/cli';
import { MnistData, seededRandom } from '../examples/common/data';
import { formatTable } from '../examples/common/table';
import { testAccuracy } from '../examples/common/train';
import { ChartFiles, ChartSpec, writeChart } from './common/charts';
import { mlpNet, netColors, NET_LABELS, NetKind, noiseLayers } from './common/nets';
import {
  experimentCli, experimentOptions, forEachSeed, ExperimentInput, ExperimentOptions, formatSpread, resolveOptions, spread, spreadChart, Spread,
} from './common/seeds';

export interface LandscapeOptions extends ExperimentOptions {
  /** Probe every n steps. */
  every: number;
}

export const LANDSCAPE_DEFAULTS: LandscapeOptions = {
  epochs: 4, samples: 1000, testSamples: 500, batchSize: 64, out: 'models/experiments', seed: 41, bars: false, seeds: 3, every: 4,
};
export const LANDSCAPE_QUICK: Partial<LandscapeOptions> = { epochs: 1, samples: 200, testSamples: 50, batchSize: 50, seeds: 2, every: 2 };
/** Learning rate of the training runs; probe step sizes are multiples of it. */
export const LEARNING_RATE = 0.1;
export const STEP_MULTIPLES = [0.25, 0.5, 1, 2, 4];

export interface LandscapeRow {
  network: string;
  seed: number;
  step: number;
  /** Loss at w (training mode, current batch). */
  loss: number;
  /** Min and max of the loss over w - eta g, eta in the step sizes (w itself included). */
  lossMin: number;
  lossMax: number;
  /** max over eta of ||grad(w - eta g) - grad(w)||. */
  gradChange: number;
  /** max over eta of ||grad(w - eta g) - grad(w)|| / ||eta g||. */
  betaSmoothness: number;
  gradNorm: number;
}

/** Per network, each measure summarized over seeds (each seed's value is its mean over probes, or its last epoch). */
export interface LandscapeSummary {
  network: string;
  finalTrainLoss: Spread;
  testAccuracy: Spread;
  meanLossRange: Spread;
  meanGradChange: Spread;
  meanBetaSmoothness: Spread;
}

export interface LandscapeResult {
  rows: LandscapeRow[];
  /** Training loss of every step, per network and seed. */
  trainLoss: Array<{ network: string; seed: number; step: number; loss: number }>;
  summary: LandscapeSummary[];
  chart: ChartFiles;
}

const norm = (ts: tf.Tensor[]) => tf.tidy(() => Math.sqrt(ts.reduce((s, t) => s + tf.sum(tf.square(t)).dataSync()[0], 0)));

/**
 * Trains one network with a hand-written SGD loop, probing the landscape every `every` steps.
 *
 * Usage: `const { rows, trainLoss, testAccuracy } = await probeTraining('bn', data, opts, 4);`
 */
async function probeTraining(kind: NetKind, data: MnistData, opts: RunOptions, every: number) {
  const seed = opts.seed;
  const model = mlpNet({ kind, hidden: [64, 64, 64, 64], seed: opts.seed });
  const noise = noiseLayers(model);
  const trainable = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const all = model.weights;
  const optimizer = tf.train.sgd(LEARNING_RATE);
  const lossOf = (x: tf.Tensor, y: tf.Tensor) => () =>
    tf.mean(tf.metrics.categoricalCrossentropy(y, model.apply(x, { training: true }) as tf.Tensor)) as tf.Scalar;
  const gradients = (x: tf.Tensor, y: tf.Tensor) => {
    const { value, grads } = tf.variableGrads(lossOf(x, y), trainable);
    return { value, grads: trainable.map((v) => grads[v.name]) };
  };
  const rows: LandscapeRow[] = [];
  const trainLoss: LandscapeResult['trainLoss'] = [];
  const n = data.xTrain.shape[0];
  const rand = seededRandom(opts.seed);
  let step = 0;
  try {
    for (let epoch = 0; epoch < opts.epochs; epoch++) {
      // Seeded order (tf.util.createShuffledIndices uses Math.random).
      const order = Array.from({ length: n }, (_, i) => i);
      for (let i = order.length - 1; i > 0; i--) {
        const j = Math.floor(rand() * (i + 1));
        [order[i], order[j]] = [order[j], order[i]];
      }
      for (let start = 0; start < n; start += opts.batchSize) {
        const idx = tf.tensor1d(order.slice(start, start + opts.batchSize), 'int32');
        const xb = tf.gather(data.xTrain, idx);
        const yb = tf.gather(data.yTrain, idx);
        idx.dispose();
        // Noisy BN: new noise every step (the "time-varying" shift); fixed while probing.
        noise.forEach((l) => l.resample(l.outputShape[1] as number));
        const { value, grads } = gradients(xb, yb);
        const loss = value.dataSync()[0];
        trainLoss.push({ network: NET_LABELS[kind], seed, step, loss });
        if (step % every === 0) {
          const saved = all.map((w) => w.read().clone());
          const g0Norm = norm(grads);
          const losses = [loss];
          let gradChange = 0;
          let beta = 0;
          for (const m of STEP_MULTIPLES) {
            const eta = m * LEARNING_RATE;
            trainable.forEach((v, k) => {
              const moved = tf.tidy(() => saved[all.findIndex((w) => w.read() === v)].sub(grads[k].mul(eta)));
              v.assign(moved);
              moved.dispose();
            });
            const probe = gradients(xb, yb);
            losses.push(probe.value.dataSync()[0]);
            const change = tf.tidy(() => norm(probe.grads.map((g, k) => tf.sub(g, grads[k]))));
            gradChange = Math.max(gradChange, change);
            beta = Math.max(beta, change / (eta * g0Norm));
            tf.dispose([probe.value, ...probe.grads]);
            // Restore everything, moving statistics included (probing ran in training mode).
            all.forEach((w, k) => w.write(saved[k]));
          }
          tf.dispose(saved);
          const finite = losses.map((l) => (Number.isFinite(l) ? l : Infinity));
          rows.push({
            network: NET_LABELS[kind], seed, step, loss, lossMin: Math.min(...finite), lossMax: Math.max(...finite),
            gradChange, betaSmoothness: beta, gradNorm: g0Norm,
          });
        }
        optimizer.applyGradients(Object.fromEntries(trainable.map((v, k) => [v.name, grads[k]])));
        tf.dispose([value, ...grads, xb, yb]);
        step++;
      }
      await tf.nextFrame();
    }
    return { rows, trainLoss, testAccuracy: testAccuracy(model, data.xTest, data.yTest) };
  } finally {
    model.dispose();
    optimizer.dispose();
  }
}

/**
 * Runs the three networks for every seed, prints the tables and writes `<out>/landscape.svg|png`.
 *
 * Usage: `const r = await main({ quick: true, out: '/tmp/x' });`
 */
export async function main(options: ExperimentInput<LandscapeOptions> = {}): Promise<LandscapeResult> {
  const opts = resolveOptions(LANDSCAPE_DEFAULTS, LANDSCAPE_QUICK, options);
  await tf.setBackend('cpu');
  const rows: LandscapeRow[] = [];
  const trainLoss: LandscapeResult['trainLoss'] = [];
  const perSeed: Array<{ network: string; finalTrainLoss: number; testAccuracy: number; range: number; change: number; beta: number }> = [];
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  await forEachSeed(opts, async (seed, data) => {
    for (const kind of ['plain', 'bn', 'noisy-bn'] as NetKind[]) {
      const t0 = Date.now();
      const r = await probeTraining(kind, data, { ...opts, seed }, opts.every);
      rows.push(...r.rows);
      trainLoss.push(...r.trainLoss);
      const tail = r.trainLoss.slice(-Math.max(1, Math.ceil(opts.samples / opts.batchSize)));
      perSeed.push({
        network: NET_LABELS[kind], finalTrainLoss: mean(tail.map((t) => t.loss)), testAccuracy: r.testAccuracy,
        range: mean(r.rows.map((x) => x.lossMax - x.lossMin)), change: mean(r.rows.map((x) => x.gradChange)), beta: mean(r.rows.map((x) => x.betaSmoothness)),
      });
      console.log(`${NET_LABELS[kind]} seed ${seed}: ${r.trainLoss.length} steps, ${r.rows.length} probes, ${((Date.now() - t0) / 1000).toFixed(1)}s`);
    }
  });
  const summary: LandscapeSummary[] = Object.values(NET_LABELS).map((network) => {
    const ps = perSeed.filter((p) => p.network === network);
    return {
      network, finalTrainLoss: spread(ps.map((p) => p.finalTrainLoss)), testAccuracy: spread(ps.map((p) => p.testAccuracy)),
      meanLossRange: spread(ps.map((p) => p.range)), meanGradChange: spread(ps.map((p) => p.change)), meanBetaSmoothness: spread(ps.map((p) => p.beta)),
    };
  });
  console.log(formatTable(summary.map((s) => ({
    network: s.network, 'train loss (last epoch)': formatSpread(s.finalTrainLoss), 'test accuracy': formatSpread(s.testAccuracy),
    'loss range along the gradient': formatSpread(s.meanLossRange), 'gradient change': formatSpread(s.meanGradChange),
    'beta-smoothness': formatSpread(s.meanBetaSmoothness),
  })), { title: `\nAlong the gradient, step sizes ${STEP_MULTIPLES.map((m) => m * LEARNING_RATE).join(', ')} (SGD lr ${LEARNING_RATE}); per seed the mean over probes, then mean ± sd (min–max) over ${opts.seeds} seeds` }));
  const chart = await writeChart(landscapeChart(rows, summary), path.join(opts.out, 'landscape'));
  console.log(`chart: ${chart.svg}${chart.png ? ` and ${chart.png}` : ''}`);
  return { rows, trainLoss, summary, chart };
}

/** Three panels against the training step: loss range, gradient change (log) and beta-smoothness (log) along the gradient. */
export function landscapeChart(rows: LandscapeRow[], summary: LandscapeSummary[]): ChartSpec {
  const networks = Object.values(NET_LABELS);
  const panels = [
    { name: 'range', yTitle: 'loss range along gradient (nats)' },
    { name: 'change', yTitle: 'gradient change (log)', yLog: true },
    { name: 'beta', yTitle: 'beta-smoothness (log)', yLog: true },
  ];
  const steps = Array.from(new Set(rows.map((r) => r.step))).sort((a, b) => a - b);
  const points = networks.flatMap((network) => steps.flatMap((step) => {
    const rs = rows.filter((r) => r.network === network && r.step === step);
    return [
      { series: network, x: step, panel: 'range', values: rs.map((r) => r.lossMax - r.lossMin) },
      { series: network, x: step, panel: 'change', values: rs.map((r) => r.gradChange) },
      { series: network, x: step, panel: 'beta', values: rs.map((r) => r.betaSmoothness) },
    ];
  }));
  const of = (network: string) => summary.find((s) => s.network === network)!;
  const [plain, bn] = [of(NET_LABELS.plain), of(NET_LABELS.bn)];
  const betaWord = bn.meanBetaSmoothness.mean < 0.8 * plain.meanBetaSmoothness.mean ? 'lower too'
    : bn.meanBetaSmoothness.mean > 1.25 * plain.meanBetaSmoothness.mean ? 'higher' : 'no lower';
  return spreadChart({
    title: `${bn.meanLossRange.mean < 0.8 * plain.meanLossRange.mean ? 'BN shrinks' : 'BN does not shrink'} the loss range along the gradient (${bn.meanLossRange.mean.toFixed(2)} vs ${plain.meanLossRange.mean.toFixed(2)}), and its beta-smoothness is ${betaWord} (${bn.meanBetaSmoothness.mean.toFixed(1)} vs ${plain.meanBetaSmoothness.mean.toFixed(1)})`,
    subtitle: [
      `MNIST MLP with 4 hidden layers of 64, SGD lr ${LEARNING_RATE}; probes at w - eta g, eta = ${STEP_MULTIPLES.map((m) => m * LEARNING_RATE).join(', ')} (Santurkar et al. 2018)`,
      'gradient change: max ||grad(w - eta g) - g||; beta-smoothness: max of that change / ||eta g|| (scale-free)',
      'noisy BN: BN followed by noise with non-zero mean and non-unit variance that changes every step',
    ],
    points, panels, xTitle: 'training step', xScale: 'linear', colors: netColors(networks), width: 260,
  });
}

if (require.main === module) {
  const program = experimentCli('npm run experiment:landscape --', 'Loss landscape along the gradient: without BN, with BN, with noisy BN.', LANDSCAPE_DEFAULTS)
    .option('--every <n>', 'probe every n steps', (v) => Number(v), LANDSCAPE_DEFAULTS.every);
  runCli(() => main(experimentOptions<LandscapeOptions>(program.parse())));
}
