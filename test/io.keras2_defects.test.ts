/**
 * Three things tf.keras 2 files (through the Python tensorflowjs converter) got wrong, each with a
 * model.json shaped as tf.keras 2.21 writes it (legacy serialization: `{class_name, config}`
 * initializers, `axis` as the resolved list get_config writes after build, `dtype` as a string):
 * 1. a stock BatchNormalization on a non-last axis (channels-first) predicted wrongly: it loads as
 *    this package's layer through loadModel, the file:// router, tf.io.fromMemory and fold, and
 *    `convert --to stock` converts it back with a warning instead of "Nothing to convert";
 * 2. a ghost-batch BatchNormalization (`virtual_batch_size`), whose axis tf.keras writes after
 *    inserting the ghost axis (`[2]` for a rank-2 input) and whose weights are [1, 1, C], was refused;
 * 3. continued training: tf.keras's fused BatchNormalization (4-D input) moved moving_variance
 *    toward the unbiased batch variance; this package (and TF.js's built-in) follow Keras 3, the
 *    biased one (documented in docs/keras3.md).
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { convertNormalization, foldBatchNorm } from '../src/convert';
import { loadModel } from '../src/io';
import { run } from '../src/cli/run';
import { init, Json, seededValues, writeLayersModel } from './fixtures/keras_json';
import { cleanUp, tempDir } from './fixtures/helpers';
import { referenceInference } from './reference/reference_batch_norm';

const EPSILON = 0.001;

/** A BatchNormalization config as tf.keras 2.21's get_config writes it. */
function bn(name: string, axis: number[], extra: Json = {}): Json {
  return {
    name, trainable: true, dtype: 'float32', axis, momentum: 0.9, epsilon: EPSILON, center: true, scale: true,
    beta_initializer: init('Zeros'), gamma_initializer: init('Ones'), moving_mean_initializer: init('Zeros'),
    moving_variance_initializer: init('Ones'), beta_regularizer: null, gamma_regularizer: null, beta_constraint: null,
    gamma_constraint: null, ...extra,
  };
}

/** Input -> BatchNormalization, functional, in the converter's model.json form. */
function writeBnModel(dir: string, inputShape: number[], config: Json, paramShape: number[]): Map<string, Float32Array> {
  const node = (from: string) => [[[from, 0, 0, {}]]];
  const modelTopology = {
    keras_version: '2.21.0', backend: 'tensorflow',
    model_config: { class_name: 'Functional', config: { name: 'model', trainable: true, layers: [
      { class_name: 'InputLayer', config: { batch_input_shape: [null, ...inputShape], dtype: 'float32', sparse: false,
        ragged: false, name: 'input_1' }, name: 'input_1', inbound_nodes: [] },
      { class_name: 'BatchNormalization', config, name: config['name'], inbound_nodes: node('input_1') },
    ], input_layers: [['input_1', 0, 0]], output_layers: [[config['name'], 0, 0]] } },
  };
  const size = paramShape.reduce((a, b) => a * b, 1);
  const ranges: Array<[string, number, number]> = [['gamma', 0.5, 1.5], ['beta', -0.5, 0.5], ['moving_mean', -1, 1],
    ['moving_variance', 0.3, 2]];
  return writeLayersModel(dir, { generatedBy: 'keras v2.21.0', convertedBy: 'TensorFlow.js Converter v4.22.0', modelTopology,
    weights: ranges.map(([w, lo, hi], i) => ({ name: `${config['name']}/${w}`, shape: paramShape, data: seededValues(size, 40 + i, lo, hi) })) });
}

/** What the BN layer must output in inference: the formula on `axis`, with the file's weights. */
function expected(x: tf.Tensor, weights: Map<string, Float32Array>, axis: number): tf.Tensor {
  const get = (w: string) => tf.tensor1d([...weights.entries()].find(([k]) => k.endsWith(`/${w}`))![1]);
  return tf.tidy(() => referenceInference(x, get('moving_mean'), get('moving_variance'), get('gamma'), get('beta'), axis, EPSILON));
}

function maxDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}

function fromMemory(dir: string): tf.io.IOHandler {
  const json = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8'));
  const bin = fs.readFileSync(path.join(dir, 'group1-shard1of1.bin'));
  return tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: json.weightsManifest[0].weights,
    weightData: new Uint8Array(bin).buffer });
}

let root: string;
beforeAll(async () => { await tf.setBackend('cpu'); });
beforeEach(() => { root = tempDir('tfjs-bn-keras2-'); });
afterEach(() => cleanUp(root));

