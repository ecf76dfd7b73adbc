/**
 * The five cases where tf.layers.batchNormalization (tfjs 4.22) fails, run with this layer.
 * Each test first shows the built-in's failure, so the case stays a real one.
 */
import * as tf from '@tensorflow/tfjs';
import { BatchNormalization } from '../src';
import { referenceTraining } from './reference/reference_batch_norm';
import { input, relError, useBackend } from './helpers/tensors';

beforeAll(() => useBackend('cpu'));

test.each([{ scale: false }, { center: false }])('1. training with %p', (flags) => {
  const x = input([8, 4]);
  expect(() => tf.layers.batchNormalization(flags).apply(x, { training: true }))
    .toThrow(/Cannot read properties of undefined \(reading 'read'\)/);
  const layer = new BatchNormalization(flags);
  const y = layer.apply(x, { training: true }) as tf.Tensor;
  const gamma = flags.scale === false ? null : tf.ones([4]);
  const beta = flags.center === false ? null : tf.zeros([4]);
  expect(relError(y, referenceTraining(x, gamma, beta, 1, 1e-3).y)).toBeLessThan(1e-5);
});

function channelsFirstModel(bn: tf.layers.Layer) {
  const model = tf.sequential({
    layers: [
      tf.layers.conv2d({ filters: 4, kernelSize: 3, dataFormat: 'channelsFirst', inputShape: [2, 8, 8], kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }),
      bn,
      tf.layers.flatten(),
      tf.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
    ],
  });
  model.compile({ optimizer: tf.train.adam(0.01), loss: 'categoricalCrossentropy' });
  return model;
}

test('2. channels-first (axis 1 after a channelsFirst Conv2D) trains with model.fit', async () => {
  const x = input([12, 2, 8, 8], 3, 0, 1);
  const y = tf.oneHot(tf.tensor1d([0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2], 'int32'), 3);
  await expect(channelsFirstModel(tf.layers.batchNormalization({ axis: 1 })).fit(x, y, { epochs: 1, verbose: 0 }))
    .rejects.toThrow(/must match the product of shape 1,4,1,1/);
  const model = channelsFirstModel(new BatchNormalization({ axis: 1 }));
  const gammaBefore = model.layers[1].getWeights()[0].clone();
  const history = await model.fit(x, y, { epochs: 15, batchSize: 12, verbose: 0 });
  const loss = history.history.loss as number[];
  expect(loss[loss.length - 1]).toBeLessThan(loss[0] * 0.7);
  // gamma received gradients and the optimizer moved it.
  expect(relError(model.layers[1].getWeights()[0], gammaBefore)).toBeGreaterThan(1e-3);
});

test('3. rank 5 (after Conv3D) in training and inference', () => {
  const x = input([2, 3, 3, 3, 4]);
  expect(() => tf.layers.batchNormalization({}).apply(x, { training: true }))
    .toThrow(/not implemented for array of rank 5/);
  const layer = new BatchNormalization();
  const y = layer.apply(x, { training: true }) as tf.Tensor;
  expect(relError(y, referenceTraining(x, tf.ones([4]), tf.zeros([4]), 4, 1e-3).y)).toBeLessThan(1e-5);
  const model = tf.sequential({ layers: [tf.layers.conv3d({ filters: 4, kernelSize: 2, inputShape: [4, 4, 4, 1] }), layer] });
  expect((model.predict(tf.ones([1, 4, 4, 4, 1])) as tf.Tensor).shape).toEqual([1, 3, 3, 3, 4]);
});

