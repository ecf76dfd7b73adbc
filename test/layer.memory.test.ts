/** Repeated training steps and predictions leave tf.memory().numTensors where it was. */
import * as tf from '@tensorflow/tfjs';
import { BatchNormalization } from '../src';
import { input, useBackend } from './helpers/tensors';

beforeAll(() => useBackend('cpu'));

test.each([
  ['dense', [2, 8], -1],
  ['NCHW', [3, 4, 4], 1],
  ['rank 5', [2, 2, 2, 3], -1],
])('no tensor leaks in fit, trainOnBatch, predict and gradients (%s)', async (_, featureShape, axis) => {
  const shape = [6, ...(featureShape as number[])];
  const model = tf.sequential({ layers: [new BatchNormalization({ axis: axis as number, inputShape: featureShape as number[] }), tf.layers.flatten(), tf.layers.dense({ units: 2 })] });
  model.compile({ optimizer: 'adam', loss: 'meanSquaredError' });
  const x = input(shape);
  const y = input([6, 2]);
  await model.fit(x, y, { epochs: 1, verbose: 0 }); // optimizer slots are created on the first step

  const before = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) {
    await model.fit(x, y, { epochs: 2, batchSize: 3, verbose: 0 });
    await model.trainOnBatch(x, y);
    tf.dispose(model.predict(x) as tf.Tensor);
    tf.dispose(tf.grad((v: tf.Tensor) => tf.sum(model.apply(v, { training: true }) as tf.Tensor))(x));
    tf.dispose(tf.grad((v: tf.Tensor) => tf.sum(model.apply(v) as tf.Tensor))(x));
    tf.dispose(tf.tidy(() => model.apply(x, { training: true }) as tf.Tensor));
  }
  expect(tf.memory().numTensors).toBe(before);
});

test('a masked training call leaks nothing', () => {
  const layer = new BatchNormalization();
  const x = input([2, 3, 4]);
  const mask = tf.tensor2d([[1, 1, 0], [1, 0, 0]], undefined, 'bool');
  layer.apply(x, { training: true, mask }); // builds the weights
  const before = tf.memory().numTensors;
  tf.dispose(tf.grad((v: tf.Tensor) => tf.sum(layer.apply(v, { training: true, mask }) as tf.Tensor))(x));
  expect(tf.memory().numTensors).toBe(before);
});
