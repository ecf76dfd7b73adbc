/**
 * Models with the BatchNormalization class names TF and tf.keras wrote (BatchNormalizationV1,
 * BatchNormalizationV2, SyncBatchNormalization) load as this package's layer, predict as the
 * formula says, convert both ways, fold, and go through the CLI.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { BatchNormalization } from '../src';
import { foldBatchNorm, convertNormalization } from '../src/convert';
import { loadModel, saveModel } from '../src/io';
import { run } from '../src/cli/run';
import { writeVariant } from './fixtures/keras_bn_variants';
import { cleanUp, leafClassNames, maxAbsDiff, tempDir } from './fixtures/helpers';
import { useBackend } from './helpers/tensors';

const ALIASES = ['BatchNormalizationV1', 'BatchNormalizationV2', 'SyncBatchNormalization'];

/** The fixture's model written out with plain tf ops and inference-mode BN. */
function reference(x: tf.Tensor4D, w: Map<string, Float32Array>): tf.Tensor {
  return tf.tidy(() => {
    const t = (name: string, shape: number[]) => tf.tensor(w.get(name)!, shape);
    const conv = tf.conv2d(x, t('conv/kernel', [3, 3, 3, 4]) as tf.Tensor4D, 1, 'same');
    const bn = tf.add(tf.mul(tf.div(tf.sub(conv, t('bn/moving_mean', [4])), tf.sqrt(tf.add(t('bn/moving_variance', [4]), 1e-3))),
      t('bn/gamma', [4])), t('bn/beta', [4]));
    const pooled = tf.mean(tf.relu(bn), [1, 2]);
    return tf.add(tf.matMul(pooled, t('dense/kernel', [4, 2])), t('dense/bias', [2]));
  });
}

let dir: string;
let x: tf.Tensor4D;
beforeAll(() => useBackend('cpu'));
beforeEach(() => {
  dir = tempDir('tfjs-bn-variants-');
  x = tf.randomUniform([3, 4, 4, 3], -2, 2, 'float32', 11) as tf.Tensor4D;
});
afterEach(() => {
  cleanUp(dir);
  x.dispose();
});

describe.each(ALIASES)('%s', (className) => {
  it('loads as this package\'s layer with its Keras config, predicts by the formula, and saves under its own name', async () => {
    const weights = writeVariant(path.join(dir, 'in'), { className });
    const model = await loadModel(path.join(dir, 'in', 'model.json'));
    const bn = model.getLayer('bn');
    expect(bn).toBeInstanceOf(BatchNormalization);
    expect(bn.getClassName()).toBe(className);
    expect(bn.getConfig()).toMatchObject({ axis: 3, momentum: 0.99, epsilon: 0.001 });
    const expected = reference(x, weights);
    expect(maxAbsDiff(model.predict(x) as tf.Tensor, expected)).toBeLessThan(1e-5);

    await saveModel(model, path.join(dir, 'out'));
    expect(fs.readFileSync(path.join(dir, 'out', 'model.json'), 'utf8')).toContain(`"class_name":"${className}"`);
    const again = await tf.loadLayersModel(`file://${path.join(dir, 'out', 'model.json')}`);
    expect(maxAbsDiff(again.predict(x) as tf.Tensor, expected)).toBeLessThan(1e-5);
    [model, again].forEach((m) => m.dispose());
  });

  it('converts to custom and to stock, and folds into the conv, with the same predictions', async () => {
    const weights = writeVariant(dir, { className });
    const model = await loadModel(path.join(dir, 'model.json'));
    const expected = reference(x, weights);
    const custom = (await convertNormalization(model, 'custom', ['batchNormalization'])).model;
    const stock = (await convertNormalization(model, 'stock', ['batchNormalization'])).model;
    const { model: folded, folded: done, kept } = await foldBatchNorm(model);
    expect(leafClassNames(custom)).toContain('TfjsBatchNormalization');
    expect(leafClassNames(stock)).toContain('BatchNormalization');
    expect(leafClassNames(stock).filter((n) => n !== 'BatchNormalization' && /BatchNorm/.test(n))).toEqual([]);
    expect(done.map((f) => f.batchNorm.slice(1))).toEqual([['bn']]);
    expect(kept).toEqual([]);
    expect(leafClassNames(folded).some((n) => /BatchNorm/.test(n))).toBe(false);
    for (const m of [custom, stock, folded]) expect(maxAbsDiff(m.predict(x) as tf.Tensor, expected)).toBeLessThan(1e-5);
    [model, custom, stock, folded].forEach((m) => m.dispose());
  });
});

test('the CLI converts and folds a BatchNormalizationV1 model', async () => {
  const weights = writeVariant(path.join(dir, 'in'), { className: 'BatchNormalizationV1' });
  const quiet = { stdout: () => undefined, stderr: () => undefined };
  expect(await run(['convert', path.join(dir, 'in', 'model.json'), path.join(dir, 'stock'), '--to', 'stock'], quiet)).toBe(0);
  expect(await run(['fold', path.join(dir, 'in', 'model.json'), path.join(dir, 'folded')], quiet)).toBe(0);
  expect(fs.readFileSync(path.join(dir, 'stock', 'model.json'), 'utf8')).toMatch(/"class_name":"BatchNormalization"/);
  expect(fs.readFileSync(path.join(dir, 'folded', 'model.json'), 'utf8')).not.toMatch(/BatchNormalization/);
  const expected = reference(x, weights);
  for (const out of ['stock', 'folded']) {
    const m = await loadModel(path.join(dir, out, 'model.json'));
    expect(maxAbsDiff(m.predict(x) as tf.Tensor, expected)).toBeLessThan(1e-5);
    m.dispose();
  }
});

test('stock BatchNormalization in the same format still loads as tfjs\'s built-in', async () => {
  writeVariant(dir, { className: 'BatchNormalization' });
  const model = await loadModel(path.join(dir, 'model.json'));
  expect(model.getLayer('bn')).not.toBeInstanceOf(BatchNormalization);
  expect(model.getLayer('bn').getClassName()).toBe('BatchNormalization');
  model.dispose();
});
