import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { batchNormalization } from '../src';
import { convertNormalization } from '../src/convert';
import { loadModel, saveModel } from '../src/io';
import { writeKerasModel } from './fixtures/keras_format';
import { cleanUp, leafClassNames, maxAbsDiff, randomizeBatchNorms, tempDir } from './fixtures/helpers';

const BN = /BatchNormalization/;

/** Functional model around a nested Sequential and a nested functional model, BNs at every level. */
function nestedModel(): tf.LayersModel {
  const innerIn = tf.input({ shape: [6, 6, 3] });
  const c = tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', useBias: false }).apply(innerIn);
  const b = tf.layers.batchNormalization({ scale: false }).apply(c);
  const inner = tf.model({ name: 'inner_functional', inputs: innerIn, outputs: tf.layers.reLU().apply(b) as tf.SymbolicTensor });
  const head = tf.sequential({ name: 'inner_sequential', layers: [
    tf.layers.dense({ units: 5, inputShape: [4] }), tf.layers.batchNormalization({ center: false }), tf.layers.dense({ units: 2 }),
  ] });
  const x = tf.input({ shape: [6, 6, 3] });
  const features = tf.layers.globalAveragePooling2d({}).apply(inner.apply(x));
  const y = head.apply(tf.layers.batchNormalization({ momentum: 0.9 }).apply(features)) as tf.SymbolicTensor;
  const model = tf.model({ inputs: x, outputs: y });
  randomizeBatchNorms(model);
  return model;
}

function classCounts(model: tf.LayersModel): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const c of leafClassNames(model).filter((n) => BN.test(n))) counts[c] = (counts[c] ?? 0) + 1;
  return counts;
}

let dir: string;
beforeEach(() => { dir = tempDir(); });
afterEach(() => { cleanUp(dir); });

it('swaps every BN, nested ones included, keeping weights and predictions, without leaking tensors', async () => {
  const model = nestedModel();
  expect(classCounts(model)).toEqual({ BatchNormalization: 3 });
  const x = tf.randomUniform([2, 6, 6, 3], -1, 1, 'float32', 2);
  const y0 = model.predict(x) as tf.Tensor;

  const before = tf.memory().numTensors;
  const { model: custom, converted } = await convertNormalization(model, 'custom', ['batchNormalization']);
  expect(tf.memory().numTensors - before).toBe(custom.weights.length);
  expect(converted.map((p) => p.slice(1, -1).join('/')).sort()).toEqual(['', 'inner_functional', 'inner_sequential']);
  expect(classCounts(custom)).toEqual({ TfjsBatchNormalization: 3 });
  expect(classCounts(model)).toEqual({ BatchNormalization: 3 }); // input untouched

  const stock = (await convertNormalization(custom, 'stock', ['batchNormalization'])).model;
  expect(classCounts(stock)).toEqual({ BatchNormalization: 3 });
  for (const m of [custom, stock]) {
    expect(m.weights.map((w) => w.originalName)).toEqual(model.weights.map((w) => w.originalName));
    expect(maxAbsDiff(m.getWeights(), model.getWeights())).toBe(0);
    const y = m.predict(x) as tf.Tensor;
    expect(maxAbsDiff(y0, y)).toBeLessThan(1e-6);
    y.dispose();
  }
  // The configs survive too (scale/center flags, momentum).
  const config = (m: tf.LayersModel) => JSON.stringify(m.toJSON(null, false)).replace(/TfjsBatchNormalization/g, 'BatchNormalization');
  expect(config(custom)).toBe(config(model));
  tf.dispose([x, y0]);
  [model, custom, stock].forEach((m) => m.dispose());
});

