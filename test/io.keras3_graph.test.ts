/**
 * fromKeras3 on the parts of Keras 3's format the real fixtures do not reach (see
 * fixtures/keras3_synthetic.ts): two inputs and outputs, a shared layer, a propagated mask, a
 * nested Functional called with training=True, a nested Sequential, both weight namings. The
 * translated model must predict exactly what the same model built directly in TF.js predicts.
 * Also: what cannot be translated fails naming the layer and the class.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { batchNormalization } from '../src';
import { loadModel, ModelFileError } from '../src/io';
import { fromKeras3, KerasFormatError } from '../src/io/keras3';
import { KERAS3_WEIGHTS, keras3ModelConfig } from './fixtures/keras3_synthetic';

type Json = Record<string, unknown>;

beforeAll(async () => { await tf.setBackend('cpu'); });

/** Seeded values for every weight (moving variance positive). */
function weightValues(): Map<string, tf.Tensor> {
  return new Map(KERAS3_WEIGHTS.map((w, i) => {
    const positive = w.tfjs.endsWith('moving_variance') || w.tfjs.endsWith('gamma');
    return [w.tfjs, tf.randomUniform(w.shape, positive ? 0.5 : -0.5, positive ? 1.5 : 0.5, 'float32', 100 + i)];
  }));
}

/** Artifacts as the converter writes them, weights named per `naming`; the archive route also carries optimizer state. */
async function artifacts(naming: 'path' | 'archive', values: Map<string, tf.Tensor>, config = keras3ModelConfig()):
  Promise<tf.io.ModelArtifacts> {
  const named: tf.NamedTensorMap = {};
  for (const w of KERAS3_WEIGHTS) named[w[naming]] = values.get(w.tfjs)!;
  const extra: tf.NamedTensorMap = naming === 'archive' ? { 'optimizer/vars/0': tf.scalar(3), 'optimizer/vars/1': tf.zeros([4, 4]) } : {};
  const { data, specs } = await tf.io.encodeWeights({ ...extra, ...named });
  tf.dispose(Object.values(extra));
  return { modelTopology: { keras_version: '3.15.1', backend: 'tensorflow', model_config: config }, weightSpecs: specs, weightData: data };
}

/**
 * The same model built with TF.js's API. Keras honours the training=True saved with the nested
 * model's call (its BatchNormalization uses the batch's statistics in predict too); TF.js's
 * built-in ignores saved call arguments, this package's layer honours them.
 */
function nativeModel(values: Map<string, tf.Tensor>, innerTraining = true, maskZero = true): tf.LayersModel {
  const tokens = tf.input({ shape: [5], dtype: 'int32', name: 'tokens' });
  const features = tf.input({ shape: [4], name: 'features' });
  const emb = tf.layers.embedding({ inputDim: 20, outputDim: 3, maskZero, name: 'embedding' }).apply(tokens);
  const lstm = tf.layers.lstm({ units: 4, recurrentActivation: 'sigmoid', name: 'lstm' }).apply(emb) as tf.SymbolicTensor;
  const shared = tf.layers.dense({ units: 4, activation: 'swish', name: 'shared' });
  const s0 = shared.apply(features) as tf.SymbolicTensor;
  const s1 = shared.apply(lstm) as tf.SymbolicTensor;
  const add = tf.layers.add({ name: 'add' }).apply([s0, s1]) as tf.SymbolicTensor;
  const innerInput = tf.input({ shape: [4], name: 'inner_input' });
  const innerBn = batchNormalization({ name: 'inner_bn' })
    .apply(tf.layers.dense({ units: 4, name: 'inner_dense' }).apply(innerInput), { training: innerTraining }) as tf.SymbolicTensor;
  const inner = tf.model({ inputs: innerInput, outputs: innerBn, name: 'inner' });
  const innerOut = inner.apply(s0) as tf.SymbolicTensor;
  const head = tf.sequential({ name: 'head', layers: [tf.layers.dense({ inputShape: [4], units: 2, name: 'head_dense' }),
    tf.layers.leakyReLU({ alpha: 0.2, name: 'head_leaky' })] });
  const model = tf.model({ inputs: [tokens, features], outputs: [head.apply(innerOut) as tf.SymbolicTensor, add] });
  for (const w of model.weights) w.write(values.get(w.originalName)!);
  return model;
}

