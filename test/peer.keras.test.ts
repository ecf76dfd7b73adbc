/**
 * The BatchNormalization cases of Keras 3's suite
 * (keras/src/layers/normalization/batch_normalization_test.py, keras-team/keras), run against
 * this package: their inputs, parameters and expected numbers, our code. Keras's `Masking()(x)`
 * on a concrete array becomes the mask it computes, `any(x != mask_value, axis=-1)`. Where a case
 * asserts something the README lists as a deliberate difference, the documented behaviour is
 * tested and the test's name says so.
 */
import * as tf from '@tensorflow/tfjs';
import { BatchNormalization, BatchNormalizationArgs } from '../src';
import { useBackend } from './helpers/tensors';

beforeAll(() => useBackend('cpu'));

const values = (t: tf.Tensor) => Array.from(t.dataSync());
/** Keras's assertAllClose: |a - b| <= atol + rtol * |b|, elementwise. */
function expectAllClose(a: tf.Tensor | number[], b: tf.Tensor | number[] | number, atol = 1e-6, rtol = 1e-6): void {
  const av = Array.isArray(a) ? a : values(a);
  const bv = typeof b === 'number' ? av.map(() => b) : Array.isArray(b) ? b : values(b);
  expect(av.length).toBe(bv.length);
  av.forEach((v, i) => expect(Math.abs(v - bv[i])).toBeLessThanOrEqual(atol + rtol * Math.abs(bv[i])));
}
const maxAbsDiff = (a: tf.Tensor, b: tf.Tensor) => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0];
/** What Keras's Masking layer computes as the mask: a step counts unless all its features equal maskValue. */
const kerasMask = (x: tf.Tensor, maskValue = 0) => tf.any(tf.notEqual(x, maskValue), -1);
const bn = (args: BatchNormalizationArgs & Record<string, unknown>) => new BatchNormalization(args as BatchNormalizationArgs);

describe('test_bn_basics', () => {
  it.each([
    [{ center: true, scale: true }, [2, 3], 2, 2, 0],
    [{ center: false, scale: false }, [2, 3], 0, 2, 0],
    [{ center: true, scale: true, betaRegularizer: 'l2', gammaRegularizer: 'l2' }, [2, 4, 4, 3], 2, 2, 2],
  ])('%p on %p: weights, losses, masking support, config round trip', (init, shape, trainable, nonTrainable, losses) => {
    const layer = bn(init as never);
    const y = layer.apply(tf.randomNormal(shape as number[], 0, 1, 'float32', 3), { training: true }) as tf.Tensor;
    expect(y.shape).toEqual(shape);
    expect(layer.trainableWeights.length).toBe(trainable);
    expect(layer.nonTrainableWeights.length).toBe(nonTrainable);
    expect(layer.losses.length).toBe(losses);
    expect(layer.supportsMasking).toBe(true);
    const copy = BatchNormalization.fromConfig(BatchNormalization, layer.getConfig());
    expect(copy.getConfig()).toEqual(layer.getConfig());
  });
});

