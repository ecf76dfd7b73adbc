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
