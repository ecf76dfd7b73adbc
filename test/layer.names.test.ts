/**
 * Default layer names follow tfjs's rule with the public class name, from the counter tfjs's
 * built-in layers share: a model mixing ours and the built-ins never gets a name twice.
 */
import * as tf from '@tensorflow/tfjs';
import { batchNormalization, groupNormalization, layerNormalization, rmsNormalization } from '../src';

/** The name's number, and the name without it. */
function split(name: string): [string, number] {
  const m = /^(.*?)(\d+)$/.exec(name);
  if (m == null) throw new Error(`expected a name ending in a number, but received '${name}'`);
  return [m[1], Number(m[2])];
}

test('BatchNormalization and LayerNormalization are named as the built-ins, sharing their counter', () => {
  const ours = batchNormalization();
  const builtin = tf.layers.batchNormalization();
  const oursAgain = batchNormalization();
  const [prefix, n] = split(ours.name);
  expect(prefix).toBe('batch_normalization_BatchNormalization');
  expect(split(builtin.name)).toEqual([prefix, n + 1]);
  expect(split(oursAgain.name)).toEqual([prefix, n + 2]);
  const ln = layerNormalization();
  expect(split(tf.layers.layerNormalization().name)).toEqual(['layer_normalization_LayerNormalization', split(ln.name)[1] + 1]);
});

test('layers without a built-in take the same rule; a given name is kept', () => {
  expect(split(groupNormalization({ groups: 2 }).name)[0]).toBe('group_normalization_GroupNormalization');
  expect(split(rmsNormalization().name)[0]).toBe('rms_normalization_RMSNormalization');
  expect(batchNormalization({ name: 'bn_stem' }).name).toBe('bn_stem');
});

test('a model holding ours and the built-in, both unnamed, builds (no repeated name)', () => {
  const model = tf.sequential({ layers: [tf.layers.dense({ units: 4, inputShape: [3] }), batchNormalization(), tf.layers.batchNormalization()] });
  const names = model.layers.map((l) => l.name);
  expect(new Set(names).size).toBe(names.length);
  model.dispose();
});
