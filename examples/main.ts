/**
 * The main job (`npm start`): a Keras-style CNN with this package's BatchNormalization trained on
 * real MNIST digits, checked against the built-in layer, saved through file://, reloaded and
 * verified, then summarized.
 */
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { BatchNormalization, batchNormalization } from '../src';
import { cli, runCli, runOptions, RunOptions } from './common/cli';
import { accuracy, loadMnist } from './common/data';
import { saveAndReload } from './common/persist';
import { formatTable } from './common/table';
import { fitWithProgress } from './common/train';

/** Defaults sized to finish in about 2-3 minutes on 2 cores with the pure-JS `cpu` backend. */
export const MAIN_DEFAULTS: RunOptions = {
  epochs: 3, samples: 2000, testSamples: 500, batchSize: 64, out: 'models', seed: 7, bars: true,
};

export interface MainResult {
  trainAccuracy: number;
  testAccuracy: number;
  finalLoss: number;
  trainSeconds: number;
  totalSeconds: number;
  /** max |ours - tf.layers.batchNormalization| on the same weights and batch. */
  builtinDiff: { training: number; inference: number; movingStats: number };
  /** Saved model folder and the reload check. */
  modelDir: string;
  reloadMaxDiff: number;
  reloadIdentical: boolean;
  summary: string;
}

/**
 * Keras-style CNN: conv (no bias) -> BN -> ReLU twice, then dense (no bias) -> BN -> ReLU and a
 * softmax. Strided convolutions instead of pooling keep it cheap on the pure-JS backend.
 *
 * Usage: `const model = mnistCnn(7);`
 */
export function mnistCnn(seed: number): tf.Sequential {
  const init = (k: number) => tf.initializers.heNormal({ seed: seed + k });
  // momentum 0.9 (Keras default 0.99): a short run takes ~100 steps, and with 0.99 the moving
  // averages used at inference would still be far from the data's statistics.
  const bn = () => batchNormalization({ momentum: 0.9 });
  return tf.sequential({
    name: 'mnist_cnn',
    layers: [
      tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 8, kernelSize: 5, strides: 2, useBias: false, kernelInitializer: init(1) }),
      bn(),
      tf.layers.activation({ activation: 'relu' }),
      tf.layers.conv2d({ filters: 16, kernelSize: 3, strides: 2, useBias: false, kernelInitializer: init(2) }),
      bn(),
      tf.layers.activation({ activation: 'relu' }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 32, useBias: false, kernelInitializer: init(3) }),
      bn(),
      tf.layers.activation({ activation: 'relu' }),
      tf.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 4 }) }),
    ],
  });
}

/**
 * Runs the BN layer of `model` at `layerIndex` and a `tf.layers.batchNormalization` holding the
 * same weights on the same batch (the real activations feeding that layer), in training and
 * inference mode. Fresh copies are used so the model's moving statistics stay untouched.
 *
 * Usage: `const diff = compareWithBuiltin(model, 1, xTest.slice(0, 64));`
 */
export function compareWithBuiltin(model: tf.LayersModel, layerIndex: number, x: tf.Tensor) {
  const layer = model.layers[layerIndex];
  if (!(layer instanceof BatchNormalization)) throw new Error(`layer ${layerIndex} is not a BatchNormalization`);
  const args = { axis: layer.axis, momentum: layer.momentum, epsilon: layer.epsilon };
  const ours = batchNormalization(args);
  const stock = tf.layers.batchNormalization(args);
  const feature = tf.model({ inputs: model.inputs, outputs: layer.input as tf.SymbolicTensor });
  try {
    return tf.tidy(() => {
      const batch = feature.predict(x) as tf.Tensor;
      for (const l of [ours, stock]) {
        l.build(batch.shape);
        l.setWeights(layer.getWeights());
      }
      const maxDiff = (a: tf.Tensor, b: tf.Tensor) => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0];
      const inference = maxDiff(ours.apply(batch, { training: false }) as tf.Tensor, stock.apply(batch, { training: false }) as tf.Tensor);
      const training = maxDiff(ours.apply(batch, { training: true }) as tf.Tensor, stock.apply(batch, { training: true }) as tf.Tensor);
      // After one training call both layers have moved their moving mean/variance the same way.
      const w1 = ours.getWeights();
      const w2 = stock.getWeights();
      const movingStats = Math.max(...w1.map((w, i) => maxDiff(w, w2[i])));
      return { training, inference, movingStats };
    });
  } finally {
    // Layer.dispose() refuses layers never applied symbolically; free their variables directly.
    for (const l of [ours, stock]) for (const w of l.weights) w.dispose();
  }
}

