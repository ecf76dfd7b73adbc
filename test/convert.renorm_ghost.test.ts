/**
 * Keras-converter models whose `BatchNormalization` uses batch renormalization (`renorm: true`)
 * or ghost batches (`virtual_batch_size`) load as this package's layer with every weight, predict
 * by the inference formula, keep training with their settings, convert both ways and fold; plain
 * `BatchNormalization` configs still load as tfjs's built-in.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { BatchNormalization } from '../src';
import { convertNormalization, foldBatchNorm } from '../src/convert';
import { loadModel, saveModel } from '../src/io';
import { run } from '../src/cli/run';
import { EPSILON, KerasVariant, writeKerasVariant } from './fixtures/keras_renorm_ghost';
import { cleanUp, leafClassNames, maxAbsDiff, tempDir } from './fixtures/helpers';
import { useBackend } from './helpers/tensors';

/** The fixture's model with plain tf ops and inference-mode BN (moving statistics only). */
function reference(x: tf.Tensor4D, w: Map<string, Float32Array>): tf.Tensor {
  return tf.tidy(() => {
    const t = (name: string, shape: number[]) => tf.tensor(w.get(name)!, shape);
    const conv = tf.conv2d(x, t('conv/kernel', [3, 3, 3, 4]) as tf.Tensor4D, 1, 'same');
    const xhat = tf.div(tf.sub(conv, t('bn/moving_mean', [4])), tf.sqrt(tf.add(t('bn/moving_variance', [4]), EPSILON)));
    const bn = tf.add(tf.mul(xhat, t('bn/gamma', [4])), t('bn/beta', [4]));
    return tf.add(tf.matMul(tf.mean(tf.relu(bn), [1, 2]), t('dense/kernel', [4, 2])), t('dense/bias', [2]));
  });
}

let dir: string;
let x: tf.Tensor4D;
beforeAll(() => useBackend('cpu'));
beforeEach(() => {
  dir = tempDir('tfjs-bn-renorm-');
  // Batch 3: not a multiple of the ghost batch size, which inference does not need.
  x = tf.randomUniform([3, 4, 4, 3], -2, 2, 'float32', 12) as tf.Tensor4D;
});
afterEach(() => {
  cleanUp(dir);
  x.dispose();
});

describe.each(['renorm', 'ghost'] as KerasVariant[])('Keras BatchNormalization with %s', (variant) => {
  it('loads as this package\'s layer with its settings and every weight, and predicts by the formula', async () => {
    const weights = writeKerasVariant(dir, variant);
    const model = await loadModel(path.join(dir, 'model.json'));
    const bn = model.getLayer('bn') as BatchNormalization;
    expect(bn).toBeInstanceOf(BatchNormalization);
    expect(bn.getConfig()).toMatchObject(variant === 'renorm'
      ? { renorm: true, renormClipping: { rmax: 3, rmin: 0.3333, dmax: 5 }, renormMomentum: 0.9 }
      : { virtualBatchSize: 2 });
    const names = bn.weights.map((v) => `bn/${v.originalName.split('/').pop()}`);
    expect(names).toEqual([...weights.keys()].filter((n) => n.startsWith('bn/')));
    const values = bn.getWeights();
    names.forEach((n, i) => expect(Array.from(values[i].dataSync())).toEqual(Array.from(weights.get(n)!)));
    expect(maxAbsDiff(model.predict(x) as tf.Tensor, reference(x, weights))).toBeLessThan(1e-5);
    model.dispose();
  });

  it('trains with its settings after loading (ghost batches refuse a batch they do not divide)', async () => {
    writeKerasVariant(dir, variant);
    const model = await loadModel(path.join(dir, 'model.json'));
    model.compile({ optimizer: tf.train.sgd(0.01), loss: 'meanSquaredError' });
    const xs = tf.randomUniform([4, 4, 4, 3], -2, 2, 'float32', 13);
    const ys = tf.zeros([4, 2]);
    const before = (model.getLayer('bn').getWeights()[2].dataSync() as Float32Array).slice();
    await model.fit(xs, ys, { epochs: 1, batchSize: 4, verbose: 0 });
    const after = model.getLayer('bn').getWeights()[2].dataSync();
    expect(maxAbsDiff(tf.tensor(after), tf.tensor(before))).toBeGreaterThan(1e-4);
    if (variant === 'ghost') {
      await expect(model.fit(x, tf.zeros([3, 2]), { epochs: 1, batchSize: 3, verbose: 0 })).rejects.toThrow(
        "BatchNormalization layer 'bn': expected a batch size that is a multiple of virtualBatchSize 2, but received batch size 3.");
    }
    tf.dispose([xs, ys]);
    model.dispose();
  });

  it('converts to stock (dropping the training-only settings, with a warning), back to custom, and folds', async () => {
    const weights = writeKerasVariant(path.join(dir, 'in'), variant);
    const model = await loadModel(path.join(dir, 'in', 'model.json'));
    const expected = reference(x, weights);
    const { model: stock, warnings } = await convertNormalization(model, 'stock', ['batchNormalization']);
    expect(warnings).toEqual([variant === 'renorm'
      ? 'bn: batch renormalization dropped (training only; inference is unchanged)'
      : 'bn: ghost batches (virtual_batch_size) dropped (training only; inference is unchanged)']);
    const stockBn = stock.getLayer('bn');
    expect(stockBn).not.toBeInstanceOf(BatchNormalization);
    expect(stockBn.getClassName()).toBe('BatchNormalization');
    expect(stockBn.weights.map((w) => w.shape)).toEqual([[4], [4], [4], [4]]);
    await saveModel(stock, path.join(dir, 'stock'));
    const json = fs.readFileSync(path.join(dir, 'stock', 'model.json'), 'utf8');
    expect(json).not.toMatch(/"renorm(_clipping|_momentum)?"|virtual_batch_size|moving_stddev|TfjsBatchNormalization/);

    const custom = (await convertNormalization(model, 'custom', ['batchNormalization'])).model;
    expect(custom.getLayer('bn').getConfig()).toMatchObject(variant === 'renorm' ? { renorm: true } : { virtualBatchSize: 2 });
    const { model: folded, folded: done, kept } = await foldBatchNorm(model);
    expect(done.map((f) => f.batchNorm.slice(1))).toEqual([['bn']]);
    expect(kept).toEqual([]);
    expect(leafClassNames(folded).some((n) => /BatchNorm/.test(n))).toBe(false);
    for (const m of [stock, custom, folded]) expect(maxAbsDiff(m.predict(x) as tf.Tensor, expected)).toBeLessThan(1e-5);
    [model, stock, custom, folded].forEach((m) => m.dispose());
  });
});