describe('test_correctness', () => {
  const cases: [number, number[], string, string][] = [];
  for (const axis of [-1, 1]) {
    for (const shape of [[5, 2, 3], [5, 3, 3, 2]]) {
      for (const mm of ['zeros', 'ones']) for (const mv of ['zeros', 'ones']) cases.push([axis, shape, mm, mv]);
    }
  }
  it.each(cases)('axis=%p input_shape=%p moving_mean=%p moving_variance=%p', (axis, shape, mm, mv) => {
    const layer = bn({ axis, momentum: 0, movingMeanInitializer: mm, movingVarianceInitializer: mv } as never);
    // Random data centered on 5.0, variance 10.0 (their comment; the scale is 10).
    const x = tf.randomNormal(shape, 5, 10, 'float32', 42);
    let out = x;
    for (let i = 0; i < 3; i++) out = layer.apply(out, { training: true }) as tf.Tensor;

    const rank = shape.length;
    const a = (axis + rank) % rank;
    const broadcast = shape.map((d, i) => (i === a ? d : 1));
    const [gamma, beta, movingMean, movingVariance] = layer.getWeights();
    const normed = tf.div(tf.sub(out, tf.reshape(beta, broadcast)), tf.reshape(gamma, broadcast));
    const reduction = [...Array(rank).keys()].filter((i) => i !== a);
    const { mean, variance } = tf.moments(normed, reduction);
    expectAllClose(mean, 0, 1e-3);
    expectAllClose(tf.sqrt(variance), 1, 1e-3);
    expectAllClose(movingMean, 0, 1e-3);
    expectAllClose(movingVariance, 1, 1e-3);

    // Inference done before training shouldn't match.
    expect(maxAbsDiff(layer.apply(x, { training: false }) as tf.Tensor, layer.apply(x, { training: true }) as tf.Tensor))
      .toBeGreaterThan(1e-3);
    // Since momentum is zero, inference after training should match.
    const trainingOut = layer.apply(x, { training: true }) as tf.Tensor;
    expectAllClose(layer.apply(x, { training: false }) as tf.Tensor, trainingOut, 1e-5, 1e-5);

    // x[:, 1, ...] = 0: with no training the mask changes nothing.
    const zeroed = tf.tidy(() => {
      const keep = tf.buffer(shape.slice(0, 2).concat(shape.slice(2).map(() => 1)));
      for (let b = 0; b < shape[0]; b++) for (let s = 0; s < shape[1]; s++) keep.set(s === 1 ? 0 : 1, b, s, ...shape.slice(2).map(() => 0));
      return tf.mul(x, keep.toTensor());
    });
    const mask = kerasMask(zeroed);
    const unmaskedOut = layer.apply(zeroed, { training: false }) as tf.Tensor;
    expectAllClose(layer.apply(zeroed, { training: false, mask }) as tf.Tensor, unmaskedOut);
    // Masked training output differs from the inference output.
    expect(maxAbsDiff(layer.apply(zeroed, { training: true, mask }) as tf.Tensor, unmaskedOut)).toBeGreaterThan(1e-3);
  });
});

describe('test_input_fully_masked', () => {
  it.each([false, true])('synchronized=%p: output zeros', (synchronized) => {
    const norm = bn({ scale: false, center: false, synchronized });
    const y = norm.apply(tf.zeros([4, 5]), { mask: tf.zeros([4]), training: true }) as tf.Tensor;
    expectAllClose(y, tf.zeros([4, 5]));
  });

  it('deliberate difference (README): a fully masked batch leaves the moving statistics where they were (Keras pulls them toward 0)', () => {
    const norm = bn({ scale: false, center: false, momentum: 0.5 });
    norm.apply(tf.randomNormal([4, 5], 3, 2, 'float32', 1), { training: true });
    const before = norm.getWeights().map(values);
    norm.apply(tf.zeros([4, 5]), { mask: tf.zeros([4]), training: true });
    expect(norm.getWeights().map(values)).toEqual(before);
  });
});

describe('test_bachnorm_ignore_masked_values', () => {
  // run_eagerly (True/False in Keras) has no tfjs counterpart: tfjs always runs eagerly.
  it.each([0.0, 0.1, 1])('mask_value=%p', async (maskValue) => {
    const row = [[1, 5], [2, 5], [maskValue, maskValue], [maskValue, maskValue]];
    const padded = tf.tensor3d(Array.from({ length: 10 }, () => row));
    const inputs = tf.input({ shape: [null, 2] });
    const masked = tf.layers.masking({ maskValue }).apply(inputs);
    const layer = bn({ momentum: 0 });
    const model = tf.model({ inputs, outputs: layer.apply(masked) as tf.SymbolicTensor });
    model.compile({ optimizer: 'rmsprop', loss: 'meanSquaredError' });
    await model.fit(padded, padded, { batchSize: 10, epochs: 5, verbose: 0 });
    const [, , movingMean, movingVariance] = layer.getWeights();
    expectAllClose(movingMean, [1.5, 5.0]);
    expectAllClose(movingVariance, [0.25, 0.0]);
  });
});

