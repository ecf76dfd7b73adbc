/**
 * fold refuses a BatchNormalization whose epsilon or weights are not finite numbers, instead of
 * writing NaN into the layer before it: an Error naming the layer, exit 2, nothing written.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { foldBatchNorm, saveModel } from '../src';
import { run } from '../src/cli/run';
import { cleanUp, tempDir } from './fixtures/helpers';

function denseBn(epsilon = 1e-3): tf.LayersModel {
  return tf.sequential({ layers: [
    tf.layers.dense({ units: 3, inputShape: [2], name: 'd' }),
    tf.layers.batchNormalization({ name: 'bn', epsilon }),
  ] });
}

let root: string;
beforeEach(() => { root = tempDir('tfjs-bn-fold-finite-'); });
afterEach(() => { cleanUp(root); });

it.each([
  ['a NaN moving variance', (m: tf.LayersModel) => {
    const bn = m.getLayer('bn');
    const w = bn.getWeights();
    const variance = tf.tensor1d([1, NaN, 1]);
    bn.setWeights([w[0], w[1], w[2], variance]);
    variance.dispose();
  }, /BatchNormalization layer 'bn': expected finite weights, but received NaN at index 1 of 'bn\/moving_variance'; nothing was folded\./],
  ['an infinite gamma', (m: tf.LayersModel) => {
    const bn = m.getLayer('bn');
    const w = bn.getWeights();
    const gamma = tf.tensor1d([1, 1, Infinity]);
    bn.setWeights([gamma, w[1], w[2], w[3]]);
    gamma.dispose();
  }, /expected finite weights, but received Infinity at index 2 of 'bn\/gamma'/],
])('%s: foldBatchNorm throws, leaks nothing', async (_name, spoil, message) => {
  const model = denseBn();
  spoil(model);
  const tensors = tf.memory().numTensors;
  await expect(foldBatchNorm(model)).rejects.toThrow(message);
  expect(tf.memory().numTensors).toBe(tensors);
  model.dispose();
});

it.each([
  ['"abc"', '"abc"', /expected epsilon to be a finite number >= 0, but received "abc"/],
  ['-1', '-1', /expected epsilon to be a finite number >= 0, but received -1/],
])('a stock BN whose epsilon is %s in model.json: the CLI exits 2 and writes nothing', async (_name, value, message) => {
  const model = denseBn();
  await saveModel(model, path.join(root, 'm'));
  model.dispose();
  const file = path.join(root, 'm', 'model.json');
  fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace(/"epsilon":0\.001/, `"epsilon":${value}`));
  let stderr = '';
  const code = await run(['fold', file, path.join(root, 'out')], { stdout: () => undefined, stderr: (t) => { stderr += t; } });
  expect(code).toBe(2);
  expect(stderr).toMatch(message);
  expect(fs.existsSync(path.join(root, 'out'))).toBe(false);
});