describe('1. stock BatchNormalization on a non-last axis (channels first)', () => {
  const load = async (dir: string): Promise<Record<string, tf.LayersModel>> => {
    const loaded = await loadModel(dir);
    return {
      loadModel: loaded,
      'file:// router': await tf.loadLayersModel(`file://${path.join(dir, 'model.json')}`),
      'tf.io.fromMemory': await tf.loadLayersModel(fromMemory(dir)),
      fold: (await foldBatchNorm(loaded)).model,
    };
  };

  test('every way of loading predicts the formula; TF.js\'s built-in would not', async () => {
    const dir = path.join(root, 'm');
    const weights = writeBnModel(dir, [3, 4, 4], bn('bn', [1]), [3]);
    const x = tf.randomNormal([2, 3, 4, 4], 1, 2, 'float32', 3);
    const want = expected(x, weights, 1);
    const models = await load(dir);
    const wrongWays = Object.entries(models).filter(([, model]) => {
      const y = model.predict(x) as tf.Tensor;
      const off = maxDiff(y, want);
      y.dispose();
      return !(off < 1e-5);
    }).map(([how]) => how);
    expect(wrongWays).toEqual([]);
    expect(models.loadModel.getLayer('bn').getClassName()).toBe('TfjsBatchNormalization');
    // The built-in on the same layer: the wrong output this load avoids.
    const builtin = tf.layers.batchNormalization({ axis: 1, epsilon: EPSILON });
    builtin.apply(tf.input({ shape: [3, 4, 4] }));
    builtin.setWeights(models.loadModel.getLayer('bn').getWeights());
    const wrong = builtin.apply(x) as tf.Tensor;
    expect(maxDiff(wrong, want)).toBeGreaterThan(0.1);
    tf.dispose([x, want, wrong]);
    builtin.dispose();
    Object.values(models).forEach((m) => m.dispose());
  });

  test('a last-axis BatchNormalization of the same file format still loads as TF.js\'s built-in', async () => {
    const dir = path.join(root, 'last');
    writeBnModel(dir, [4, 4, 3], bn('bn', [3]), [3]);
    const model = await loadModel(dir);
    expect(model.getLayer('bn').getClassName()).toBe('BatchNormalization');
    model.dispose();
  });

  test('convert --to stock converts it back and warns, instead of "Nothing to convert"', async () => {
    const dir = path.join(root, 'm');
    writeBnModel(dir, [3, 4, 4], bn('bn', [1]), [3]);
    let stdout = '';
    let stderr = '';
    const code = await run(['convert', path.join(dir, 'model.json'), path.join(root, 'out'), '--to', 'stock'],
      { stdout: (t) => { stdout += t; }, stderr: (t) => { stderr += t; } });
    expect(code).toBe(0);
    expect(stdout).not.toMatch(/Nothing to convert/);
    expect(stdout).toMatch(/Converted 1 BatchNormalization layer\(s\) to stock/);
    expect(stderr).toMatch(/bn: it normalizes axis 1 of a rank-4 input, which tfjs's built-in BatchNormalization computes incorrectly/);
  });
});

describe('2. ghost batches (virtual_batch_size) as tf.keras writes them', () => {
  test('axis [2] for a rank-2 input and [1, 1, 8] weights: loads everywhere, predicts the formula, trains', async () => {
    const dir = path.join(root, 'ghost');
    const weights = writeBnModel(dir, [8], bn('bn', [2], { virtual_batch_size: 2 }), [1, 1, 8]);
    const x = tf.randomNormal([4, 8], 0.5, 2, 'float32', 5);
    const want = expected(x, weights, 1);
    for (const model of [await loadModel(dir), await tf.loadLayersModel(`file://${path.join(dir, 'model.json')}`),
      await tf.loadLayersModel(fromMemory(dir))]) {
      const y = model.predict(x) as tf.Tensor;
      expect(maxDiff(y, want)).toBeLessThan(1e-5);
      expect(model.getLayer('bn').getWeights().map((w) => w.shape)).toEqual([[1, 1, 8], [1, 1, 8], [1, 1, 8], [1, 1, 8]]);
      model.compile({ optimizer: 'sgd', loss: 'meanSquaredError' });
      const history = await model.fit(x, tf.zerosLike(x), { batchSize: 4, epochs: 1, verbose: 0 });
      expect(Number.isFinite(history.history.loss[0] as number)).toBe(true);
      tf.dispose(y);
      model.dispose();
    }
    tf.dispose([x, want]);
  });
});

describe('3. continued training of a tf.keras 2 file: the moving variance', () => {
  test('moves toward the biased batch variance (Keras 3), not tf.keras\'s fused unbiased one', async () => {
    const dir = path.join(root, 'fused');
    // A 4-D input with axis [3]: tf.keras ran this BatchNormalization with its fused kernel.
    writeBnModel(dir, [2, 2, 3], bn('bn', [3]), [3]);
    const x = tf.randomNormal([4, 2, 2, 3], 1, 3, 'float32', 9);
    const n = 4 * 2 * 2; // values per channel in the batch
    const loaded = await loadModel(dir);
    for (const model of [loaded, (await convertNormalization(loaded, 'custom', ['batchNormalization'])).model]) {
      const before = model.getLayer('bn').getWeights()[3];
      const v0 = Array.from(before.dataSync());
      model.compile({ optimizer: tf.train.sgd(0), loss: 'meanSquaredError' });
      await model.fit(x, tf.zerosLike(x), { batchSize: 4, epochs: 1, verbose: 0 });
      const after = Array.from(model.getLayer('bn').getWeights()[3].dataSync());
      const biased = Array.from(tf.tidy(() => tf.moments(x, [0, 1, 2]).variance).dataSync());
      for (let c = 0; c < 3; c++) {
        const keras3 = 0.9 * v0[c] + 0.1 * biased[c];
        const tfKeras2 = 0.9 * v0[c] + 0.1 * biased[c] * n / (n - 1);
        expect(after[c]).toBeCloseTo(keras3, 5);
        // The two rules differ by far more than the tolerance, so the check tells them apart.
        expect(Math.abs(tfKeras2 - keras3)).toBeGreaterThan(1e-3);
      }
    }
    tf.dispose(x);
    loaded.dispose();
  });
});
