/** fold refuses (keeps, with the reason) a BN whose parameters are not finite, instead of writing NaN weights. */
import * as path from 'path';
import * as fs from 'fs';
import * as tf from '@tensorflow/tfjs';
import { foldBatchNorm } from '../src/convert';
import { run } from '../src/cli/run';
import { writeVariant } from './fixtures/keras_bn_variants';
import { cleanUp, tempDir } from './fixtures/helpers';
import { useBackend } from './helpers/tensors';

beforeAll(() => useBackend('cpu'));

function model(bn: tf.layers.Layer): tf.LayersModel {
  return tf.sequential({ layers: [tf.layers.dense({ units: 3, inputShape: [2] }), bn] });
}

test.each([
  ['epsilon "abc"', () => model(tf.layers.batchNormalization({ epsilon: 'abc' as never })), /its epsilon is "abc", not a finite number >= 0/],
  ['a NaN moving variance', () => {
    const m = model(tf.layers.batchNormalization({}));
    const w = m.layers[1].getWeights();
    m.layers[1].setWeights([w[0], w[1], w[2], tf.tensor1d([1, NaN, 1])]);
    return m;
  }, /its moving_variance holds non-finite values/],
  ['an infinite gamma', () => {
    const m = model(tf.layers.batchNormalization({}));
    const w = m.layers[1].getWeights();
    m.layers[1].setWeights([tf.tensor1d([1, Infinity, 1]), w[1], w[2], w[3]]);
    return m;
  }, /its gamma holds non-finite values/],
  ['a zero variance with epsilon 0', () => {
    const m = model(tf.layers.batchNormalization({ epsilon: 0 }));
    const w = m.layers[1].getWeights();
    m.layers[1].setWeights([w[0], w[1], w[2], tf.tensor1d([1, 0, 1])]);
    return m;
  }, /moving_variance \+ epsilon is not positive/],
])('a BN with %s is kept, with the reason, and its Dense keeps its own weights', async (_, make, reason) => {
  const input = make();
  const { model: out, folded, kept } = await foldBatchNorm(input);
  expect(folded).toEqual([]);
  expect(kept).toEqual([{ batchNorm: expect.any(Array), reason: expect.stringMatching(reason) }]);
  const dense = (m: tf.LayersModel) => m.layers[0].getWeights().map((w) => Array.from(w.dataSync()));
  expect(dense(out)).toEqual(dense(input));
  expect(dense(out).flat().every(Number.isFinite)).toBe(true);
});

test('the CLI fold keeps a stock BN with epsilon "abc" and says why', async () => {
  const dir = tempDir('tfjs-bn-nonfinite-');
  try {
    writeVariant(path.join(dir, 'in'), { className: 'BatchNormalization', extraConfig: { epsilon: 'abc' } });
    let stdout = '';
    const code = await run(['fold', path.join(dir, 'in', 'model.json'), path.join(dir, 'out')],
      { stdout: (t) => { stdout += t; }, stderr: () => undefined });
    expect(code).toBe(0);
    expect(stdout).toMatch(/Folded 0 of 1 BatchNormalization layer\(s\)/);
    expect(stdout).toMatch(/kept bn: its epsilon is "abc", not a finite number >= 0/);
    const saved = JSON.parse(fs.readFileSync(path.join(dir, 'out', 'model.json'), 'utf8'));
    expect(JSON.stringify(saved.modelTopology)).toContain('"class_name":"BatchNormalization"');
  } finally {
    cleanUp(dir);
  }
});