/** Inputs with padding (token 0) so the mask matters. */
function inputs(): tf.Tensor[] {
  return [tf.tensor2d([[3, 7, 1, 0, 0], [12, 0, 0, 0, 0], [5, 6, 7, 8, 9]], [3, 5], 'int32'),
    tf.randomNormal([3, 4], 0, 1, 'float32', 7)];
}

function outputsOf(model: tf.LayersModel, x: tf.Tensor[]): number[][] {
  return (model.predict(x) as tf.Tensor[]).map((t) => {
    const values = Array.from(t.dataSync());
    t.dispose();
    return values;
  });
}

test.each(['path', 'archive'] as const)('weights named by %s: predicts as the same model built in TF.js', async (naming) => {
  const values = weightValues();
  const x = inputs();
  const native = nativeModel(values);
  const loaded = await tf.loadLayersModel(tf.io.fromMemory(fromKeras3(await artifacts(naming, values))));
  const [want, got] = [outputsOf(native, x), outputsOf(loaded, x)];
  expect(got).toHaveLength(2);
  for (let i = 0; i < 2; i++) for (let j = 0; j < want[i].length; j++) expect(got[i][j]).toBeCloseTo(want[i][j], 5);
  // The saved training=True matters: the inner BatchNormalization uses the batch's statistics.
  const moving = nativeModel(values, false);
  expect(Math.max(...outputsOf(moving, x)[0].map((v, j) => Math.abs(v - want[0][j])))).toBeGreaterThan(1e-3);
  // The mask matters: without it the padded sequences give other LSTM outputs.
  const unmasked = nativeModel(values, true, false);
  expect(Math.max(...outputsOf(unmasked, x)[1].map((v, j) => Math.abs(v - want[1][j])))).toBeGreaterThan(1e-3);
  tf.dispose([...x, ...values.values()]);
  [native, loaded, moving, unmasked].forEach((m) => m.dispose());
});

test('the translated topology is Keras 2\'s: nodes as lists, plain dtypes, no Keras 3 keys', async () => {
  const values = weightValues();
  const translated = fromKeras3(await artifacts('archive', values));
  const text = JSON.stringify(translated.modelTopology);
  for (const key of ['__keras_tensor__', 'DTypePolicy', 'batch_shape', 'registered_name', 'build_config', 'module',
    'negative_slope', 'silu', 'LecunNormal', '"L2"', 'optional']) {
    expect(text).not.toContain(key);
  }
  expect(translated.weightSpecs!.map((s) => s.name).sort()).toEqual(KERAS3_WEIGHTS.map((w) => w.tfjs).sort());
  tf.dispose([...values.values()]);
});

/** The config with one layer entry of the outer model changed. */
function withLayer(name: string, change: (entry: Json) => void): Json {
  const config = keras3ModelConfig();
  const layers = (config['config'] as Json)['layers'] as Json[];
  change(layers.find((l) => l['name'] === name)!);
  return config;
}

