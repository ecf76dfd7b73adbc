/**
 * A Keras model built with `BatchNormalization()(x, training=True)` stores `{"training": true}`
 * (or `1`) in the BN's inbound-node kwargs, and Keras then normalizes with batch statistics at
 * every call, predict included (pix2pix-style generators rely on it). This package's layer does
 * the same; tfjs's built-in ignores the kwarg.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { BatchNormalization } from '../src';
import { convertNormalization, foldBatchNorm } from '../src/convert';
import { loadModel } from '../src/io';
import { run } from '../src/cli/run';
import { writeVariant } from './fixtures/keras_bn_variants';
import { cleanUp, maxAbsDiff, tempDir } from './fixtures/helpers';
import { useBackend } from './helpers/tensors';

/** The fixture's model written out with plain tf ops; the BN uses the batch's statistics or the moving ones. */
function reference(x: tf.Tensor4D, w: Map<string, Float32Array>, batchStatistics: boolean): tf.Tensor {
  return tf.tidy(() => {
    const t = (name: string, shape: number[]) => tf.tensor(w.get(name)!, shape);
    const conv = tf.conv2d(x, t('conv/kernel', [3, 3, 3, 4]) as tf.Tensor4D, 1, 'same');
    const { mean, variance } = batchStatistics ? tf.moments(conv, [0, 1, 2])
      : { mean: t('bn/moving_mean', [4]), variance: t('bn/moving_variance', [4]) };
    const bn = tf.add(tf.mul(tf.div(tf.sub(conv, mean), tf.sqrt(tf.add(variance, 1e-3))), t('bn/gamma', [4])), t('bn/beta', [4]));
    return tf.add(tf.matMul(tf.mean(tf.relu(bn), [1, 2]), t('dense/kernel', [4, 2])), t('dense/bias', [2]));
  });
}

let dir: string;
let x: tf.Tensor4D;
beforeAll(() => useBackend('cpu'));
beforeEach(() => {
  dir = tempDir('tfjs-bn-baked-');
  x = tf.randomUniform([3, 4, 4, 3], -2, 2, 'float32', 12) as tf.Tensor4D;
});
afterEach(() => {
  cleanUp(dir);
  x.dispose();
});

describe.each([[true], [1]])('{"training": %p} in the inbound node', (training) => {
  it('normalizes with batch statistics in predict once the BN is this package\'s, as in Keras (the built-in does not)', async () => {
    const weights = writeVariant(dir, { className: 'BatchNormalization', kwargs: { training } });
    const stock = await loadModel(path.join(dir, 'model.json'));
    const custom = (await convertNormalization(stock, 'custom', ['batchNormalization'])).model;
    expect(custom.getLayer('bn')).toBeInstanceOf(BatchNormalization);
    const batch = reference(x, weights, true);
    const moving = reference(x, weights, false);
    expect(maxAbsDiff(batch, moving)).toBeGreaterThan(1e-2); // the two modes are told apart
    expect(maxAbsDiff(custom.predict(x) as tf.Tensor, batch)).toBeLessThan(1e-5);
    expect(maxAbsDiff(stock.predict(x) as tf.Tensor, moving)).toBeLessThan(1e-5); // tfjs's built-in: moving statistics
    [stock, custom].forEach((m) => m.dispose());
  });

  it('survives the CLI convert to custom; fold keeps that BN and says why; convert to stock warns', async () => {
    const weights = writeVariant(path.join(dir, 'in'), { className: 'BatchNormalizationV2', kwargs: { training } });
    const quiet = { stdout: () => undefined, stderr: () => undefined };
    expect(await run(['convert', path.join(dir, 'in', 'model.json'), path.join(dir, 'custom'), '--to', 'custom'], quiet)).toBe(0);
    const saved = JSON.parse(fs.readFileSync(path.join(dir, 'custom', 'model.json'), 'utf8'));
    const bnEntry = saved.modelTopology.model_config?.config.layers.find((l: { name: string }) => l.name === 'bn') ??
      saved.modelTopology.config.layers.find((l: { name: string }) => l.name === 'bn');
    expect(bnEntry.inbound_nodes[0][0][3]).toEqual({ training });
    const custom = await loadModel(path.join(dir, 'custom', 'model.json'));
    const batch = reference(x, weights, true);
    expect(maxAbsDiff(custom.predict(x) as tf.Tensor, batch)).toBeLessThan(1e-5);

    const { model: folded, folded: done, kept } = await foldBatchNorm(custom);
    expect(done).toEqual([]);
    expect(kept).toEqual([{ batchNorm: [custom.name, 'bn'], reason: expect.stringMatching(/saved with training=true/) }]);
    expect(maxAbsDiff(folded.predict(x) as tf.Tensor, batch)).toBeLessThan(1e-5);

    const { warnings } = await convertNormalization(custom, 'stock', ['batchNormalization']);
    expect(warnings).toEqual([expect.stringMatching(/^bn: its call was saved with training=true, which tfjs's built-in/)]);
    [custom, folded].forEach((m) => m.dispose());
  });
});

test('a frozen BN (trainable: false) with training baked in runs in inference mode and folds, as in Keras', async () => {
  const weights = writeVariant(dir, { className: 'BatchNormalizationV1', kwargs: { training: true }, extraConfig: { trainable: false } });
  const model = await loadModel(path.join(dir, 'model.json'));
  const moving = reference(x, weights, false);
  expect(maxAbsDiff(model.predict(x) as tf.Tensor, moving)).toBeLessThan(1e-5);
  const { model: folded, folded: done } = await foldBatchNorm(model);
  expect(done.length).toBe(1);
  expect(maxAbsDiff(folded.predict(x) as tf.Tensor, moving)).toBeLessThan(1e-5);
  [model, folded].forEach((m) => m.dispose());
});

test('training baked in moves the moving statistics at each call, as Keras does in training mode', async () => {
  writeVariant(dir, { className: 'BatchNormalizationV2', kwargs: { training: 1 } });
  const model = await loadModel(path.join(dir, 'model.json'));
  const before = model.getLayer('bn').getWeights()[2].dataSync().slice();
  (model.predict(x) as tf.Tensor).dispose();
  const after = model.getLayer('bn').getWeights()[2].dataSync();
  expect(Math.max(...after.map((v, i) => Math.abs(v - before[i])))).toBeGreaterThan(1e-4);
  model.dispose();
});
