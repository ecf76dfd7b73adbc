/**
 * Sequence model with masking: Embedding(maskZero) -> BatchNormalization -> SimpleRNN -> softmax
 * on variable-length token sequences padded with 0. The mask travels from the Embedding through
 * the BN layer, so padded steps are left out of the batch statistics (and skipped by the RNN).
 *
 * Data: generated sequences (MNIST has no token sequences): tokens 1..19, lengths 3..maxLength;
 * the label says whether low tokens (1..9) outnumber high tokens (10..19).
 */
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { BatchNormalization, batchNormalization } from '../src';
import { cli, runCli, runOptions, RunOptions } from './common/cli';
import { seededRandom } from './common/data';
import { reloadRows, saveAndReload } from './common/persist';
import { formatTable } from './common/table';
import { disposeModel, fitWithProgress, testAccuracy } from './common/train';

export const MASKING_DEFAULTS: RunOptions = {
  epochs: 5, samples: 2000, testSamples: 500, batchSize: 32, out: 'models', seed: 11, bars: true,
};

const VOCAB = 20;
const MAX_LENGTH = 12;
const EMBEDDING = 8;

export interface SequenceData {
  tokens: tf.Tensor2D;
  labels: tf.Tensor2D;
}

/**
 * Padded token sequences and one-hot labels (see the file comment), repeatable from `seed`.
 *
 * Usage: `const { tokens, labels } = makeSequences(100, 1);`
 */
export function makeSequences(n: number, seed: number, maxLength = MAX_LENGTH): SequenceData {
  const rand = seededRandom(seed);
  const tokens = new Int32Array(n * maxLength);
  const labels: number[] = [];
  for (let i = 0; i < n; i++) {
    const length = 3 + Math.floor(rand() * (maxLength - 2));
    let low = 0;
    for (let t = 0; t < length; t++) {
      const token = 1 + Math.floor(rand() * (VOCAB - 1));
      tokens[i * maxLength + t] = token;
      if (token < 10) low++;
    }
    labels.push(low * 2 > length ? 1 : 0);
  }
  const oneHot = tf.tidy(() => tf.oneHot(tf.tensor1d(labels, 'int32'), 2).toFloat() as tf.Tensor2D);
  return { tokens: tf.tensor2d(tokens, [n, maxLength], 'int32'), labels: oneHot };
}

/**
 * Embedding(maskZero) -> BN -> SimpleRNN -> Dense(2, softmax).
 *
 * Usage: `const model = maskedSequenceModel(11);`
 */
export function maskedSequenceModel(seed: number): tf.LayersModel {
  const input = tf.input({ shape: [MAX_LENGTH], dtype: 'int32', name: 'tokens' });
  let x = tf.layers.embedding({
    inputDim: VOCAB, outputDim: EMBEDDING, maskZero: true, name: 'embedding',
    embeddingsInitializer: tf.initializers.randomNormal({ mean: 1, stddev: 1, seed }),
  }).apply(input) as tf.SymbolicTensor;
  x = batchNormalization({ momentum: 0.9, name: 'bn' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.simpleRNN({
    units: 16, name: 'rnn',
    kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 1 }),
    recurrentInitializer: tf.initializers.orthogonal({ seed: seed + 2 }),
  }).apply(x) as tf.SymbolicTensor;
  const output = tf.layers.dense({
    units: 2, activation: 'softmax', name: 'classes', kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 3 }),
  }).apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: output, name: 'masked_sequences' });
}

export interface MaskStatistics {
  /** Per-feature batch mean/variance the BN layer used in a training step, recovered from its moving averages. */
  layerMean: number[];
  layerVariance: number[];
  /** The same statistics computed directly on the embeddings of the real (unpadded) steps only. */
  unpaddedMean: number[];
  unpaddedVariance: number[];
  /** ... and on every step, padding included (what an unmasked BN would use). */
  allStepsMean: number[];
  allStepsVariance: number[];
  /** Fraction of steps that are padding in the batch. */
  paddedFraction: number;
}

/**
 * Runs one real training step of `model` (through `trainOnBatch`, learning rate 0 so the weights
 * stay) on `tokens`, and recovers the batch mean and variance its BN layer used from the change
 * of the moving averages: new = m * old + (1 - m) * batch. Compares them with statistics computed
 * by hand on unpadded steps only and on all steps.
 *
 * Usage: `const stats = batchStatisticsInTraining(model, tokens.slice(0, 32), labels.slice(0, 32));`
 */