test.each([
  ['an unknown class', 'add', (e: Json) => { e['class_name'] = 'Subtract'; }, /layer 'add' \(Subtract\): class 'Subtract' is not a layer TF\.js or tfjs-batchnorm has/],
  ['an activation TF.js lacks', 'shared', (e: Json) => { (e['config'] as Json)['activation'] = 'hard_sigmoid'; },
    /layer 'shared' \(Dense\): activation "hard_sigmoid" has no TF\.js equivalent/],
  ['a quantized layer', 'shared', (e: Json) => { (e['config'] as Json)['quantization_config'] = { mode: 'int8' }; },
    /layer 'shared' \(Dense\): argument quantization_config = \{"mode":"int8"\} is not supported/],
  ['a tensor passed by keyword from another layer', 'lstm', (e: Json) => {
    (((e['inbound_nodes'] as Json[])[0]['kwargs']) as Json)['mask'] = { class_name: '__keras_tensor__', config: { keras_history: ['features', 0, 0] } };
  }, /layer 'lstm' \(LSTM\): its call passes the tensor \["features",0,0\] as keyword argument 'mask'/],
])('%s: KerasFormatError naming the layer and class; loadModel: ModelFileError naming the file, nothing leaked', async (_what, name, change, message) => {
  const values = weightValues();
  const bad = await artifacts('path', values, withLayer(name, change));
  expect(() => fromKeras3(bad)).toThrow(KerasFormatError);
  expect(() => fromKeras3(bad)).toThrow(message);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'keras3-bad-'));
  try {
    fs.writeFileSync(path.join(dir, 'group1-shard1of1.bin'), new Uint8Array(bad.weightData as ArrayBuffer));
    fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify({ format: 'layers-model', modelTopology: bad.modelTopology,
      weightsManifest: [{ paths: ['group1-shard1of1.bin'], weights: bad.weightSpecs }] }));
    const before = tf.memory().numTensors;
    const load = loadModel(path.join(dir, 'model.json'));
    await expect(load).rejects.toThrow(ModelFileError);
    await expect(loadModel(path.join(dir, 'model.json'))).rejects.toThrow(new RegExp(`${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}.*model\\.json: is a Keras 3 model TF\\.js cannot load: ${message.source}`));
    expect(tf.memory().numTensors).toBe(before);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
    tf.dispose([...values.values()]);
  }
});

/** Keras 3's config of input [5, 3] -> Bidirectional(LSTM(2), concat) -> TimeDistributed(Dense(3)). */
function wrappersConfig(): Json {
  const pol = { module: 'keras', class_name: 'DTypePolicy', config: { name: 'float32' }, registered_name: null };
  const ini = (cls: string, config: Json = {}) => ({ module: 'keras.initializers', class_name: cls, config, registered_name: null });
  const lstm = (name: string, goBackwards: boolean) => ({
    module: 'keras.layers', class_name: 'LSTM', registered_name: null, build_config: { input_shape: [null, 5, 3] },
    config: { name, trainable: true, dtype: pol, return_sequences: true, return_state: false, go_backwards: goBackwards,
      stateful: false, unroll: false, zero_output_for_mask: true, units: 2, activation: 'tanh', recurrent_activation: 'sigmoid',
      use_bias: true, kernel_initializer: ini('GlorotUniform', { seed: null }), recurrent_initializer: ini('Orthogonal', { seed: null, gain: 1 }),
      bias_initializer: ini('Zeros'), unit_forget_bias: true, kernel_regularizer: null, recurrent_regularizer: null,
      bias_regularizer: null, activity_regularizer: null, kernel_constraint: null, recurrent_constraint: null,
      bias_constraint: null, dropout: 0, recurrent_dropout: 0, seed: null },
  });
  const kt = (layer: string, shape: number[]) => ({ class_name: '__keras_tensor__', config: { shape: [null, ...shape], dtype: 'float32', keras_history: [layer, 0, 0] } });
  return {
    module: 'keras.src.models.functional', class_name: 'Functional', registered_name: 'Functional',
    config: { name: 'wrappers', trainable: true, layers: [
      { module: 'keras.layers', class_name: 'InputLayer', registered_name: null, name: 'seq', inbound_nodes: [],
        config: { batch_shape: [null, 5, 3], dtype: 'float32', sparse: false, ragged: false, name: 'seq', optional: false } },
      { module: 'keras.layers', class_name: 'Bidirectional', registered_name: null, name: 'bidirectional',
        config: { name: 'bidirectional', trainable: true, dtype: pol, merge_mode: 'concat', layer: lstm('forward_lstm', false),
          backward_layer: lstm('backward_lstm', true) },
        inbound_nodes: [{ args: [kt('seq', [5, 3])], kwargs: { mask: null } }] },
      { module: 'keras.layers', class_name: 'TimeDistributed', registered_name: null, name: 'time_distributed',
        config: { name: 'time_distributed', trainable: true, dtype: pol, layer: { module: 'keras.layers', class_name: 'Dense',
          registered_name: null, config: { name: 'dense', trainable: true, dtype: pol, units: 3, activation: 'linear', use_bias: true,
            kernel_initializer: ini('GlorotUniform', { seed: null }), bias_initializer: ini('Zeros'), kernel_regularizer: null,
            bias_regularizer: null, kernel_constraint: null, bias_constraint: null, quantization_config: null } } },
        inbound_nodes: [{ args: [kt('bidirectional', [5, 4])], kwargs: { mask: null } }] },
    ], input_layers: [['seq', 0, 0]], output_layers: [['time_distributed', 0, 0]] },
  };
}