test('test_trainable_behavior', () => {
  const layer = bn({ axis: -1, momentum: 0.8, epsilon: 1e-7 });
  layer.build([1, 4, 4, 3]);
  layer.trainable = false;
  expect(layer.weights.length).toBe(4);
  expect(layer.trainableWeights.length).toBe(0);
  expect(layer.nonTrainableWeights.length).toBe(4);
  const x = tf.randomNormal([200, 4, 4, 3], 5, 10, 'float32', 5);
  expectAllClose(layer.apply(x, { training: true }) as tf.Tensor, x, 1e-5, 1e-6);

  layer.trainable = true;
  expect(layer.weights.length).toBe(4);
  expect(layer.trainableWeights.length).toBe(2);
  expect(layer.nonTrainableWeights.length).toBe(2);
  let out = x;
  for (let i = 0; i < 10; i++) out = layer.apply(x, { training: true }) as tf.Tensor;
  const [gamma, beta] = layer.getWeights();
  const normed = tf.div(tf.sub(out, beta), gamma);
  const { mean, variance } = tf.moments(normed, [0, 1, 2]);
  expectAllClose(mean, 0, 1e-3);
  expectAllClose(tf.sqrt(variance), 1, 1e-3);
});

test('test_large_value_within_autocast_scope (no float16 autocast in tfjs: the float32 variable holds 70000)', () => {
  const layer = bn({});
  layer.build([1, 4, 4, 3]);
  const w = layer.getWeights();
  layer.setWeights([w[0], w[1], w[2], tf.fill([3], 70000)]);
  expectAllClose(layer.getWeights()[3], [70000, 70000, 70000]);
});

test('test_masked_broadcast_normalization', () => {
  const x = tf.ones([1, 2, 3, 4]);
  const mask = tf.ones([1, 2, 1]);
  const layer = bn({ axis: -1, momentum: 0, epsilon: 1e-3 });
  const y = layer.apply(x, { training: true, mask }) as tf.Tensor;
  expectAllClose(tf.mean(y, [0, 1, 2]), tf.zeros([4]), 1e-6);
  expectAllClose(y, tf.zerosLike(y), 1e-6);
  const [, , movingMean, movingVariance] = layer.getWeights();
  expectAllClose(movingMean, tf.ones([4]), 1e-6);
  expectAllClose(movingVariance, tf.zeros([4]), 1e-6);
});

