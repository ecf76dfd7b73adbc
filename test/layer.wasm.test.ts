/** The layer's forward and backward on @tensorflow/tfjs-backend-wasm, against the reference. */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { BatchNormalization } from '../src';
import { referenceInference, referenceTraining } from './reference/reference_batch_norm';
import { gradsOf, input, lossWeights, relError, useBackend } from './helpers/tensors';

beforeAll(() => useBackend('wasm'));

test('the wasm backend is the one in use', () => {
  expect(tf.getBackend()).toBe('wasm');
});

test.each([
  [[16, 8], -1], [[4, 5, 6], -1], [[2, 4, 4, 3], -1], [[2, 3, 4, 4], 1], [[2, 2, 3, 2, 3], -1],
])('training and inference on %p axis %p: outputs and gradients', (shape, axis) => {
  const rank = shape.length;
  const resolved = axis < 0 ? axis + rank : axis;
  const layer = new BatchNormalization({ axis, gammaInitializer: tf.initializers.randomUniform({ minval: 0.5, maxval: 2, seed: 1 }) });
  layer.build(shape);
  const [gamma, beta] = layer.trainableWeights.map((v) => v.read() as tf.Variable);
  const xv = tf.variable(input(shape));
  const w = lossWeights(shape);
  const before = tf.memory().numTensors;

  for (const training of [true, false]) {
    const [movingMean, movingVar] = layer.getWeights().slice(-2).map((t) => t.clone());
    const ref = () => (training
      ? referenceTraining(xv, gamma, beta, resolved, 1e-3).y
      : referenceInference(xv, movingMean, movingVar, gamma, beta, resolved, 1e-3));
    const ours = gradsOf(() => layer.apply(xv, { training }) as tf.Tensor, w, [xv, gamma, beta]);
    const expected = gradsOf(ref, w, [xv, gamma, beta]);
    ours.forEach((g, i) => expect(relError(g, expected[i])).toBeLessThan(1e-5));
    tf.dispose([...ours, ...expected, movingMean, movingVar]);
  }
  expect(tf.memory().numTensors).toBe(before);
  const y = layer.apply(xv, { training: true }) as tf.Tensor;
  expect(relError(y, referenceTraining(xv, gamma, beta, resolved, 1e-3).y)).toBeLessThan(1e-5);
});
