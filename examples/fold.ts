/**
 * Inference folding: each BatchNormalization after a Conv/Dense is merged into that layer's
 * kernel and bias with `foldBatchNorm`, so inference skips the BN arithmetic. Times a batch
 * before and after, checks the outputs match, then saves and reloads the folded model.
 */
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { foldBatchNorm } from '../src/convert';
import { timePredictions } from '../src/core/timing';
import { cli, runCli, runOptions, RunOptions } from './common/cli';
import { loadMnist } from './common/data';
import { saveAndReload } from './common/persist';
import { formatTable } from './common/table';
import { disposeModel, fitWithProgress, testAccuracy } from './common/train';
import { mnistCnn } from './main';

export const FOLD_DEFAULTS: RunOptions = {
  epochs: 1, samples: 1000, testSamples: 256, batchSize: 64, out: 'models', seed: 17, bars: true,
};

export interface FoldExampleResult {
  testAccuracyBefore: number;
  testAccuracyAfter: number;
  /** Median milliseconds of one `predict` on the test batch. */
  msPerBatchBefore: number;
  msPerBatchAfter: number;
  speedup: number;
  /** max |original - folded| over the softmax outputs. */
  maxAbsDiff: number;
  /** Layer counts and the (BN -> layer) pairs that were folded. */
  layersBefore: number;
  layersAfter: number;
  folded: string[];
  modelDir: string;
  reloadIdentical: boolean;
  reloadMaxDiff: number;
}

/**
 * Trains the CNN of the main job briefly, folds its BN layers, compares and times both models,
 * saves the folded one to `<out>/folded-cnn` and reloads it.
 *
 * Usage: `const r = await main({ epochs: 1, samples: 200, out: '/tmp/x' });`
 */
export async function main(options: Partial<RunOptions> & { repeats?: number } = {}): Promise<FoldExampleResult> {
  const opts = { ...FOLD_DEFAULTS, repeats: 10, ...options };
  await tf.setBackend('cpu');
  const data = loadMnist({ trainSamples: opts.samples, testSamples: opts.testSamples, layout: 'nhwc', seed: opts.seed });
  const model = mnistCnn(opts.seed);
  model.compile({ optimizer: tf.train.adam(0.005), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  let folded: tf.LayersModel | null = null;
  let reloaded: tf.LayersModel | null = null;
  try {
    await fitWithProgress(model, data.xTrain, data.yTrain, opts, 'cnn');
    const result = await foldBatchNorm(model);
    folded = result.model;
    const maxAbsDiff = tf.tidy(() => tf.max(tf.abs(tf.sub(model.predict(data.xTest) as tf.Tensor, folded!.predict(data.xTest) as tf.Tensor))).dataSync()[0]);
    const [msPerBatchBefore, msPerBatchAfter] = await timePredictions([model, folded], [data.xTest], { runs: opts.repeats });
    const check = await saveAndReload(folded, path.join(opts.out, 'folded-cnn'), data.xTest);
    reloaded = check.reloaded;
    const out: FoldExampleResult = {
      testAccuracyBefore: testAccuracy(model, data.xTest, data.yTest),
      testAccuracyAfter: testAccuracy(folded, data.xTest, data.yTest),
      msPerBatchBefore, msPerBatchAfter, speedup: msPerBatchBefore / msPerBatchAfter, maxAbsDiff,
      layersBefore: model.layers.length, layersAfter: folded.layers.length,
      folded: result.folded.map((f) => `${f.batchNorm.join('/')} -> ${f.into.join('/')}`),
      modelDir: check.dir, reloadIdentical: check.identical, reloadMaxDiff: check.maxAbsDiff,
    };
    console.log(formatTable([
      { model: 'with BN', layers: out.layersBefore, 'ms per batch': msPerBatchBefore, 'test accuracy': out.testAccuracyBefore },
      { model: 'folded', layers: out.layersAfter, 'ms per batch': msPerBatchAfter, 'test accuracy': out.testAccuracyAfter },
    ], { title: `\nInference on a batch of ${data.xTest.shape[0]} digits (median of ${opts.repeats}, taking turns)`, digits: 2 }));
    console.log(`folded ${out.folded.length} BN layers (${out.folded.join(', ')}); kept ${result.kept.length}`);
    console.log(`speed-up ${out.speedup.toFixed(2)}x; max |original - folded| ${maxAbsDiff.toExponential(2)}; `
      + `saved to ${check.dir}, reloaded predictions ${check.identical ? 'identical' : `max diff ${check.maxAbsDiff}`}`);
    return out;
  } finally {
    reloaded?.dispose();
    folded?.dispose();
    disposeModel(model);
    data.dispose();
  }
}

if (require.main === module) {
  const program = cli('npm run example:fold --', 'Time inference before and after foldBatchNorm.', FOLD_DEFAULTS)
    .option('-r, --repeats <n>', 'timed predict calls per model', (v) => Number(v), 10);
  runCli(() => main({ ...runOptions(program.parse()), repeats: program.opts().repeats }));
}
