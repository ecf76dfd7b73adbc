/**
 * CNN in the functional API on MNIST: channels-last (BN axis -1) and a channels-first variant
 * (BN axis 1 after channelsFirst convolutions), which tf.layers.batchNormalization cannot train.
 */
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { batchNormalization } from '../src';
import { cli, runCli, runOptions, RunOptions } from './common/cli';
import { loadMnist } from './common/data';
import { saveAndReload } from './common/persist';
import { formatTable } from './common/table';
import { disposeModel, fitWithProgress, testAccuracy } from './common/train';

export const CNN_DEFAULTS: RunOptions = {
  epochs: 2, samples: 1500, testSamples: 500, batchSize: 64, out: 'models', seed: 3, bars: true,
};

export type DataFormat = 'channelsLast' | 'channelsFirst';

export interface CnnVariantResult {
  dataFormat: DataFormat;
  testAccuracy: number;
  loss: number[];
  seconds: number;
  modelDir: string;
  reloadIdentical: boolean;
  reloadMaxDiff: number;
}

export interface CnnResult {
  variants: CnnVariantResult[];
  /** The error tf.layers.batchNormalization({axis: 1}) throws when fit in the channels-first model. */
  builtinChannelsFirstError: string | null;
}

/**
 * Functional CNN: conv -> BN -> ReLU, twice, flatten, softmax. `bn` makes the BN layers so the
 * same graph can hold this package's layer or the built-in one.
 *
 * Usage: `const model = functionalCnn('channelsFirst', 3);`
 */
export function functionalCnn(dataFormat: DataFormat, seed: number,
  bn: (axis: number) => tf.layers.Layer = (axis) => batchNormalization({ axis, momentum: 0.9 })): tf.LayersModel {
  const axis = dataFormat === 'channelsFirst' ? 1 : -1;
  const input = tf.input({ shape: dataFormat === 'channelsFirst' ? [1, 28, 28] : [28, 28, 1], name: 'digits' });
  let x: tf.SymbolicTensor = input;
  [[8, 5], [16, 3]].forEach(([filters, kernelSize], i) => {
    x = tf.layers.conv2d({
      filters, kernelSize, strides: 2, useBias: false, dataFormat,
      kernelInitializer: tf.initializers.heNormal({ seed: seed + i }), name: `conv${i + 1}`,
    }).apply(x) as tf.SymbolicTensor;
    x = bn(axis).apply(x) as tf.SymbolicTensor;
    x = tf.layers.activation({ activation: 'relu' }).apply(x) as tf.SymbolicTensor;
  });
  x = tf.layers.flatten().apply(x) as tf.SymbolicTensor;
  const output = tf.layers.dense({
    units: 10, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 9 }), name: 'classes',
  }).apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: output, name: `cnn_${dataFormat}` });
}

/**
 * One training step (forward in training mode, gradients, SGD update) of the channels-first graph
 * with the built-in BN on 4 samples: returns its error, if any. Note: when the built-in's
 * gradient throws, tfjs 4.22 keeps the forward pass's saved tensors (~76 small tensors) on its
 * gradient tape; that is tfjs's error path, not this package, and it is why this uses 4 samples.
 */
function builtinChannelsFirstError(x: tf.Tensor, y: tf.Tensor, seed: number): string | null {
  const model = functionalCnn('channelsFirst', seed, (axis) => tf.layers.batchNormalization({ axis }));
  const optimizer = tf.train.sgd(0.01);
  try {
    tf.tidy(() => {
      const [xs, ys] = [x.slice(0, 4), y.slice(0, 4)];
      optimizer.minimize(() => tf.losses.softmaxCrossEntropy(ys, model.apply(xs, { training: true }) as tf.Tensor) as tf.Scalar);
    });
    return null;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  } finally {
    model.dispose();
    optimizer.dispose();
  }
}

/**
 * Trains both variants, saves each under `<out>/cnn-<format>`, reloads and checks them, and
 * shows the built-in layer's failure on the channels-first graph.
 *
 * Usage: `const r = await main({ epochs: 1, samples: 200, out: '/tmp/x' });`
 */
export async function main(options: Partial<RunOptions> = {}): Promise<CnnResult> {
  const opts = { ...CNN_DEFAULTS, ...options };
  await tf.setBackend('cpu');
  const variants: CnnVariantResult[] = [];
  let builtinError: string | null = null;
  for (const dataFormat of ['channelsLast', 'channelsFirst'] as DataFormat[]) {
    const data = loadMnist({
      trainSamples: opts.samples, testSamples: opts.testSamples, seed: opts.seed,
      layout: dataFormat === 'channelsFirst' ? 'nchw' : 'nhwc',
    });
    const model = functionalCnn(dataFormat, opts.seed);
    model.compile({ optimizer: tf.train.adam(0.005), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    let reloaded: tf.LayersModel | null = null;
    try {
      if (dataFormat === 'channelsFirst') {
        builtinError = builtinChannelsFirstError(data.xTrain, data.yTrain, opts.seed);
        console.log(`tf.layers.batchNormalization({axis: 1}) in this graph: ${builtinError ? `fails: ${builtinError}` : 'trained'}`);
      }
      const fit = await fitWithProgress(model, data.xTrain, data.yTrain, opts, dataFormat);
      const acc = testAccuracy(model, data.xTest, data.yTest);
      const check = await saveAndReload(model, path.join(opts.out, `cnn-${dataFormat}`), data.xTest);
      reloaded = check.reloaded;
      variants.push({
        dataFormat, testAccuracy: acc, loss: fit.loss, seconds: fit.seconds,
        modelDir: check.dir, reloadIdentical: check.identical, reloadMaxDiff: check.maxAbsDiff,
      });
    } finally {
      reloaded?.dispose();
      disposeModel(model);
      data.dispose();
    }
  }
  console.log(formatTable(variants.map((v) => ({
    'data format': v.dataFormat, 'BN axis': v.dataFormat === 'channelsFirst' ? 1 : -1, 'test accuracy': v.testAccuracy,
    'train s': v.seconds, reloaded: v.reloadIdentical ? 'identical' : `max diff ${v.reloadMaxDiff}`,
  })), { title: '\nFunctional CNN' }));
  return { variants, builtinChannelsFirstError: builtinError };
}

if (require.main === module) {
  const program = cli('npm run example:cnn --', 'Functional CNN on MNIST, channels-last and channels-first (axis 1).', CNN_DEFAULTS);
  runCli(() => main(runOptions(program.parse())));
}
