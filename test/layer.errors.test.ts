/** Bad input gets an error naming the layer, what was expected and what was received. */
import * as tf from '@tensorflow/tfjs';
import { BatchNormalization } from '../src';
import { useBackend } from './helpers/tensors';

beforeAll(() => useBackend('cpu'));

const prefix = (name: string) => `BatchNormalization layer '${name}': expected`;

test.each([
  [{ momentum: 1.5 }, 'momentum as a finite number in [0, 1], but received 1.5'],
  [{ momentum: -0.1 }, 'momentum as a finite number in [0, 1], but received -0.1'],
  [{ epsilon: -1e-3 }, 'epsilon as a finite number >= 0, but received -0.001'],
  [{ axis: 1.5 }, 'axis as an integer or a one-element list of one, but received 1.5'],
  [{ axis: [1, 2] }, 'axis as an integer or a one-element list of one, but received [1,2]'],
])('constructor refuses %p', (args, message) => {
  expect(() => new BatchNormalization({ name: 'bad', ...args })).toThrow(`${prefix('bad')} ${message}.`);
});

test('an unknown initializer names what it expected', () => {
  expect(() => new BatchNormalization({ gammaInitializer: 'bogus' as never })).toThrow(/Unknown initializer: 'bogus'/);
});

test.each([
  [[5], -1, 'an input of rank >= 2 (batch and features), but received shape [5]'],
  [[2, 3], 2, 'axis in [0, 1] or [-2, -1] for rank 2, but received axis 2'],
  [[2, 3, 4], -4, 'axis in [0, 2] or [-3, -1] for rank 3, but received axis -4'],
  [[null, 3, null], -1, 'a defined size on feature axis 2, but received shape [null,3,null]'],
])('build refuses shape %p with axis %p', (shape, axis, message) => {
  const layer = new BatchNormalization({ name: 'b', axis: axis as number });
  expect(() => layer.build(shape as number[])).toThrow(`${prefix('b')} ${message}.`);
});

test('calling with a string input, another rank, or other features is refused', () => {
  const layer = new BatchNormalization({ name: 'c' });
  layer.apply(tf.ones([2, 3]));
  expect(() => layer.apply(tf.tensor2d([['a', 'b', 'c']]))).toThrow(`${prefix('c')} a numeric input (float32, int32 or bool), but received dtype string.`);
  expect(() => layer.apply(tf.ones([2, 4]))).toThrow(/Input 0 is incompatible with layer c: expected axis 1 of input shape to have value 3/);
  expect(() => layer.call(tf.ones([2, 2, 3]), {})).toThrow(`${prefix('c')} an input of rank 2 (the rank it was built for), but received shape [2,2,3].`);
  expect(() => layer.call(tf.ones([2, 4]), {})).toThrow(`${prefix('c')} 3 features on axis 1, but received shape [2,4].`);
});

test('a batch of one in training gives finite output and finite moving statistics', () => {
  const layer = new BatchNormalization({ momentum: 0.5 });
  const y = layer.apply(tf.tensor2d([[3, -2, 7]]), { training: true }) as tf.Tensor;
  // Zero variance: the normalized value is 0, so the output is beta (zeros).
  expect(Array.from(y.dataSync())).toEqual([0, 0, 0]);
  const [, , mean, variance] = layer.getWeights();
  expect(Array.from(mean.dataSync())).toEqual([1.5, -1, 3.5]);
  expect(Array.from(variance.dataSync())).toEqual([0.5, 0.5, 0.5]);
  const x = tf.variable(tf.tensor2d([[3, -2, 7]]));
  const g = tf.grad((v: tf.Tensor) => tf.sum(layer.apply(v, { training: true }) as tf.Tensor))(x);
  expect(Array.from(g.dataSync()).every(Number.isFinite)).toBe(true);
});
