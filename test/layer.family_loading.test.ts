/**
 * Loading and saving the normalization family: model.json files written by the Keras converter
 * with GroupNormalization, Addons>GroupNormalization, Addons>InstanceNormalization and
 * InstanceNormalization load with this package imported and predict like a plain reference;
 * the layers' configs round-trip; stock LayerNormalization keeps loading as the built-in.
 */
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { GroupNormalization, InstanceNormalization, LayerNormalization, layerNormalization } from '../src';
import { loadModel, saveModel } from '../src/io';
import { cleanUp, tempDir } from './fixtures/helpers';
import { NORM_FIXTURES, writeNormModel } from './fixtures/keras_group_norm';
import { referenceNorm } from './reference/reference_norm';
import { input, relError, useBackend } from './helpers/tensors';

let dir: string;
beforeAll(() => useBackend('cpu'));
beforeEach(() => { dir = tempDir('tfjs-norm-family-'); });
afterEach(() => cleanUp(dir));

describe.each(NORM_FIXTURES.map((f) => [f.className, f] as const))('%s', (className, fixture) => {
  it('loads, predicts like the plain reference, and saves and reloads under the same class name', async () => {
    const w = writeNormModel(path.join(dir, 'in'), className, fixture.config);
    const model = await loadModel(path.join(dir, 'in', 'model.json'));
    const norm = model.getLayer('norm');
    expect(norm).toBeInstanceOf(GroupNormalization);
    expect(norm instanceof InstanceNormalization).toBe(fixture.groups === 6);
    expect(norm.getClassName()).toBe(className);
    const x = input([3, 4, 4, 6]);
    const expected = tf.tidy(() => {
      const t = (name: string, shape: number[]) => tf.tensor(w.get(name)!, shape);
      const y = referenceNorm(x, t('norm/gamma', [6]), t('norm/beta', [6]), { kind: 'group', axis: -1, groups: fixture.groups });
      return tf.add(tf.matMul(tf.mean(y, [1, 2]), t('dense/kernel', [6, 2])), t('dense/bias', [2]));
    });
    expect(relError(model.predict(x) as tf.Tensor, expected)).toBeLessThan(1e-5);
    await saveModel(model, path.join(dir, 'out'));
    const again = await loadModel(path.join(dir, 'out', 'model.json'));
    expect(again.getLayer('norm').getClassName()).toBe(className);
    expect(relError(again.predict(x) as tf.Tensor, expected)).toBeLessThan(1e-5);
    tf.dispose([x, expected]);
    model.dispose();
    again.dispose();
  });
});

test('each layer\'s config round-trips through fromConfig', () => {
  const cases: [tf.layers.Layer, tf.serialization.SerializableConstructor<tf.layers.Layer>][] = [
    [new LayerNormalization({ axis: [1, 2], epsilon: 1e-5, center: false, rmsScaling: false, name: 'ln' }), LayerNormalization],
    [new GroupNormalization({ groups: 4, axis: 1, gammaConstraint: 'nonNeg', name: 'gn' }), GroupNormalization],
    [new InstanceNormalization({ scale: false, betaRegularizer: tf.regularizers.l1l2({ l2: 0.1 }), name: 'in' }), InstanceNormalization],
  ];
  for (const [layer, cls] of cases) {
    const config = layer.getConfig();
    const [registered, fromConfig] = tf.serialization.SerializationMap.getMap().classNameMap[layer.getClassName()];
    const copy = fromConfig(registered, config) as tf.layers.Layer;
    expect(copy).toBeInstanceOf(cls);
    expect(copy.getConfig()).toEqual(config);
  }
});

test('a model with LayerNormalization saves as TfjsLayerNormalization; stock LayerNormalization stays the built-in', async () => {
  const model = tf.sequential({ layers: [
    tf.layers.dense({ units: 4, inputShape: [3] }), layerNormalization({ name: 'ours' }),
    tf.layers.layerNormalization({ name: 'stock' }),
  ] });
  await saveModel(model, path.join(dir, 'ln'));
  const loaded = await loadModel(path.join(dir, 'ln', 'model.json'));
  expect(loaded.getLayer('ours')).toBeInstanceOf(LayerNormalization);
  expect(loaded.getLayer('ours').getClassName()).toBe('TfjsLayerNormalization');
  expect(loaded.getLayer('stock')).not.toBeInstanceOf(LayerNormalization);
  expect(loaded.getLayer('stock').getClassName()).toBe('LayerNormalization');
  const x = input([5, 3]);
  expect(relError(loaded.predict(x) as tf.Tensor, model.predict(x) as tf.Tensor)).toBe(0);
  model.dispose();
  loaded.dispose();
});