test('Bidirectional and TimeDistributed: both weight namings load and predict as the model built in TF.js', async () => {
  const native = tf.sequential({ layers: [
    tf.layers.bidirectional({ layer: tf.layers.lstm({ units: 2, returnSequences: true, recurrentActivation: 'sigmoid', name: 'lstm' }) as tf.RNN,
      mergeMode: 'concat', inputShape: [5, 3], name: 'bidirectional' }),
    tf.layers.timeDistributed({ layer: tf.layers.dense({ units: 3, name: 'dense' }), name: 'time_distributed' }),
  ] });
  native.weights.forEach((w, i) => w.write(tf.randomUniform(w.shape as number[], -0.5, 0.5, 'float32', 300 + i)));
  // Keras 3's names for each weight TF.js names: variable path and archive path.
  const keras: Record<string, [string, string]> = {
    'bidirectional/forward_lstm/kernel': ['bidirectional/forward_lstm/lstm_cell/kernel', 'layers/bidirectional/forward_layer/cell/vars/0'],
    'bidirectional/forward_lstm/recurrent_kernel': ['bidirectional/forward_lstm/lstm_cell/recurrent_kernel', 'layers/bidirectional/forward_layer/cell/vars/1'],
    'bidirectional/forward_lstm/bias': ['bidirectional/forward_lstm/lstm_cell/bias', 'layers/bidirectional/forward_layer/cell/vars/2'],
    'bidirectional/backward_lstm/kernel': ['bidirectional/backward_lstm/lstm_cell/kernel', 'layers/bidirectional/backward_layer/cell/vars/0'],
    'bidirectional/backward_lstm/recurrent_kernel': ['bidirectional/backward_lstm/lstm_cell/recurrent_kernel', 'layers/bidirectional/backward_layer/cell/vars/1'],
    'bidirectional/backward_lstm/bias': ['bidirectional/backward_lstm/lstm_cell/bias', 'layers/bidirectional/backward_layer/cell/vars/2'],
    'time_distributed/kernel': ['time_distributed/dense/kernel', 'layers/time_distributed/layer/vars/0'],
    'time_distributed/bias': ['time_distributed/dense/bias', 'layers/time_distributed/layer/vars/1'],
  };
  expect(native.weights.map((w) => w.originalName).sort()).toEqual(Object.keys(keras).sort());
  const x = tf.randomNormal([2, 5, 3], 0, 1, 'float32', 8);
  const want = native.predict(x) as tf.Tensor;
  for (const naming of [0, 1]) {
    const named: tf.NamedTensorMap = {};
    for (const w of native.weights) named[keras[w.originalName][naming]] = w.read();
    const { data, specs } = await tf.io.encodeWeights(named);
    const loaded = await tf.loadLayersModel(tf.io.fromMemory(fromKeras3({ modelTopology: { keras_version: '3.15.1',
      model_config: wrappersConfig() }, weightSpecs: specs, weightData: data })));
    const got = loaded.predict(x) as tf.Tensor;
    expect(tf.max(tf.abs(tf.sub(got, want))).dataSync()[0]).toBeLessThan(1e-6);
    tf.dispose(got);
    loaded.dispose();
  }
  tf.dispose([x, want]);
  native.dispose();
});