describe('batch renormalization (Keras 3 renorm cases)', () => {
  /** A layer's weight values by name (gamma, moving_stddev, ...). */
  const weight = (layer: tf.layers.Layer, name: string) => {
    const w = layer.weights.find((v) => v.originalName.split('/').pop() === name);
    if (w == null) throw new Error(`no weight ${name}`);
    return w.read();
  };

  it.each([
    [{ center: true, scale: true, renorm: true }, [2, 3]],
    [{ center: true, scale: true, renorm: true, renormClipping: { rmax: 3.0, rmin: 0.3, dmax: 5.0 } }, [2, 4, 4, 3]],
  ])('test_renorm_basics %p on %p', (init, shape) => {
    const layer = bn(init as never);
    const y = layer.apply(tf.randomNormal(shape, 0, 1, 'float32', 8), { training: true }) as tf.Tensor;
    expect(y.shape).toEqual(shape);
    expect(layer.trainableWeights.length).toBe(2);
    // moving_mean, moving_variance, moving_stddev, renorm_mean, renorm_stddev
    expect(layer.nonTrainableWeights.length).toBe(5);
    expect(layer.losses.length).toBe(0);
    expect(layer.supportsMasking).toBe(true);
  });

  it.each([
    [{ random_key: 1.0 }, 'renormClipping keys among rmax, rmin, dmax, but received key(s) random_key'],
    [{ rmax: 0.0, rmin: 1.0 }, 'renormClipping.rmax >= rmin, but received rmax 0, rmin 1'],
    [{ rmax: 1.0, dmax: -1.0 }, 'renormClipping.dmax >= 0, but received dmax -1'],
  ])('test_renorm_invalid_clipping_keys %p (the message in this package\'s format)', (clipping, message) => {
    expect(() => bn({ name: 'rn', renorm: true, renormClipping: clipping as never })).toThrow(`BatchNormalization layer 'rn': expected ${message}.`);
  });

  it('test_renorm_stddev_initializer', () => {
    const layer = bn({ renorm: true, movingVarianceInitializer: tf.initializers.constant({ value: 4 }) });
    layer.build([null, 5] as never);
    expectAllClose(weight(layer, 'moving_stddev'), Array(5).fill(2), 1e-6);
    expectAllClose(weight(layer, 'renorm_stddev'), Array(5).fill(2), 1e-6);
  });

  it('test_renorm_inference', () => {
    const plain = bn({ renorm: false });
    const renorm = bn({ renorm: true });
    plain.build([null, 10] as never);
    renorm.build([null, 10] as never);
    const values4 = [0, 1, 2, 3].map((k) => tf.randomNormal([10], 0, 1, 'float32', 20 + k));
    values4[3] = tf.abs(values4[3]); // a variance
    plain.setWeights(values4);
    renorm.setWeights([...values4, ...renorm.getWeights().slice(4)]);
    const x = tf.randomNormal([4, 10], 0, 1, 'float32', 30);
    expectAllClose(renorm.apply(x, { training: false }) as tf.Tensor, plain.apply(x, { training: false }) as tf.Tensor, 1e-5, 1e-5);
  });

  it('test_renorm_correctness', () => {
    const epsilon = 1e-3;
    const momentum = 0.9;
    const renormMomentum = 0.8;
    const layer = bn({ axis: -1, epsilon, momentum, renorm: true, renormMomentum });
    layer.build([null, 3] as never);
    // Initial values drawn as Keras's case draws them (its seed is numpy's; these are seeded tfjs draws).
    const initMovingMean = tf.randomNormal([3], 0, 1, 'float32', 1337);
    const initMovingVar = tf.abs(tf.randomNormal([3], 1, 0.5, 'float32', 1338));
    const initMovingStddev = tf.sqrt(initMovingVar);
    const initRenormMean = tf.randomNormal([3], 0, 1, 'float32', 1339);
    const initRenormStddev = tf.add(tf.abs(tf.randomNormal([3], 1, 0.5, 'float32', 1340)), 0.1);
    const initGamma = tf.randomNormal([3], 1, 0.1, 'float32', 1341);
    const initBeta = tf.randomNormal([3], 0, 0.1, 'float32', 1342);
    // Weight order: gamma, beta, moving_mean, moving_variance, moving_stddev, renorm_mean, renorm_stddev.
    layer.setWeights([initGamma, initBeta, initMovingMean, initMovingVar, initMovingStddev, initRenormMean, initRenormStddev]);

    const x = tf.tensor2d([[4.0, 6.0, 2.0], [8.0, -2.0, 5.0], [6.0, 4.0, 3.0]]);
    const { mean: batchMean, variance: batchVar } = tf.moments(x, 0);
    const batchStddev = tf.sqrt(tf.add(batchVar, epsilon));
    const r = tf.div(batchStddev, initRenormStddev);
    const d = tf.div(tf.sub(batchMean, initRenormMean), initRenormStddev);
    const expected = tf.add(tf.mul(tf.add(tf.mul(tf.div(tf.sub(x, batchMean), batchStddev), r), d), initGamma), initBeta);
    expectAllClose(layer.apply(x, { training: true }) as tf.Tensor, expected, 1e-5);

    const ema = (init: tf.Tensor, batch: tf.Tensor, m: number) => tf.add(tf.mul(init, m), tf.mul(batch, 1 - m));
    expectAllClose(weight(layer, 'renorm_mean'), ema(initRenormMean, batchMean, renormMomentum), 1e-5);
    expectAllClose(weight(layer, 'renorm_stddev'), ema(initRenormStddev, batchStddev, renormMomentum), 1e-5);
    expectAllClose(weight(layer, 'moving_mean'), ema(initMovingMean, batchMean, momentum), 1e-5);
    const expectedMovingStddev = ema(initMovingStddev, batchStddev, momentum);
    expectAllClose(weight(layer, 'moving_stddev'), expectedMovingStddev, 1e-5);
    expectAllClose(weight(layer, 'moving_variance'), tf.sub(tf.square(expectedMovingStddev), epsilon), 1e-5);
  });

  it('test_serialization', () => {
    const layer = bn({ renorm: true, renormClipping: { rmax: 3.0, rmin: 0.3, dmax: 5.0 }, renormMomentum: 0.95 });
    const config = layer.getConfig();
    expect(BatchNormalization.fromConfig(BatchNormalization, config).getConfig()).toEqual(config);
  });
});