export function batchStatisticsInTraining(model: tf.LayersModel, tokens: tf.Tensor2D, labels: tf.Tensor2D): Promise<MaskStatistics> {
  const bn = model.getLayer('bn') as BatchNormalization;
  const embedding = model.getLayer('embedding');
  return (async () => {
    const [oldMean, oldVar] = bn.getWeights().slice(2).map((w) => w.arraySync() as number[]);
    const optimizer = tf.train.sgd(0);
    model.compile({ optimizer, loss: 'categoricalCrossentropy' });
    await model.trainOnBatch(tokens, labels);
    optimizer.dispose();
    const [newMean, newVar] = bn.getWeights().slice(2).map((w) => w.arraySync() as number[]);
    const m = bn.momentum;
    const recover = (o: number[], n: number[]) => n.map((v, i) => (v - m * o[i]) / (1 - m));
    const stats = tf.tidy(() => {
      const emb = (embedding.apply(tokens) as tf.Tensor).reshape([-1, EMBEDDING]);
      const keep = tf.notEqual(tokens.reshape([-1]), 0).toFloat().reshape([-1, 1]);
      const count = keep.sum();
      const mean = emb.mul(keep).sum(0).div(count);
      const variance = emb.sub(mean).square().mul(keep).sum(0).div(count);
      const all = tf.moments(emb, 0);
      return {
        unpaddedMean: Array.from(mean.dataSync()), unpaddedVariance: Array.from(variance.dataSync()),
        allStepsMean: Array.from(all.mean.dataSync()), allStepsVariance: Array.from(all.variance.dataSync()),
        paddedFraction: 1 - count.dataSync()[0] / keep.shape[0],
      };
    });
    return { layerMean: recover(oldMean, newMean), layerVariance: recover(oldVar, newVar), ...stats };
  })();
}

export interface MaskingResult {
  testAccuracy: number;
  loss: number[];
  seconds: number;
  statistics: MaskStatistics;
  /** max |BN's batch mean - unpadded mean| and the same against all-steps means. */
  meanDiffUnpadded: number;
  meanDiffAllSteps: number;
  modelDir: string;
  reloadIdentical: boolean;
  reloadMaxDiff: number;
}

const maxDiff = (a: number[], b: number[]) => Math.max(...a.map((v, i) => Math.abs(v - b[i])));

/**
 * Trains the masked sequence model, saves it to `<out>/masking`, reloads it, and checks on the
 * reloaded model that its BN statistics in a training step come from unpadded steps only.
 *
 * Usage: `const r = await main({ epochs: 1, samples: 200, out: '/tmp/x' });`
 */
export async function main(options: Partial<RunOptions> = {}): Promise<MaskingResult> {
  const opts = { ...MASKING_DEFAULTS, ...options };
  await tf.setBackend('cpu');
  const train = makeSequences(opts.samples, opts.seed);
  const test = makeSequences(opts.testSamples, opts.seed + 1);
  const model = maskedSequenceModel(opts.seed);
  model.compile({ optimizer: tf.train.adam(0.01), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  let reloaded: tf.LayersModel | null = null;
  const probe = tf.tidy(() => [test.tokens.slice(0, 32), test.labels.slice(0, 32)]) as [tf.Tensor2D, tf.Tensor2D];
  try {
    const fit = await fitWithProgress(model, train.tokens, train.labels, opts, 'masked');
    const acc = testAccuracy(model, test.tokens, test.labels);
    const check = await saveAndReload(model, path.join(opts.out, 'masking'), test.tokens);
    reloaded = check.reloaded;
    // On the reloaded model: the saved graph must keep the mask flowing into the BN layer.
    const statistics = await batchStatisticsInTraining(reloaded, probe[0], probe[1]);
    const meanDiffUnpadded = maxDiff(statistics.layerMean, statistics.unpaddedMean);
    const meanDiffAllSteps = maxDiff(statistics.layerMean, statistics.allStepsMean);
    console.log(formatTable(statistics.layerMean.map((v, i) => ({
      feature: i, 'BN batch mean': v, 'mean, unpadded steps': statistics.unpaddedMean[i], 'mean, all steps': statistics.allStepsMean[i],
      'BN batch var': statistics.layerVariance[i], 'var, unpadded': statistics.unpaddedVariance[i], 'var, all steps': statistics.allStepsVariance[i],
    })), { title: `\nBatch statistics in a training step (${(statistics.paddedFraction * 100).toFixed(0)}% of steps are padding)` }));
    console.log(formatTable([
      { item: 'test accuracy', value: acc },
      { item: 'max |BN mean - unpadded mean|', value: meanDiffUnpadded },
      { item: 'max |BN mean - all-steps mean|', value: meanDiffAllSteps },
      ...reloadRows(check),
    ], { title: '\nMasked sequence model' }));
    return {
      testAccuracy: acc, loss: fit.loss, seconds: fit.seconds, statistics, meanDiffUnpadded, meanDiffAllSteps,
      modelDir: check.dir, reloadIdentical: check.identical, reloadMaxDiff: check.maxAbsDiff,
    };
  } finally {
    tf.dispose([...probe, train.tokens, train.labels, test.tokens, test.labels]);
    disposeModel(reloaded);
    disposeModel(model);
  }
}

if (require.main === module) {
  const program = cli('npm run example:masking --', 'Embedding(maskZero) -> BatchNormalization: padded steps stay out of the statistics.', MASKING_DEFAULTS);
  runCli(() => main(runOptions(program.parse())));
}