test('4. masks: padded steps are left out of the batch statistics', () => {
  // Two sequences of 4 steps; the second has 2 padded steps holding large values.
  const x = tf.tensor3d([[[1, 10], [2, 20], [3, 30], [4, 40]], [[5, 50], [6, 60], [100, 1000], [100, 1000]]]);
  const mask = tf.tensor2d([[1, 1, 1, 1], [1, 1, 0, 0]], undefined, 'bool');
  const stock = tf.layers.batchNormalization({ momentum: 0 });
  stock.apply(x, { training: true, mask });
  // The built-in's moving mean (momentum 0: the batch mean) includes the padded 100s.
  expect(stock.getWeights()[2].dataSync()[0]).toBeCloseTo((1 + 2 + 3 + 4 + 5 + 6 + 200) / 8, 4);

  const layer = new BatchNormalization({ momentum: 0 });
  const y = layer.apply(x, { training: true, mask }) as tf.Tensor;
  const [, , mean, variance] = layer.getWeights();
  const real = [1, 2, 3, 4, 5, 6];
  const m = real.reduce((a, b) => a + b) / 6;
  expect(mean.dataSync()[0]).toBeCloseTo(m, 5);
  expect(mean.dataSync()[1]).toBeCloseTo(10 * m, 4);
  expect(variance.dataSync()[0]).toBeCloseTo(real.reduce((a, v) => a + (v - m) ** 2, 0) / 6, 4);
  // Unmasked steps are normalized with those statistics.
  expect((y.arraySync() as number[][][])[0][0][0]).toBeCloseTo((1 - m) / Math.sqrt(variance.dataSync()[0] + 1e-3), 4);
});

test('5. trainable = false runs in inference mode inside fit and keeps the moving statistics', async () => {
  const build = (bn: tf.layers.Layer) => {
    const model = tf.sequential({ layers: [tf.layers.dense({ units: 3, inputShape: [4], kernelInitializer: 'ones' }), bn] });
    bn.setWeights([tf.tensor1d([1, 2, 3]), tf.tensor1d([0, 1, 0]), tf.tensor1d([5, 6, 7]), tf.tensor1d([2, 2, 2])]);
    bn.trainable = false;
    model.compile({ optimizer: tf.train.sgd(0.1), loss: 'meanSquaredError' });
    return model;
  };
  const x = input([16, 4]);
  const y = input([16, 3], 2, 0, 1);
  const stock = build(tf.layers.batchNormalization({}));
  await stock.fit(x, y, { epochs: 2, verbose: 0 });
  // The built-in still updates its moving mean while frozen.
  expect(Math.abs(stock.layers[1].getWeights()[2].dataSync()[0] - 5)).toBeGreaterThan(1e-3);

  const frozen = new BatchNormalization();
  const model = build(frozen);
  const before = frozen.getWeights().map((t) => Array.from(t.dataSync()));
  const predictBefore = model.predict(x) as tf.Tensor;
  // In training mode, the layer still uses the moving statistics: same output as inference.
  const trainingOut = model.apply(x, { training: true }) as tf.Tensor;
  expect(relError(trainingOut, predictBefore)).toBeLessThan(1e-6);
  await model.fit(x, y, { epochs: 2, verbose: 0 });
  expect(frozen.getWeights().map((t) => Array.from(t.dataSync()))).toEqual(before);
  expect(frozen.trainableWeights).toHaveLength(0);
  // The dense layer before it still trained.
  expect(relError(model.layers[0].getWeights()[0], tf.ones([4, 3]))).toBeGreaterThan(1e-3);
});

test('6. inference on a feature axis other than the last matches the formula (the built-in does not)', () => {
  const x = tf.randomNormal([2, 3, 4, 4], 0, 1, 'float32', 1);
  const weights = [tf.tensor1d([1, 2, 3]), tf.tensor1d([0.5, -1, 2]), tf.tensor1d([0.1, 0.2, -0.3]), tf.tensor1d([1, 4, 9])];
  const [gamma, beta, mean, variance] = weights.map((t) => tf.reshape(t, [1, 3, 1, 1]));
  const expected = tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, 1e-3))), gamma), beta);
  const stock = tf.layers.batchNormalization({ axis: 1, weights }).apply(x) as tf.Tensor;
  expect(relError(stock, expected)).toBeGreaterThan(0.1);
  const ours = new BatchNormalization({ axis: 1, weights }).apply(x) as tf.Tensor;
  expect(relError(ours, expected)).toBeLessThan(1e-6);
});