it('a stock output loads and predicts in plain @tensorflow/tfjs, without this package', async () => {
  const model = tf.sequential({ layers: [tf.layers.dense({ units: 4, inputShape: [3] }), batchNormalization(), tf.layers.dense({ units: 2 })] });
  randomizeBatchNorms(model);
  const stock = (await convertNormalization(model, 'stock', ['batchNormalization'])).model;
  await saveModel(stock, dir);
  expect(fs.readFileSync(path.join(dir, 'model.json'), 'utf8')).not.toContain('"class_name":"TfjsBatchNormalization"');
  expect(fs.readFileSync(path.join(dir, 'model.json'), 'utf8')).toContain('"class_name":"BatchNormalization"');
  const x = [[0.1, -0.5, 0.9], [1, 2, -3]];
  // A separate Node process that only has tfjs: no custom class registered, no file:// router.
  const script = `
    const tf = require('@tensorflow/tfjs'); const fs = require('fs');
    const json = JSON.parse(fs.readFileSync(process.argv[1] + '/model.json', 'utf8'));
    const bin = fs.readFileSync(process.argv[1] + '/weights.bin');
    tf.loadLayersModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: json.weightsManifest[0].weights,
      weightData: bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength) }))
      .then((m) => process.stdout.write(JSON.stringify(m.predict(tf.tensor(${JSON.stringify(x)})).arraySync())));`;
  const out = execFileSync(process.execPath, ['-e', script, dir], { cwd: path.join(__dirname, '..'), encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'] });
  const expected = model.predict(tf.tensor(x)) as tf.Tensor;
  expect(maxAbsDiff(tf.tensor(JSON.parse(out)), expected)).toBeLessThan(1e-6);
  [model, stock].forEach((m) => m.dispose());
});

it('warns when a stock BN would normalize a non-last axis (tfjs gets those wrong)', async () => {
  const model = tf.sequential({ layers: [
    tf.layers.conv2d({ filters: 3, kernelSize: 1, dataFormat: 'channelsFirst', inputShape: [2, 4, 4] }), batchNormalization({ axis: 1 }),
  ] });
  const { model: stock, warnings } = await convertNormalization(model, 'stock', ['batchNormalization']);
  expect(warnings).toEqual([expect.stringMatching(/normalizes axis 1 of a rank-4 input, which tfjs's built-in .* incorrectly/)]);
  // Converted as asked (with the warning), not routed back to this package's layer.
  expect(stock.layers[1].getClassName()).toBe('BatchNormalization');
  const { warnings: none } = await convertNormalization((await convertNormalization(stock, 'custom', ['batchNormalization'])).model, 'custom', ['batchNormalization']);
  expect(none).toEqual([]);
  [model, stock].forEach((m) => m.dispose());
});

it('converts a Keras-converter model (axis lists, trainable false, ReLU max_value, quantized weights)', async () => {
  writeKerasModel(path.join(dir, 'keras'));
  const model = await loadModel(path.join(dir, 'keras', 'model.json'));
  const custom = (await convertNormalization(model, 'custom', ['batchNormalization'])).model;
  expect(classCounts(custom)).toEqual({ TfjsBatchNormalization: 3 });
  const bn1 = custom.getLayer('bn1');
  expect(bn1.trainable).toBe(false);
  expect(bn1.getConfig()['axis']).toBe(3);
  const relu = custom.getLayer('relu1').getConfig();
  expect(relu['maxValue']).toBe(6);
  await saveModel(custom, path.join(dir, 'custom'));
  const back = (await convertNormalization(await loadModel(path.join(dir, 'custom')), 'stock', ['batchNormalization'])).model;
  expect(classCounts(back)).toEqual({ BatchNormalization: 3 });
  // Inputs large enough that ReLU6 clips, so max_value matters.
  const x = tf.randomUniform([2, 8, 8, 3], -4, 4, 'float32', 6);
  const y0 = model.predict(x) as tf.Tensor;
  for (const m of [custom, back]) {
    const y = m.predict(x) as tf.Tensor;
    expect(maxAbsDiff(y0, y)).toBeLessThan(1e-5);
    y.dispose();
  }
  tf.dispose([x, y0]);
  [model, custom, back].forEach((m) => m.dispose());
});
