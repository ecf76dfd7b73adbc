/**
 * Fine-tuning: train and save a base MLP on digits 0-4, load it back from disk, freeze its
 * BatchNormalization layers (`trainable = false`: inference mode, moving statistics fixed), and
 * train a new softmax head for digits 5-9 on top of the base's last hidden layer.
 */
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { BatchNormalization } from '../src';
import { cli, runCli, runOptions, RunOptions } from './common/cli';
import { loadMnist } from './common/data';
import { fileUrl, reloadRows, saveAndReload } from './common/persist';
import { formatTable } from './common/table';
import { disposeModel, fitWithProgress, testAccuracy } from './common/train';
import { mlp } from './mlp';

export const FINETUNE_DEFAULTS: RunOptions = {
  epochs: 3, samples: 1500, testSamples: 500, batchSize: 64, out: 'models', seed: 13, bars: true,
};

const BASE_DIGITS = [0, 1, 2, 3, 4];
const NEW_DIGITS = [5, 6, 7, 8, 9];

export interface FinetuneResult {
  /** Base model on digits 0-4 (before saving). */
  baseTestAccuracy: number;
  /** New head on digits 5-9 after fine-tuning. */
  newTestAccuracy: number;
  newLoss: number[];
  /** Names of the frozen BN layers. */
  frozen: string[];
  /** max |change| of the frozen BN layers' weights (gamma, beta, moving stats) during fine-tuning. */
  frozenBnMaxChange: number;
  /** max |change| of the base Dense kernels, which stay trainable. */
  denseMaxChange: number;
  baseDir: string;
  modelDir: string;
  reloadIdentical: boolean;
  reloadMaxDiff: number;
}

const snapshot = (layers: tf.layers.Layer[]) => layers.map((l) => l.getWeights().map((w) => w.clone()));
function maxChange(before: tf.Tensor[][], layers: tf.layers.Layer[]): number {
  return tf.tidy(() => Math.max(0, ...layers.flatMap((l, i) => l.getWeights()
    .map((w, j) => tf.max(tf.abs(tf.sub(w, before[i][j]))).dataSync()[0]))));
}

/**
 * Base training and save, reload, freeze BN, new head, fine-tune, save and reload check.
 *
 * Usage: `const r = await main({ epochs: 1, samples: 200, out: '/tmp/x' });`
 */
export async function main(options: Partial<RunOptions> = {}): Promise<FinetuneResult> {
  const opts = { ...FINETUNE_DEFAULTS, ...options };
  await tf.setBackend('cpu');
  const baseData = loadMnist({ trainSamples: opts.samples, testSamples: opts.testSamples, classes: BASE_DIGITS, seed: opts.seed });
  const newData = loadMnist({ trainSamples: opts.samples, testSamples: opts.testSamples, classes: NEW_DIGITS, seed: opts.seed + 1 });
  const owned: tf.LayersModel[] = [];
  const before: tf.Tensor[][][] = [];
  let oldHead: tf.layers.Layer | null = null;
  try {
    // 1. Base model on digits 0-4, saved like any trained model.
    const base = mlp([128, 64], opts.seed, 784, BASE_DIGITS.length);
    owned.push(base);
    base.compile({ optimizer: tf.train.adam(0.003), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    await fitWithProgress(base, baseData.xTrain, baseData.yTrain, opts, 'base 0-4');
    const baseTestAccuracy = testAccuracy(base, baseData.xTest, baseData.yTest);
    const baseDir = path.join(opts.out, 'finetune-base');
    await base.save(fileUrl(baseDir));

    // 2. Load it from disk, freeze every BN layer, put a new head on the last hidden activation.
    // Not in `owned`: the fine-tuned model below takes over its layers and disposes them.
    const loaded = await tf.loadLayersModel(`${fileUrl(baseDir)}/model.json`);
    const bnLayers = loaded.layers.filter((l) => l instanceof BatchNormalization);
    bnLayers.forEach((l) => { l.trainable = false; });
    const denseLayers = loaded.layers.slice(0, -1).filter((l) => l.getClassName() === 'Dense');
    const features = loaded.layers[loaded.layers.length - 2].output as tf.SymbolicTensor;
    const head = tf.layers.dense({
      units: NEW_DIGITS.length, activation: 'softmax', name: 'new_head',
      kernelInitializer: tf.initializers.glorotUniform({ seed: opts.seed + 50 }),
    });
    oldHead = loaded.layers[loaded.layers.length - 1];
    const tuned = tf.model({ inputs: loaded.inputs, outputs: head.apply(features) as tf.SymbolicTensor, name: 'finetuned' });
    owned.push(tuned);
    tuned.compile({ optimizer: tf.train.adam(0.003), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    before.push(snapshot(bnLayers), snapshot(denseLayers));

    // 3. Fine-tune on digits 5-9.
    const fit = await fitWithProgress(tuned, newData.xTrain, newData.yTrain, opts, 'head 5-9');
    const newTestAccuracy = testAccuracy(tuned, newData.xTest, newData.yTest);
    const frozenBnMaxChange = maxChange(before[0], bnLayers);
    const denseMaxChange = maxChange(before[1], denseLayers);

    const check = await saveAndReload(tuned, path.join(opts.out, 'finetune'), newData.xTest);
    owned.push(check.reloaded);
    console.log(formatTable([
      { item: 'base accuracy, digits 0-4', value: baseTestAccuracy },
      { item: 'fine-tuned accuracy, digits 5-9', value: newTestAccuracy },
      { item: `frozen BN layers (${bnLayers.length}): max weight change`, value: frozenBnMaxChange },
      { item: 'trainable Dense kernels: max change', value: denseMaxChange },
      ...reloadRows(check),
    ], { title: '\nFine-tuning with frozen BatchNormalization' }));
    return {
      baseTestAccuracy, newTestAccuracy, newLoss: fit.loss, frozen: bnLayers.map((l) => l.name),
      frozenBnMaxChange, denseMaxChange, baseDir: path.resolve(baseDir), modelDir: check.dir,
      reloadIdentical: check.identical, reloadMaxDiff: check.maxAbsDiff,
    };
  } finally {
    tf.dispose(before.flat(2));
    for (const m of owned) disposeModel(m);
    // The only layer of the loaded model that the fine-tuned model does not hold.
    oldHead?.dispose();
    baseData.dispose();
    newData.dispose();
  }
}

if (require.main === module) {
  const program = cli('npm run example:finetune --', 'Load a saved model, freeze its BN layers, train a new head.', FINETUNE_DEFAULTS);
  runCli(() => main(runOptions(program.parse())));
}
