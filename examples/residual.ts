/**
 * A residual block (Add) in a functional graph on MNIST:
 * stem conv -> BN -> ReLU, then [conv -> BN -> ReLU -> conv -> BN] + shortcut -> Add -> ReLU.
 * The BN at the end of the branch starts with gamma = 0 ("zero-init residual"), so each block
 * begins as the identity: a common choice for residual networks.
 */
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { batchNormalization } from '../src';
import { cli, runCli, runOptions, RunOptions } from './common/cli';
import { loadMnist } from './common/data';
import { reloadRows, saveAndReload } from './common/persist';
import { formatTable } from './common/table';
import { disposeModel, fitWithProgress, testAccuracy } from './common/train';

export const RESIDUAL_DEFAULTS: RunOptions = {
  epochs: 2, samples: 1500, testSamples: 500, batchSize: 64, out: 'models', seed: 5, bars: true,
};

export interface ResidualResult {
  testAccuracy: number;
  loss: number[];
  seconds: number;
  /** Layer class names in the graph (shows the Add). */
  layerClasses: string[];
  modelDir: string;
  reloadIdentical: boolean;
  reloadMaxDiff: number;
}

function conv(filters: number, kernelSize: number, strides: number, seed: number, name: string): tf.layers.Layer {
  return tf.layers.conv2d({
    filters, kernelSize, strides, padding: 'same', useBias: false, name,
    kernelInitializer: tf.initializers.heNormal({ seed }),
  });
}

/**
 * One residual block: two convs with BN, added to the input, then ReLU.
 *
 * Usage: `x = residualBlock(x, 16, 7, 'block1');`
 */
export function residualBlock(x: tf.SymbolicTensor, filters: number, seed: number, name: string): tf.SymbolicTensor {
  let y = conv(filters, 3, 1, seed, `${name}_conv1`).apply(x) as tf.SymbolicTensor;
  y = batchNormalization({ momentum: 0.9, name: `${name}_bn1` }).apply(y) as tf.SymbolicTensor;
  y = tf.layers.activation({ activation: 'relu', name: `${name}_relu1` }).apply(y) as tf.SymbolicTensor;
  y = conv(filters, 3, 1, seed + 1, `${name}_conv2`).apply(y) as tf.SymbolicTensor;
  y = batchNormalization({ momentum: 0.9, gammaInitializer: 'zeros', name: `${name}_bn2` }).apply(y) as tf.SymbolicTensor;
  const sum = tf.layers.add({ name: `${name}_add` }).apply([x, y]) as tf.SymbolicTensor;
  return tf.layers.activation({ activation: 'relu', name: `${name}_out` }).apply(sum) as tf.SymbolicTensor;
}

/**
 * Stem (strided conv) -> residual block -> global average pooling -> softmax.
 *
 * Usage: `const model = residualNet(5);`
 */
export function residualNet(seed: number): tf.LayersModel {
  const input = tf.input({ shape: [28, 28, 1], name: 'digits' });
  let x = conv(12, 5, 4, seed, 'stem_conv').apply(input) as tf.SymbolicTensor;
  x = batchNormalization({ momentum: 0.9, name: 'stem_bn' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.activation({ activation: 'relu', name: 'stem_relu' }).apply(x) as tf.SymbolicTensor;
  x = residualBlock(x, 12, seed + 10, 'block1');
  x = tf.layers.flatten({ name: 'flatten' }).apply(x) as tf.SymbolicTensor;
  const output = tf.layers.dense({
    units: 10, activation: 'softmax', name: 'classes', kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 20 }),
  }).apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: output, name: 'residual_net' });
}

/**
 * Trains the residual network, saves it to `<out>/residual`, reloads and checks it.
 *
 * Usage: `const r = await main({ epochs: 1, samples: 200, out: '/tmp/x' });`
 */
export async function main(options: Partial<RunOptions> = {}): Promise<ResidualResult> {
  const opts = { ...RESIDUAL_DEFAULTS, ...options };
  await tf.setBackend('cpu');
  const data = loadMnist({ trainSamples: opts.samples, testSamples: opts.testSamples, layout: 'nhwc', seed: opts.seed });
  const model = residualNet(opts.seed);
  model.compile({ optimizer: tf.train.adam(0.005), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  let reloaded: tf.LayersModel | null = null;
  try {
    const fit = await fitWithProgress(model, data.xTrain, data.yTrain, opts, 'residual');
    const acc = testAccuracy(model, data.xTest, data.yTest);
    const check = await saveAndReload(model, path.join(opts.out, 'residual'), data.xTest);
    reloaded = check.reloaded;
    console.log(formatTable([
      { item: 'test accuracy', value: acc },
      { item: 'training time (s)', value: fit.seconds.toFixed(1) },
      ...reloadRows(check),
    ], { title: '\nResidual block (Add) with BatchNormalization' }));
    return {
      testAccuracy: acc, loss: fit.loss, seconds: fit.seconds, layerClasses: model.layers.map((l) => l.getClassName()),
      modelDir: check.dir, reloadIdentical: check.identical, reloadMaxDiff: check.maxAbsDiff,
    };
  } finally {
    reloaded?.dispose();
    disposeModel(model);
    data.dispose();
  }
}

if (require.main === module) {
  const program = cli('npm run example:residual --', 'Residual block (Add) with BatchNormalization on MNIST.', RESIDUAL_DEFAULTS);
  runCli(() => main(runOptions(program.parse())));
}
