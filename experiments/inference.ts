/**
 * Running averages at inference, and folding. In training, BN normalizes with the statistics of
 * the batch; at inference it uses moving averages of those statistics collected during training
 * (Ioffe & Szegedy 2015). This experiment trains a BN MLP and, at checkpoints from the first step
 * on, evaluates the test digits four ways: with the moving averages of momentum 0.99 (the Keras
 * default) and of momentum 0.9 (two models trained identically, only the averaging differs), with
 * the statistics of the whole test set as one batch, and with batch statistics of one digit at a
 * time (what goes wrong when a model is run in training mode on single inputs). At the end the
 * BN layers are folded into the Dense kernels and the folded model's outputs are compared.
 */
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { BatchNormalization } from '../src';
import { foldBatchNorm } from '../src/convert';
import { runCli } from '../examples/common/cli';
import { accuracy } from '../examples/common/data';
import { formatTable } from '../examples/common/table';
import { disposeModel, fitWithProgress, testAccuracy } from '../examples/common/train';
import { ChartFiles, ChartSpec, writeChart } from './common/charts';
import { mlpNet } from './common/nets';
import {
  experimentCli, experimentOptions, forEachSeed, ExperimentInput, ExperimentOptions, formatNumber, formatSpread, resolveOptions, seriesColors, spread, spreadChart,
} from './common/seeds';

export interface InferenceOptions extends ExperimentOptions {
  /** Steps after which the four evaluations run. */
  checkpoints: number[];
}

export const INFERENCE_DEFAULTS: InferenceOptions = {
  epochs: 3, samples: 1000, testSamples: 500, batchSize: 32, out: 'models/experiments', seed: 101, bars: false, seeds: 3,
  checkpoints: [1, 2, 5, 10, 20, 50, 96],
};
export const INFERENCE_QUICK: Partial<InferenceOptions> = { epochs: 1, samples: 100, testSamples: 20, seeds: 2, checkpoints: [1, 2, 4] };

/** The four ways of evaluating, in table and legend order. */
export const EVALUATIONS = [
  'moving averages, momentum 0.99',
  'moving averages, momentum 0.9',
  'batch statistics of all test digits at once',
  'batch statistics of one digit at a time',
] as const;
export type Evaluation = typeof EVALUATIONS[number];

/** Digits evaluated one at a time (each is its own batch, so this is slow per digit). */
const SINGLE_DIGITS = 50;

export interface InferenceRow {
  seed: number;
  step: number;
  evaluation: Evaluation;
  testAccuracy: number;
}

export interface FoldRow {
  seed: number;
  /** Largest |folded - original| over the test digits' softmax outputs. */
  maxAbsDiff: number;
  accuracy: number;
  foldedAccuracy: number;
  foldedLayers: number;
}

export interface InferenceResult {
  rows: InferenceRow[];
  fold: FoldRow[];
  chart: ChartFiles;
}

/** Runs `fn` in training mode without keeping what it did to the BN layers' moving statistics. */
function withBatchStatistics(model: tf.LayersModel, fn: () => number): number {
  const bns = model.layers.filter((l): l is BatchNormalization => l instanceof BatchNormalization);
  const saved = bns.map((l) => l.getWeights().map((w) => w.clone()));
  try {
    return fn();
  } finally {
    bns.forEach((l, i) => l.setWeights(saved[i]));
    saved.forEach((ws) => tf.dispose(ws));
  }
}

/** Test accuracy with batch statistics: the whole test set as one batch, or one digit per batch. */
function batchStatisticsAccuracy(model: tf.LayersModel, x: tf.Tensor, y: tf.Tensor, single: boolean): number {
  return withBatchStatistics(model, () => tf.tidy(() => {
    if (!single) return accuracy(model.apply(x, { training: true }) as tf.Tensor, y);
    const n = Math.min(SINGLE_DIGITS, x.shape[0]);
    const outs = Array.from({ length: n }, (_, i) => model.apply(x.slice(i, 1), { training: true }) as tf.Tensor);
    return accuracy(tf.concat(outs), y.slice(0, n));
  }));
}

/**
 * Trains the two BN models for every seed, evaluates at the checkpoints, folds, prints the tables
 * and writes `<out>/inference.svg|png`.
 *
 * Usage: `const r = await main({ quick: true, out: '/tmp/x' });`
 */
