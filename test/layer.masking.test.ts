/** Masks from Embedding({maskZero}) reach the layer inside a model, enter the statistics, and pass on. */
import * as tf from '@tensorflow/tfjs';
import { BatchNormalization } from '../src';
import { referenceTraining } from './reference/reference_batch_norm';
import { relError, useBackend } from './helpers/tensors';

beforeAll(() => useBackend('cpu'));

function sequenceModel(bn: tf.layers.Layer) {
  const tokens = tf.input({ shape: [5], dtype: 'int32' });
  const embedded = tf.layers.embedding({ inputDim: 10, outputDim: 3, maskZero: true, embeddingsInitializer: tf.initializers.randomNormal({ seed: 1 }) }).apply(tokens) as tf.SymbolicTensor;
  const normed = bn.apply(embedded) as tf.SymbolicTensor;
  const pooled = tf.layers.lstm({ units: 2, kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }), recurrentInitializer: tf.initializers.glorotUniform({ seed: 3 }) }).apply(normed) as tf.SymbolicTensor;
  return tf.model({ inputs: tokens, outputs: pooled });
}

test('in model.fit the batch statistics are those of the unpadded steps only', async () => {
  const bn = new BatchNormalization({ momentum: 0 });
  const model = sequenceModel(bn);
  model.compile({ optimizer: tf.train.sgd(0), loss: 'meanSquaredError' });
  const ids = tf.tensor2d([[3, 4, 5, 0, 0], [6, 7, 8, 9, 1]], undefined, 'int32');
  await model.fit(ids, tf.zeros([2, 2]), { batchSize: 2, epochs: 1, verbose: 0 });

  const embedded = tf.gather(model.layers[1].getWeights()[0], ids);
  const mask = tf.notEqual(ids, 0);
  const masked = referenceTraining(embedded, null, null, 2, 1e-3, mask);
  const unmasked = referenceTraining(embedded, null, null, 2, 1e-3);
  const [, , movingMean, movingVar] = bn.getWeights();
  expect(relError(movingMean, masked.mean)).toBeLessThan(1e-5);
  expect(relError(movingVar, masked.variance)).toBeLessThan(1e-5);
  // The padded steps would have changed the statistics: the test can tell the two apart.
  expect(relError(movingMean, unmasked.mean)).toBeGreaterThan(1e-3);
});

test('the masked training gradient matches autodiff through the masked reference', () => {
  const x = tf.variable(tf.randomNormal([3, 4, 2], 1, 2, 'float32', 4));
  const mask = tf.tensor2d([[1, 1, 0, 0], [1, 1, 1, 1], [1, 0, 0, 0]], undefined, 'bool');
  const w = tf.randomUniform([3, 4, 2], -1, 1, 'float32', 5);
  const layer = new BatchNormalization({ gammaInitializer: tf.initializers.constant({ value: 1.5 }) });
  layer.build([3, 4, 2]);
  const gamma = layer.trainableWeights[0].read() as tf.Variable;
  const beta = layer.trainableWeights[1].read() as tf.Variable;
  const grads = (f: () => tf.Tensor) => {
    const { grads: g } = tf.variableGrads(() => tf.sum(tf.mul(f(), w)) as tf.Scalar, [x, gamma, beta]);
    return [g[x.name], g[gamma.name], g[beta.name]];
  };
  const ours = grads(() => layer.apply(x, { training: true, mask }) as tf.Tensor);
  const ref = grads(() => referenceTraining(x, gamma, beta, 2, 1e-3, mask).y);
  ours.forEach((g, i) => expect(relError(g, ref[i])).toBeLessThan(1e-5));
});

test('computeMask passes the mask on unchanged', () => {
  const layer = new BatchNormalization();
  const mask = tf.tensor2d([[1, 0]], undefined, 'bool');
  expect(layer.computeMask(tf.ones([1, 2, 3]), mask)).toBe(mask);
  const model = sequenceModel(new BatchNormalization());
  // The LSTM after the layer received the mask: an all-padding row gives the LSTM's zero state.
  const out = model.predict(tf.tensor2d([[0, 0, 0, 0, 0], [1, 2, 3, 0, 0]], undefined, 'int32')) as tf.Tensor;
  expect(Array.from(out.dataSync().slice(0, 2))).toEqual([0, 0]);
  expect(Math.abs(out.dataSync()[2]) + Math.abs(out.dataSync()[3])).toBeGreaterThan(1e-4);
});

test('a mask of the wrong shape is refused with a clear error', () => {
  const layer = new BatchNormalization({ name: 'bn_mask' });
  expect(() => layer.apply(tf.ones([2, 4, 3]), { training: true, mask: tf.ones([2, 3], 'bool') }))
    .toThrow("BatchNormalization layer 'bn_mask': expected a mask of rank 2 that broadcasts to the input shape [2,4,3] " +
      'once a last axis of size 1 is added (e.g. [2,4]), but received mask shape [2,3].');
});
