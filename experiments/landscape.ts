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
import { cli, runCli, runOptions, RunOptions } from '../examples/common/cli';
import { loadMnist, seededRandom } from '../examples/common/data';
import { formatTable } from '../examples/common/table';
import { testAccuracy } from '../examples/common/train';
import { ChartFiles, ChartSpec, writeChart } from './common/charts';
import { mlpNet, netColors, NET_LABELS, NetKind, noiseLayers } from './common/nets';

export const LANDSCAPE_DEFAULTS: RunOptions = {
  epochs: 4, samples: 2000, testSamples: 500, batchSize: 64, out: 'models/experiments', seed: 41, bars: false,
};
/** Learning rate of the training runs; probe step sizes are multiples of it. */
export const LEARNING_RATE = 0.1;
export const STEP_MULTIPLES = [0.25, 0.5, 1, 2, 4];

export interface LandscapeRow {
  network: string;
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

export interface LandscapeSummary {
  network: string;
  finalTrainLoss: number;
  testAccuracy: number;
  meanLossRange: number;
  meanGradChange: number;
  meanBetaSmoothness: number;
}

export interface LandscapeResult {
  rows: LandscapeRow[];
  /** Training loss of every step, per network. */
  trainLoss: Array<{ network: string; step: number; loss: number }>;
  summary: LandscapeSummary[];
  chart: ChartFiles;
}

const norm = (ts: tf.Tensor[]) => tf.tidy(() => Math.sqrt(ts.reduce((s, t) => s + tf.sum(tf.square(t)).dataSync()[0], 0)));

/**
 * Trains one network with a hand-written SGD loop, probing the landscape every `every` steps.
 *
 * Usage: `const { rows, trainLoss, testAccuracy } = await probeTraining('bn', data, opts, 4);`
 */
async function probeTraining(kind: NetKind, data: ReturnType<typeof loadMnist>, opts: RunOptions, every: number) {
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
  const trainLoss: Array<{ network: string; step: number; loss: number }> = [];
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
        trainLoss.push({ network: NET_LABELS[kind], step, loss });
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
            network: NET_LABELS[kind], step, loss, lossMin: Math.min(...finite), lossMax: Math.max(...finite),
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
 * Runs the three networks, prints the tables and writes `<out>/landscape.svg|png`.
 *
 * Usage: `const r = await main({ epochs: 1, samples: 200, out: '/tmp/x' });`
 */
export async function main(options: Partial<RunOptions> & { every?: number } = {}): Promise<LandscapeResult> {
  const opts = { ...LANDSCAPE_DEFAULTS, every: 5, ...options };
  await tf.setBackend('cpu');
  const data = loadMnist({ trainSamples: opts.samples, testSamples: opts.testSamples, seed: opts.seed });
  const rows: LandscapeRow[] = [];
  const trainLoss: LandscapeResult['trainLoss'] = [];
  const summary: LandscapeSummary[] = [];
  try {
    for (const kind of ['plain', 'bn', 'noisy-bn'] as NetKind[]) {
      const t0 = Date.now();
      const r = await probeTraining(kind, data, opts, opts.every);
      rows.push(...r.rows);
      trainLoss.push(...r.trainLoss);
      const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
      const tail = r.trainLoss.slice(-Math.max(1, Math.ceil(opts.samples / opts.batchSize)));
      summary.push({
        network: NET_LABELS[kind], finalTrainLoss: mean(tail.map((t) => t.loss)), testAccuracy: r.testAccuracy,
        meanLossRange: mean(r.rows.map((x) => x.lossMax - x.lossMin)), meanGradChange: mean(r.rows.map((x) => x.gradChange)),
        meanBetaSmoothness: mean(r.rows.map((x) => x.betaSmoothness)),
      });
      console.log(`${NET_LABELS[kind]}: ${r.trainLoss.length} steps, ${r.rows.length} probes, ${((Date.now() - t0) / 1000).toFixed(1)}s`);
    }
  } finally {
    data.dispose();
  }
  console.log(formatTable(summary.map((s) => ({
    network: s.network, 'train loss (last epoch)': s.finalTrainLoss, 'test accuracy': s.testAccuracy,
    'mean loss range': s.meanLossRange, 'mean max grad change': s.meanGradChange, 'mean beta-smoothness': s.meanBetaSmoothness,
  })), { title: `\nAlong the gradient, step sizes ${STEP_MULTIPLES.map((m) => m * LEARNING_RATE).join(', ')} (SGD lr ${LEARNING_RATE})` }));
  const chart = await writeChart(landscapeChart(rows, trainLoss), path.join(opts.out, 'landscape'));
  console.log(`chart: ${chart.svg}${chart.png ? ` and ${chart.png}` : ''}`);
  return { rows, trainLoss, summary, chart };
}

/** Three panels: training loss per step, loss range band along the gradient, gradient change (log). */
export function landscapeChart(rows: LandscapeRow[], trainLoss: LandscapeResult['trainLoss']): ChartSpec {
  const color = { field: 'network', type: 'nominal' as const, title: null, scale: netColors(Object.values(NET_LABELS)) };
  const x = { field: 'step', type: 'quantitative' as const, title: 'training step' };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: { text: 'Loss landscape along the gradient (Santurkar et al. 2018), MNIST MLP with 4 hidden layers', subtitle: `SGD lr ${LEARNING_RATE}; probes at w - eta*grad, eta = ${STEP_MULTIPLES.map((m) => m * LEARNING_RATE).join(', ')}` },
    hconcat: [
      {
        title: 'training loss per step',
        width: 260, height: 220,
        data: { values: trainLoss },
        mark: { type: 'line', opacity: 0.8 },
        encoding: { x, y: { field: 'loss', type: 'quantitative', title: 'loss' }, color },
      },
      {
        title: 'loss range along the gradient',
        width: 260, height: 220,
        data: { values: rows },
        mark: { type: 'area', opacity: 0.35 },
        encoding: {
          x, y: { field: 'lossMin', type: 'quantitative', title: 'loss (min..max over step sizes)' },
          y2: { field: 'lossMax' }, color,
        },
      },
      {
        title: 'gradient change along the gradient',
        width: 260, height: 220,
        data: { values: rows },
        mark: { type: 'line', point: true },
        encoding: {
          x, y: { field: 'gradChange', type: 'quantitative', scale: { type: 'log' }, title: 'max ||grad(w - eta g) - g|| (log)' }, color,
        },
      },
    ],
    resolve: { scale: { color: 'shared' } },
    config: { legend: { orient: 'bottom', labelLimit: 300 } },
  };
}

if (require.main === module) {
  const program = cli('npm run experiment:landscape --', 'Loss landscape along the gradient: without BN, with BN, with noisy BN.', LANDSCAPE_DEFAULTS)
    .option('--every <n>', 'probe every n steps', (v) => Number(v), 5);
  runCli(() => main({ ...runOptions(program.parse()), every: program.opts().every }));
}
