/**
 * Where the built-in tf.layers.batchNormalization works (ranks 2-4, axis -1, center and scale),
 * this layer must agree with it: outputs in both modes, gradients for x, gamma and beta, and the
 * moving statistics after several fit steps.
 */
import * as tf from '@tensorflow/tfjs';
import { BatchNormalization } from '../src';
import { gradsOf, input, lossWeights, relError, useBackend } from './helpers/tensors';

const TOL = 1e-5;
const SHAPES = [[16, 6], [4, 5, 6], [3, 4, 5, 6]];

beforeAll(() => useBackend('cpu'));

/** Both layers built on the same shape with the same non-trivial weights. */
function pair(shape: number[]) {
  const ours = new BatchNormalization({ momentum: 0.9 });
  const stock = tf.layers.batchNormalization({ momentum: 0.9 });
  ours.build(shape);
  stock.build(shape);
  const c = shape[shape.length - 1];
  const weights = [
    tf.randomUniform([c], 0.5, 2, 'float32', 3), tf.randomUniform([c], -1, 1, 'float32', 4),
    tf.randomUniform([c], -1, 1, 'float32', 5), tf.randomUniform([c], 0.5, 3, 'float32', 6),
  ];
  ours.setWeights(weights);
  stock.setWeights(weights);
  tf.dispose(weights);
  return { ours, stock };
}

describe.each(SHAPES)('against the built-in on shape %p', (...shape: number[]) => {
  test.each([true, false])('outputs agree with training=%p', (training) => {
    const { ours, stock } = pair(shape);
    const x = input(shape);
    const a = ours.apply(x, { training }) as tf.Tensor;
    const b = stock.apply(x, { training }) as tf.Tensor;
    expect(relError(a, b)).toBeLessThan(TOL);
    // The two modes really differ here (moving stats are not the batch stats).
    if (!training) expect(relError(a, ours.apply(x, { training: true }) as tf.Tensor)).toBeGreaterThan(1e-2);
  });

  test.each([true, false])('gradients for x, gamma and beta agree with training=%p', (training) => {
    const { ours, stock } = pair(shape);
    const x = tf.variable(input(shape), true, `x_${training}_${shape.length}`);
    const w = lossWeights(shape);
    const vars = (l: tf.layers.Layer) => [x, ...l.trainableWeights.map((v) => v.read() as tf.Variable)];
    const ga = gradsOf(() => ours.apply(x, { training }) as tf.Tensor, w, vars(ours));
    const gb = gradsOf(() => stock.apply(x, { training }) as tf.Tensor, w, vars(stock));
    expect(ga).toHaveLength(3);
    ga.forEach((g, i) => expect(relError(g, gb[i])).toBeLessThan(TOL));
    x.dispose();
  });
});

test.each(SHAPES)('moving statistics and weights after 5 fit steps agree (shape %p)', async (...shape: number[]) => {
  const build = (bn: tf.layers.Layer) => {
    const model = tf.sequential({
      layers: [tf.layers.dense({ units: 6, inputShape: shape.slice(1), kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }), bn],
    });
    model.compile({ optimizer: tf.train.sgd(0.1), loss: 'meanSquaredError' });
    return model;
  };
  const ours = build(new BatchNormalization());
  const stock = build(tf.layers.batchNormalization({}));
  const x = input(shape, 11);
  const y = input(shape, 12, 0, 1);
  for (const model of [ours, stock]) {
    await model.fit(x, y, { epochs: 5, batchSize: shape[0], shuffle: false, verbose: 0 });
  }
  const a = ours.layers[1].getWeights();
  const b = stock.layers[1].getWeights();
  expect(a.map((t) => t.shape)).toEqual(b.map((t) => t.shape));
  a.forEach((t, i) => expect(relError(t, b[i])).toBeLessThan(TOL));
  // The moving statistics did move away from their initial zeros and ones.
  expect(tf.max(tf.abs(a[2])).dataSync()[0]).toBeGreaterThan(1e-3);
});

test('getWeights/setWeights interoperate with the built-in both ways, with the same names', () => {
  const ours = new BatchNormalization({ name: 'bn_ours' });
  const stock = tf.layers.batchNormalization({ name: 'bn_stock' });
  ours.build([2, 3]);
  stock.build([2, 3]);
  const baseNames = (l: tf.layers.Layer) => l.weights.map((w) => w.name.split('/').pop()!.replace(/_\d+$/, ''));
  expect(baseNames(ours)).toEqual(['gamma', 'beta', 'moving_mean', 'moving_variance']);
  expect(baseNames(ours)).toEqual(baseNames(stock));
  ours.setWeights([tf.tensor1d([1, 2, 3]), tf.tensor1d([4, 5, 6]), tf.tensor1d([7, 8, 9]), tf.tensor1d([1, 1, 2])]);
  stock.setWeights(ours.getWeights());
  expect(stock.getWeights().map((t) => Array.from(t.dataSync()))).toEqual(ours.getWeights().map((t) => Array.from(t.dataSync())));
  const noScale = new BatchNormalization({ scale: false, center: false });
  noScale.build([2, 3]);
  expect(baseNames(noScale)).toEqual(['moving_mean', 'moving_variance']);
});

test('the `weights` argument sets initial weights, as for the built-in', () => {
  const weights = [tf.tensor1d([2, 3]), tf.tensor1d([1, -1]), tf.tensor1d([0.5, 1]), tf.tensor1d([4, 9])];
  const ours = new BatchNormalization({ weights, inputShape: [2] });
  const stock = tf.layers.batchNormalization({ weights, inputShape: [2] });
  const x = tf.tensor2d([[1, 2], [3, 5]]);
  const a = ours.apply(x) as tf.Tensor;
  expect(relError(a, stock.apply(x) as tf.Tensor)).toBeLessThan(TOL);
  // (1 - 0.5) / sqrt(4 + 1e-3) * 2 + 1
  expect(a.dataSync()[0]).toBeCloseTo(0.5 / Math.sqrt(4.001) * 2 + 1, 5);
});