/**
 * Trains, checks, saves, reloads and summarizes; returns the numbers (and disposes everything).
 *
 * Usage: `const result = await main({ ...MAIN_DEFAULTS, epochs: 1, samples: 200, out: tmpDir });`
 */
export async function main(options: Partial<RunOptions> = {}): Promise<MainResult> {
  const opts = { ...MAIN_DEFAULTS, ...options };
  const log = (line: string) => console.log(line);
  const t0 = Date.now();
  await tf.setBackend('cpu');
  log(`tfjs-batchnorm main job: CNN on ${opts.samples} real MNIST digits, ${opts.epochs} epochs, `
    + `batch ${opts.batchSize}, backend ${tf.getBackend()}`);
  const data = loadMnist({ trainSamples: opts.samples, testSamples: opts.testSamples, layout: 'nhwc', seed: opts.seed });
  const model = mnistCnn(opts.seed);
  const optimizer = tf.train.adam(0.005);
  model.compile({ optimizer, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  let reloaded: tf.LayersModel | null = null;
  try {
    const fit = await fitWithProgress(model, data.xTrain, data.yTrain, opts, '');
    const trainSeconds = fit.seconds;
    const losses = fit.loss;
    const predict = (x: tf.Tensor) => tf.tidy(() => model.predict(x) as tf.Tensor);
    const [pTrain, pTest] = [predict(data.xTrain), predict(data.xTest)];
    const trainAccuracy = accuracy(pTrain, data.yTrain);
    const testAccuracy = accuracy(pTest, data.yTest);
    tf.dispose([pTrain, pTest]);

    const probe = data.xTest.slice(0, Math.min(64, data.xTest.shape[0]));
    const builtinDiff = compareWithBuiltin(model, 1, probe);
    probe.dispose();
    log(`custom vs tf.layers.batchNormalization (same weights, same batch): max |diff| training `
      + `${builtinDiff.training.toExponential(2)}, inference ${builtinDiff.inference.toExponential(2)}, `
      + `moving stats ${builtinDiff.movingStats.toExponential(2)}`);

    const modelDir = path.join(opts.out, 'mnist-cnn');
    const check = await saveAndReload(model, modelDir, data.xTest);
    reloaded = check.reloaded;
    log(`saved to ${check.dir}; reloaded predictions on ${data.xTest.shape[0]} test digits: `
      + `${check.identical ? 'identical' : `max |diff| ${check.maxAbsDiff}`}`);

    const totalSeconds = (Date.now() - t0) / 1000;
    const ok = (pass: boolean) => (pass ? 'ok' : 'FAILED');
    const builtinOk = Math.max(builtinDiff.training, builtinDiff.inference, builtinDiff.movingStats) < 1e-4;
    const summary = formatTable([
      { item: 'train accuracy', value: trainAccuracy.toFixed(4), note: `${data.xTrain.shape[0]} digits` },
      { item: 'test accuracy', value: testAccuracy.toFixed(4), note: `${data.xTest.shape[0]} held-out digits` },
      { item: 'final training loss', value: losses[losses.length - 1].toFixed(4), note: `after ${opts.epochs} epochs` },
      { item: 'training time', value: `${trainSeconds.toFixed(1)}s`, note: `${(trainSeconds / opts.epochs).toFixed(1)}s per epoch` },
      { item: 'total time', value: `${totalSeconds.toFixed(1)}s`, note: 'including checks' },
      { item: 'vs built-in BN', value: ok(builtinOk), note: `max diff ${Math.max(builtinDiff.training, builtinDiff.inference, builtinDiff.movingStats).toExponential(2)} (tolerance 1e-4)` },
      { item: 'save + reload', value: ok(check.identical), note: check.identical ? 'predictions identical' : `max diff ${check.maxAbsDiff}` },
    ], { title: '\nSummary' });
    log(summary);
    log(`\nLonger or shorter run: npm start -- --epochs 5 --samples 6000 (more accurate), `
      + `npm start -- --epochs 1 --samples 500 (quick); npm start -- --help for all options.`);
    return {
      trainAccuracy, testAccuracy, finalLoss: losses[losses.length - 1], trainSeconds, totalSeconds, builtinDiff,
      modelDir: check.dir, reloadMaxDiff: check.maxAbsDiff, reloadIdentical: check.identical, summary,
    };
  } finally {
    reloaded?.dispose();
    model.dispose();
    optimizer.dispose();
    data.dispose();
  }
}

if (require.main === module) {
  const program = cli('npm start --', 'Train, verify, save and reload a BatchNormalization CNN on real MNIST digits.', MAIN_DEFAULTS);
  runCli(() => main(runOptions(program.parse())));
}