test('a plain Keras BatchNormalization config still loads as tfjs\'s built-in', async () => {
  writeKerasVariant(dir, 'renorm');
  const file = path.join(dir, 'model.json');
  const json = JSON.parse(fs.readFileSync(file, 'utf8'));
  const bnEntry = json.modelTopology.model_config.config.layers.find((l: { name: string }) => l.name === 'bn');
  for (const key of ['renorm', 'renorm_clipping', 'renorm_momentum']) delete bnEntry.config[key];
  const model = await tf.models.modelFromJSON({ modelTopology: json.modelTopology });
  const bn = model.getLayer('bn');
  expect(bn).not.toBeInstanceOf(BatchNormalization);
  expect(bn.constructor).toBe(tf.layers.batchNormalization({}).constructor);
  model.dispose();
});

test('converting a renorm BN whose call was saved with training=true to stock warns that its outputs change', async () => {
  writeKerasVariant(dir, 'renorm');
  const file = path.join(dir, 'model.json');
  const json = JSON.parse(fs.readFileSync(file, 'utf8'));
  const bnEntry = json.modelTopology.model_config.config.layers.find((l: { name: string }) => l.name === 'bn');
  bnEntry.inbound_nodes = [[['conv', 0, 0, { training: true }]]];
  fs.writeFileSync(file, JSON.stringify(json));
  const model = await loadModel(file);
  const { model: stock, warnings } = await convertNormalization(model, 'stock', ['batchNormalization']);
  expect(warnings).toContain(
    'bn: batch renormalization dropped (its call was saved with training=true, so its outputs change)');
  [model, stock].forEach((m) => m.dispose());
});

test('the CLI converts a renorm model to stock (warning on stderr) and folds a ghost-batch one', async () => {
  writeKerasVariant(path.join(dir, 'renorm'), 'renorm');
  writeKerasVariant(path.join(dir, 'ghost'), 'ghost');
  const err: string[] = [];
  const out = { stdout: () => undefined, stderr: (s: string) => { err.push(s); } };
  expect(await run(['convert', path.join(dir, 'renorm', 'model.json'), path.join(dir, 'stock'), '--to', 'stock'], out))
    .toBe(0);
  expect(err.join('')).toContain('warning: bn: batch renormalization dropped (training only; inference is unchanged)');
  expect(fs.readFileSync(path.join(dir, 'stock', 'model.json'), 'utf8')).not.toMatch(/"renorm"|moving_stddev/);
  expect(await run(['fold', path.join(dir, 'ghost', 'model.json'), path.join(dir, 'folded')], out)).toBe(0);
  expect(fs.readFileSync(path.join(dir, 'folded', 'model.json'), 'utf8')).not.toMatch(/BatchNormalization/);
});

test('plain tfjs cannot load either fixture, and its built-in drops the arguments (what this package fixes)', () => {
  writeKerasVariant(path.join(dir, 'renorm'), 'renorm');
  writeKerasVariant(path.join(dir, 'ghost'), 'ghost');
  // A separate Node process that only has tfjs: no loader of this package registered.
  const script = `
    const tf = require('@tensorflow/tfjs'); const fs = require('fs');
    const load = (d) => { const json = JSON.parse(fs.readFileSync(d + '/model.json', 'utf8'));
      const bin = fs.readFileSync(d + '/group1-shard1of1.bin');
      return tf.loadLayersModel(tf.io.fromMemory({ modelTopology: json.modelTopology,
        weightSpecs: json.weightsManifest[0].weights,
        weightData: bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength) })).then(() => 'loaded', (e) => e.message); };
    const layer = tf.layers.batchNormalization({ renorm: true, virtualBatchSize: 2 });
    Promise.all([load(process.argv[1]), load(process.argv[2])]).then((errors) =>
      process.stdout.write(JSON.stringify({ errors, keys: Object.keys(layer.getConfig()) })));`;
  const out = JSON.parse(execFileSync(process.execPath, ['-e', script, path.join(dir, 'renorm'), path.join(dir, 'ghost')],
    { cwd: path.join(__dirname, '..'), encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }));
  expect(out.errors).toEqual(['Provided weight data has no target variable: bn/moving_stddev',
    // tf.keras writes the ghost BN's axis after inserting the ghost axis ([4] for rank 4).
    'Axis 4 of input tensor should have a defined dimension but the layer received an input with shape [null,4,4,4].']);
  expect(out.keys.filter((k: string) => /renorm|virtual/i.test(k))).toEqual([]);
});