export async function main(options: ExperimentInput<InferenceOptions> = {}): Promise<InferenceResult> {
  const opts = resolveOptions(INFERENCE_DEFAULTS, INFERENCE_QUICK, options);
  await tf.setBackend('cpu');
  const rows: InferenceRow[] = [];
  const fold: FoldRow[] = [];
  await forEachSeed(opts, async (seed, data) => {
    const models = [0.99, 0.9].map((momentum) => {
      const m = mlpNet({ kind: 'bn', hidden: [64, 64], seed, momentum });
      m.compile({ optimizer: tf.train.adam(0.001), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
      return m;
    });
    try {
      // Model 0 and 1 see the same batches and differ only in their moving averages.
      const [slow, fast] = models;
      const stepsDone = [0, 0];
      const recorders = models.map((model, k) => new tf.CustomCallback({
        onBatchEnd: async () => {
          const step = ++stepsDone[k];
          if (!opts.checkpoints.includes(step)) return;
          rows.push({ seed, step, evaluation: EVALUATIONS[k], testAccuracy: testAccuracy(model, data.xTest, data.yTest) });
          if (model === fast) {
            rows.push({ seed, step, evaluation: EVALUATIONS[2], testAccuracy: batchStatisticsAccuracy(model, data.xTest, data.yTest, false) });
            rows.push({ seed, step, evaluation: EVALUATIONS[3], testAccuracy: batchStatisticsAccuracy(model, data.xTest, data.yTest, true) });
          }
        },
      }));
      await fitWithProgress(slow, data.xTrain, data.yTrain, { ...opts, seed }, `momentum 0.99 seed ${seed}`, [recorders[0]]);
      await fitWithProgress(fast, data.xTrain, data.yTrain, { ...opts, seed }, `momentum 0.9 seed ${seed}`, [recorders[1]]);
      const { model: folded, folded: done } = await foldBatchNorm(slow);
      try {
        const [a, b] = [slow.predict(data.xTest) as tf.Tensor, folded.predict(data.xTest) as tf.Tensor];
        const maxAbsDiff = tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
        fold.push({ seed, maxAbsDiff, accuracy: accuracy(a, data.yTest), foldedAccuracy: accuracy(b, data.yTest), foldedLayers: done.length });
        tf.dispose([a, b]);
      } finally {
        folded.dispose();
      }
    } finally {
      models.forEach(disposeModel);
    }
  });
  const steps = opts.checkpoints.filter((s) => rows.some((r) => r.step === s));
  console.log(formatTable(steps.map((step) => Object.fromEntries([['step', step], ...EVALUATIONS.map((e) => [e,
    formatSpread(spread(rows.filter((r) => r.step === step && r.evaluation === e).map((r) => r.testAccuracy)))])])),
  { title: `\nTest accuracy of a BN MLP (2x64, Adam 1e-3, batch ${opts.batchSize}) evaluated four ways (one-at-a-time: first ${SINGLE_DIGITS} test digits); mean ± sd (min–max) over ${opts.seeds} seeds` }));
  console.log(formatTable([{
    'BN layers folded': fold[0]?.foldedLayers ?? 0,
    'largest abs. difference of softmax outputs, folded vs original': formatNumber(Math.max(...fold.map((f) => f.maxAbsDiff))),
    'test accuracy, original': formatSpread(spread(fold.map((f) => f.accuracy))),
    'test accuracy, folded': formatSpread(spread(fold.map((f) => f.foldedAccuracy))),
  }], { title: '\nFolding the trained model (momentum 0.99) into its Dense layers' }));
  const chart = await writeChart(inferenceChart(rows, fold), path.join(opts.out, 'inference'));
  console.log(`chart: ${chart.svg}${chart.png ? ` and ${chart.png}` : ''}`);
  return { rows, fold, chart };
}

/** Test accuracy against training steps (log) for the four evaluations. */
export function inferenceChart(rows: InferenceRow[], fold: FoldRow[]): ChartSpec {
  const steps = Array.from(new Set(rows.map((r) => r.step))).sort((a, b) => a - b);
  const points = EVALUATIONS.flatMap((e) => steps.map((step) => ({
    series: e, x: step, values: rows.filter((r) => r.evaluation === e && r.step === step).map((r) => r.testAccuracy),
  })));
  const at = (e: Evaluation, step: number) => spread(rows.filter((r) => r.evaluation === e && r.step === step).map((r) => r.testAccuracy)).mean;
  const early = steps.find((s) => s >= 10) ?? steps[steps.length - 1];
  // First checkpoint from which momentum 0.99 is within 0.02 of the batch-statistics accuracy for good.
  const caught = steps.find((s) => steps.filter((t) => t >= s).every((t) => at(EVALUATIONS[0], t) >= at(EVALUATIONS[2], t) - 0.02));
  const maxDiff = Math.max(...fold.map((f) => f.maxAbsDiff));
  return spreadChart({
    title: `After ${early} steps, momentum-0.99 averages give ${at(EVALUATIONS[0], early).toFixed(2)} test accuracy vs ${at(EVALUATIONS[2], early).toFixed(2)} with batch statistics`
      + (caught != null ? `; level from step ${caught}` : '; still behind at the end'),
    subtitle: [
      `one digit per batch: every digit normalizes to beta, accuracy ${at(EVALUATIONS[3], steps[steps.length - 1]).toFixed(2)} at the end; `
        + `folding BN into the Dense layers changes outputs by at most ${formatNumber(maxDiff)}`,
      'MNIST MLP (2 hidden layers of 64) with BN, Adam 1e-3, batch 32',
    ],
    points, xTitle: 'training steps (log scale)', yTitle: 'test accuracy (fraction correct)', xScale: 'log', width: 420, height: 260,
    colors: seriesColors([...EVALUATIONS], { [EVALUATIONS[0]]: '#4c78a8', [EVALUATIONS[1]]: '#72b7b2', [EVALUATIONS[2]]: '#54a24b', [EVALUATIONS[3]]: '#e45756' }),
  });
}


if (require.main === module) {
  const program = experimentCli('npm run experiment:inference --', 'Moving averages vs batch statistics at inference; folding.', INFERENCE_DEFAULTS)
    .option('--checkpoints <list>', 'comma-separated steps to evaluate at', (v) => v.split(',').map(Number), INFERENCE_DEFAULTS.checkpoints);
  runCli(() => main(experimentOptions<InferenceOptions>(program.parse())));
}
