/**
 * MLP (Sequential) on MNIST with the usual placement (Ioffe and Szegedy, 2015):
 * Dense (no bias: BN's beta replaces it) -> BatchNormalization -> ReLU.
 */
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { batchNormalization } from '../src';
import { cli, runCli, runOptions, RunOptions } from './common/cli';
import { loadMnist } from './common/data';
import { reloadRows, saveAndReload } from './common/persist';
import { formatTable } from './common/table';
import { disposeModel, fitWithProgress, testAccuracy } from './common/train';

export const MLP_DEFAULTS: RunOptions = {
  epochs: 5, samples: 3000, testSamples: 1000, batchSize: 64, out: 'models', seed: 1, bars: true,
};

export interface MlpResult {
  testAccuracy: number;
  loss: number[];
  seconds: number;
  /** Weight count of each Dense layer in front of a BN (1: kernel only, no bias). */
  denseWeightsBeforeBn: number[];
  modelDir: string;
  reloadIdentical: boolean;
  reloadMaxDiff: number;
}

/**
 * Dense(no bias) -> BN -> ReLU, twice, then a softmax layer.
 *
 * Usage: `const model = mlp([128, 64], 1);`
 */
export function mlp(hidden: number[], seed: number, inputSize = 784, classes = 10): tf.Sequential {
  const model = tf.sequential({ name: 'mnist_mlp' });
  hidden.forEach((units, i) => {
    model.add(tf.layers.dense({
      units, useBias: false, kernelInitializer: tf.initializers.heNormal({ seed: seed + i }),
      ...(i === 0 ? { inputShape: [inputSize] } : {}),
    }));
    // momentum 0.9: short runs; see examples/main.ts.
    model.add(batchNormalization({ momentum: 0.9 }));
    model.add(tf.layers.activation({ activation: 'relu' }));
  });
  model.add(tf.layers.dense({ units: classes, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 99 }) }));
  return model;
}

/**
 * Trains the MLP, saves it to `<out>/mlp`, reloads it and checks the predictions.
 *
 * Usage: `const r = await main({ epochs: 1, samples: 200, out: '/tmp/x' });`
 */
export async function main(options: Partial<RunOptions> = {}): Promise<MlpResult> {
  const opts = { ...MLP_DEFAULTS, ...options };
  await tf.setBackend('cpu');
  const data = loadMnist({ trainSamples: opts.samples, testSamples: opts.testSamples, seed: opts.seed });
  const model = mlp([128, 64], opts.seed);
  model.compile({ optimizer: tf.train.adam(0.003), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  let reloaded: tf.LayersModel | null = null;
  try {
    model.summary(undefined, undefined, (line: string) => console.log(line));
    const fit = await fitWithProgress(model, data.xTrain, data.yTrain, opts, 'mlp');
    const acc = testAccuracy(model, data.xTest, data.yTest);
    const denseWeightsBeforeBn = model.layers
      .filter((l, i) => l.getClassName() === 'Dense' && model.layers[i + 1]?.getClassName() === 'TfjsBatchNormalization')
      .map((l) => l.getWeights().length);
    const check = await saveAndReload(model, path.join(opts.out, 'mlp'), data.xTest);
    reloaded = check.reloaded;
    console.log(formatTable([
      { item: 'test accuracy', value: acc },
      { item: 'training time (s)', value: fit.seconds.toFixed(1) },
      ...reloadRows(check),
    ], { title: '\nMLP (Dense -> BN -> ReLU)' }));
    return {
      testAccuracy: acc, loss: fit.loss, seconds: fit.seconds, denseWeightsBeforeBn,
      modelDir: check.dir, reloadIdentical: check.identical, reloadMaxDiff: check.maxAbsDiff,
    };
  } finally {
    reloaded?.dispose();
    disposeModel(model);
    data.dispose();
  }
}

if (require.main === module) {
  const program = cli('npm run example:mlp --', 'MLP with Dense -> BatchNormalization -> ReLU on MNIST.', MLP_DEFAULTS);
  runCli(() => main(runOptions(program.parse())));
}
