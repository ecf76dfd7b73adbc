/**
 * The BatchNormalization cases of tfjs-layers' own suite (tfjs-layers/src/layers/normalization_test.ts,
 * tensorflow/tfjs), run against this package: their inputs and expected numbers, our code.
 *
 * - `normalizeBatchInTraining` and `batchNormalization` there are tfjs's internal functions; here the
 *   same numbers go through `batchNormTraining` / `batchNormInference`. Their cases with several
 *   feature axes ("broadcasting": gamma of shape [2, 2]) or per-element statistics are run on the
 *   flattened features, since this package (like Keras 3) normalizes one feature axis.
 * - Layer cases use this package's layer where they use `tf.layers.batchNormalization`.
 */
import * as tf from '@tensorflow/tfjs';
import { batchNormalization, batchNormInference, batchNormTraining, BatchNormalization } from '../src';
import { convertNormalization } from '../src/convert';
import { useBackend } from './helpers/tensors';

beforeAll(() => useBackend('cpu'));

/** Their expectTensorsClose: absolute tolerance 1e-3 on float32 by default. */
function expectClose(actual: tf.Tensor | number[], expected: tf.Tensor | number[], tol = 1e-3): void {
  const a = Array.from(actual instanceof tf.Tensor ? actual.dataSync() : actual);
  const e = Array.from(expected instanceof tf.Tensor ? expected.dataSync() : expected);
  if (actual instanceof tf.Tensor && expected instanceof tf.Tensor) expect(actual.shape).toEqual(expected.shape);
  expect(a.length).toBe(e.length);
  a.forEach((v, i) => expect(Math.abs(v - e[i])).toBeLessThanOrEqual(tol));
}

describe('normalizeBatchInTraining', () => {
  const x2 = [[1, 2, 3, 4], [2, 4, 6, 8], [12, 11, 10, 9]];
  const normed2 = [
    [-0.805371, -0.9502233, -1.1624058, -1.3885813],
    [-0.6040282, -0.4319197, -0.11624074, 0.46286058],
    [1.4093992, 1.3821429, 1.2786462, 0.92572117],
  ];
  const mean2 = [5.0, 5.6666665, 6.3333335, 7.0];
  const variance2 = [24.666666, 14.888889, 8.222222, 4.6666665];

  it('2D, no broadcasting', () => {
    const { y, mean, variance } = batchNormTraining({ x: tf.tensor2d(x2), gamma: tf.ones([4]), beta: tf.zeros([4]), axis: 1, epsilon: 1e-3 });
    expectClose(y, tf.tensor2d(normed2));
    expectClose(mean, mean2);
    expectClose(variance, variance2);
  });

  it('3D, no broadcasting', () => {
    const x = tf.tensor3d([[[1, 2], [3, 4]], [[2, 4], [6, 8]], [[12, 11], [10, 9]]]);
    const { y, mean, variance } = batchNormTraining({ x, gamma: tf.ones([2]), beta: tf.zeros([2]), axis: 2, epsilon: 1e-3 });
    expectClose(y, tf.tensor3d([
      [[-1.1355163, -1.3552775], [-0.6488664, -0.7297648]],
      [[-0.8921913, -0.7297648], [0.08110833, 0.5212605]],
      [[1.5410578, 1.4595294], [1.0544081, 0.8340168]],
    ]));
    expectClose(mean, [5.6666665, 6.3333335]);
    expectClose(variance, [16.88889, 10.222222]);
  });

  // Features of shape [2, 2] (reduction over axis 0, or axes 0 and 1 of a [1, 3, 2, 2] input):
  // the same statistics as the 2-D case on the flattened features.
  it.each([
    ['3D, broadcasting', [3, 2, 2]],
    ['4D, broadcasting', [1, 3, 2, 2]],
  ])('%s (flattened features)', (_, shape) => {
    const x = tf.reshape(tf.tensor2d(x2), [3, 4]);
    const { y, mean, variance } = batchNormTraining({ x, gamma: tf.ones([4]), beta: tf.zeros([4]), axis: 1, epsilon: 1e-3 });
    expectClose(tf.reshape(y, shape), tf.reshape(tf.tensor2d(normed2), shape));
    expectClose(tf.reshape(mean, [2, 2]), tf.tensor2d([[5, 5.6666665], [6.3333335, 7]]));
    expectClose(tf.reshape(variance, [2, 2]), tf.tensor2d([[24.666666, 14.888889], [8.222222, 4.6666665]]));
  });
});

describe('batchNormalization (inference)', () => {
  /** Runs their case; per-element statistics become one feature per element. */
  function infer(x: tf.Tensor, mean: tf.Tensor, variance: tf.Tensor, beta: tf.Tensor | null, gamma: tf.Tensor | null,
    epsilon: number): tf.Tensor {
    if (mean.rank === 1) {
      return batchNormInference({ x, gamma, beta, axis: x.rank - 1, epsilon }, mean, variance);
    }
    const flat = (t: tf.Tensor | null) => (t == null ? null : tf.reshape(t, [t.size]));
    const y = batchNormInference({ x: tf.reshape(x, [1, x.size]), gamma: flat(gamma), beta: flat(beta), axis: 1, epsilon },
      flat(mean)!, flat(variance)!);
    return tf.reshape(y, x.shape);
  }
  const x2 = () => tf.tensor2d([[10, 20], [30, 40]]);
  const m2 = () => tf.tensor2d([[5, 5], [5, 5]]);
  const v2 = () => tf.tensor2d([[4, 16], [4, 16]]);
  const x3 = () => tf.tensor3d([[[10, 20], [30, 40]], [[10, 20], [30, 40]]]);
  const m3 = () => tf.tensor3d([[[5, 5], [5, 5]], [[5, 5], [5, 5]]]);
  const v3 = () => tf.tensor3d([[[4, 16], [4, 16]], [[16, 25], [16, 25]]]);
  const x4 = () => tf.tensor4d([[[[10, 20], [30, 40]], [[10, 20], [30, 40]]], [[[-10, -20], [-30, -40]], [[-10, -20], [-30, -40]]]]);
  const m4 = () => tf.tensor4d([[[[5, 5], [5, 5]], [[5, 5], [5, 5]]], [[[-5, -5], [-5, -5]], [[-5, -5], [-5, -5]]]]);
  const v4 = () => tf.tensor4d([[[[4, 16], [4, 16]], [[16, 25], [16, 25]]], [[[4, 16], [4, 16]], [[16, 25], [16, 25]]]]);

  it('2D, no broadcast, no gamma, no beta', () => {
    expectClose(infer(x2(), m2(), v2(), null, null, 0), tf.tensor2d([[2.5, 3.75], [12.5, 8.75]]));
  });
  it('2D, no broadcast, no gamma, no beta, custom epsilon', () => {
    expectClose(infer(tf.tensor2d([[30, 30], [60, 60]]), tf.zeros([2, 2]), tf.fill([2, 2], 7), null, null, 2),
      tf.tensor2d([[10, 10], [20, 20]]));
  });
  it('2D, no broadcast, gamma, no beta', () => {
    expectClose(infer(x2(), m2(), v2(), null, tf.tensor2d([[1, 2], [3, 4]]), 0), tf.tensor2d([[2.5, 7.5], [37.5, 35]]));
  });
  it('2D, no broadcast, gamma, beta', () => {
    expectClose(infer(x2(), m2(), v2(), tf.tensor2d([[-1, -1], [-2, -2]]), tf.tensor2d([[1, 2], [3, 4]]), 0),
      tf.tensor2d([[1.5, 6.5], [35.5, 33]]));
  });
  it('2D, broadcast, gamma, beta', () => {
    expectClose(infer(x2(), tf.tensor1d([2, 5]), tf.tensor1d([1, 4]), tf.tensor1d([-1, -2]), tf.tensor1d([3, 4]), 0),
      tf.tensor2d([[23, 28], [83, 68]]));
  });
  it('3D, no broadcast, no gamma, no beta', () => {
    expectClose(infer(x3(), m3(), v3(), null, null, 0), tf.tensor3d([[[2.5, 3.75], [12.5, 8.75]], [[1.25, 3], [6.25, 7]]]));
  });
  it('3D, no broadcast, gamma, beta', () => {
    const gamma = tf.tensor3d([[[2, 2], [2, 2]], [[4, 4], [4, 4]]]);
    const beta = tf.tensor3d([[[-1, -1], [-2, -2]], [[-1, -1], [-2, -2]]]);
    expectClose(infer(x3(), m3(), v3(), beta, gamma, 0), tf.tensor3d([[[4, 6.5], [23, 15.5]], [[4, 11], [23, 26]]]));
  });
  it('3D, broadcast, gamma, beta', () => {
    expectClose(infer(x3(), tf.tensor1d([5, 5]), tf.tensor1d([4, 16]), tf.tensor1d([-1, -2]), tf.tensor1d([2, 4]), 0),
      tf.tensor3d([[[4, 13], [24, 33]], [[4, 13], [24, 33]]]));
  });
  it('4D, no broadcast, no gamma, no beta', () => {
    expectClose(infer(x4(), m4(), v4(), null, null, 0), tf.tensor4d([
      [[[2.5, 3.75], [12.5, 8.75]], [[1.25, 3], [6.25, 7]]],
      [[[-2.5, -3.75], [-12.5, -8.75]], [[-1.25, -3], [-6.25, -7]]],
    ]));
  });
  it('4D, no broadcast, gamma, beta', () => {
    const gamma = tf.tensor4d([[[[2, 2], [2, 2]], [[4, 4], [4, 4]]], [[[2, 2], [2, 2]], [[4, 4], [4, 4]]]]);
    const beta = tf.tensor4d([[[[-1, -1], [-2, -2]], [[-1, -1], [-2, -2]]], [[[1, 1], [2, 2]], [[1, 1], [2, 2]]]]);
    expectClose(infer(x4(), m4(), v4(), beta, gamma, 0), tf.tensor4d([
      [[[4, 6.5], [23, 15.5]], [[4, 11], [23, 26]]],
      [[[-4, -6.5], [-23, -15.5]], [[-4, -11], [-23, -26]]],
    ]));
  });
  it('4D, broadcast, gamma, beta', () => {
    const x = tf.tensor4d([[[[10, 20], [30, 40]]], [[[10, 20], [30, 40]]]]);
    expectClose(infer(x, tf.tensor1d([5, 5]), tf.tensor1d([4, 16]), tf.tensor1d([-1, -2]), tf.tensor1d([2, 4]), 0),
      tf.tensor4d([[[[4, 13], [24, 33]]], [[[4, 13], [24, 33]]]]));
  });
});

describe('BatchNormalization Layers: Symbolic', () => {
  it.each([[[4, 6]], [[2, 3, 4]], [[2, 3, 4, 5]]])('shape=%p', (shape) => {
    const x = tf.input({ batchShape: shape });
    const y = batchNormalization({}).apply(x) as tf.SymbolicTensor;
    expect(y.dtype).toBe(x.dtype);
    expect(y.shape).toEqual(x.shape);
  });

  it('Undetermined dim axis leads to an error (ours names the layer; theirs says "Axis 0 ... should have a defined dimension")', () => {
    const x = tf.input({ batchShape: [null, 2, 3] });
    const layer = batchNormalization({ axis: 0, name: 'bn_axis0' });
    expect(() => layer.apply(x)).toThrow(
      "BatchNormalization layer 'bn_axis0': expected a defined size on feature axis 0, but received shape [null,2,3].");
  });

  it('batchNormalization constructor works without arg', () => {
    expect(batchNormalization().getConfig().axis).toBe(-1);
  });

  // Their JSON (Keras 2.2.4-tf) names the stock class, which stays tfjs's built-in; converted, it is ours.
  it('Deserialize model with BatchNorm Layer (converted to this package\'s layer)', async () => {
    const init = (c: string) => ({ class_name: c, config: c === 'GlorotUniform' ? { seed: null } : {} });
    const dense = (name: string, units: number, activation: string, extra: object = {}) => ({ class_name: 'Dense', config: {
      name, trainable: true, dtype: 'float32', units, activation, use_bias: true, kernel_initializer: init('GlorotUniform'),
      bias_initializer: init('Zeros'), kernel_regularizer: null, bias_regularizer: null, activity_regularizer: null,
      kernel_constraint: null, bias_constraint: null, ...extra } });
    const json = { class_name: 'Sequential', config: { name: 'sequential', layers: [
      dense('dense', 10, 'linear', { batch_input_shape: [null, 5] }),
      { class_name: 'BatchNormalization', config: { name: 'batch_normalization', trainable: true, dtype: 'float32', axis: [1],
        momentum: 0.99, epsilon: 0.001, center: true, scale: true, beta_initializer: init('Zeros'), gamma_initializer: init('Ones'),
        moving_mean_initializer: init('Zeros'), moving_variance_initializer: init('Ones'), beta_regularizer: null,
        gamma_regularizer: null, beta_constraint: null, gamma_constraint: null } },
      dense('dense_1', 1, 'sigmoid'),
    ] }, keras_version: '2.2.4-tf', backend: 'tensorflow' };
    const model = (await convertNormalization(await tf.models.modelFromJSON(json as never), 'custom', ['batchNormalization'])).model;
    expect(model.layers[1]).toBeInstanceOf(BatchNormalization);
    expect((model.predict(tf.zeros([3, 5])) as tf.Tensor).shape).toEqual([3, 1]);
    expect(model.layers[1].getWeights().length).toBe(4);
  });
});

describe('BatchNormalization Layers: Tensor', () => {
  const inputs: Record<number, () => tf.Tensor> = {
    2: () => tf.tensor2d([[1, 2], [3, 4]]),
    3: () => tf.tensor3d([[[1, 2], [3, 4]], [[-1, -2], [-3, -4]]]),
    4: () => tf.tensor4d([[[[1, 2], [3, 4]], [[-1, -2], [-3, -4]]], [[[-1, -2], [-3, -4]], [[1, 2], [3, 4]]]]),
  };
  for (const dim of [2, 3, 4]) {
    for (const axis of [0, -1]) {
      it(`Inference, ${dim}D, axis=${axis}`, () => {
        const x = inputs[dim]();
        expectClose(batchNormalization({ axis }).apply(x, { training: false }) as tf.Tensor, x, 0.01);
      });
    }
  }

  it('no center', () => {
    const layer = batchNormalization({ center: false, axis: 0 });
    const x = tf.tensor2d([[1, 2], [3, 4]]);
    expectClose(layer.apply(x) as tf.Tensor, x, 0.01);
    const w = layer.getWeights();
    expect(w.length).toBe(3);
    expectClose(w[0], tf.onesLike(w[0]));
    expectClose(w[1], tf.zerosLike(w[1]));
    expectClose(w[2], tf.onesLike(w[2]));
  });

  it('no scale', () => {
    const layer = batchNormalization({ scale: false, axis: 0 });
    const x = tf.tensor2d([[1, 2], [3, 4]]);
    expectClose(layer.apply(x) as tf.Tensor, x, 0.01);
    const w = layer.getWeights();
    expect(w.length).toBe(3);
    expectClose(w[0], tf.zerosLike(w[0]));
    expectClose(w[1], tf.zerosLike(w[1]));
    expectClose(w[2], tf.onesLike(w[2]));
  });

  it('no center, no scale', () => {
    const layer = batchNormalization({ scale: false, center: false });
    const x = tf.tensor2d([[1, 2], [3, 4]]);
    expectClose(layer.apply(x) as tf.Tensor, x, 0.01);
    const w = layer.getWeights();
    expect(w.length).toBe(2);
    expectClose(w[0], tf.zerosLike(w[0]));
    expectClose(w[1], tf.onesLike(w[1]));
  });

  const xs4 = () => tf.tensor2d([[1, 2, 3, 4], [2, 4, 6, 8], [12, 11, 10, 9]]);

  it('Fit: 2D, BatchNorm Layer Only', async () => {
    const layer1 = batchNormalization({ inputShape: [4] });
    const model = tf.sequential({ layers: [layer1] });
    model.compile({ loss: 'meanSquaredError', optimizer: 'sgd' });
    const history = await model.fit(xs4(), tf.zeros([3, 4]), { epochs: 2, batchSize: 3, verbose: 0 });
    expect(history.history['loss'][0]).toBeCloseTo(0.9998891353607178);
    expect(history.history['loss'][1]).toBeCloseTo(0.9899163246154785);
    const [gamma, beta, mean, variance] = layer1.getWeights();
    expectClose(gamma, [0.9900254, 0.9900257, 0.9900262, 0.9900271]);
    expectClose(beta, [2.9802322e-10, 1.4901161e-10, 9.1269614e-10, -7.4505802e-10]);
    expectClose(mean, [0.09949999, 0.11276666, 0.12603334, 0.13929999]);
    expectClose(variance, [1.4709667, 1.2763889, 1.1437222, 1.0729666]);
  });

  it('Fit: 2D, BatchNorm Layer between two Dense Layers', async () => {
    const layer1 = tf.layers.dense({ units: 4, kernelInitializer: 'ones', useBias: false, inputShape: [4] });
    const layer2 = batchNormalization({ inputShape: [4] });
    const layer3 = tf.layers.dense({ units: 1, kernelInitializer: 'ones', useBias: false });
    const model = tf.sequential({ layers: [layer1, layer2, layer3] });
    model.compile({ loss: 'meanSquaredError', optimizer: tf.train.sgd(0.1) });
    const history = await model.fit(xs4(), tf.zeros([3, 1]), { epochs: 3, batchSize: 3, verbose: 0 });
    expect(history.history['loss'][0]).toBeCloseTo(15.999907493591309);
    expect(history.history['loss'][1]).toBeCloseTo(0.025602197274565697);
    expect(history.history['loss'][2]).toBeCloseTo(0.022478966042399406);
    expectClose(layer1.getWeights()[0], tf.tensor2d([
      [0.99999833, 0.99999833, 0.99999833, 0.99999833], [0.9999987, 0.9999987, 0.9999987, 0.9999987],
      [0.999999, 0.999999, 0.999999, 0.999999], [0.99999934, 0.99999934, 0.99999934, 0.99999934],
    ]));
    const [gamma, beta, mean, variance] = layer2.getWeights();
    expectClose(gamma, [0.18779878, 0.18779878, 0.18779878, 0.18779878]);
    expectClose(beta, [5.5367128e-08, 5.5367128e-08, 5.5367128e-08, 5.5367128e-08]);
    expectClose(mean, [0.7128234, 0.7128234, 0.7128234, 0.7128234]);
    expectClose(variance, [6.276868, 6.276868, 6.276868, 6.276868]);
    expectClose(layer3.getWeights()[0], tf.tensor2d([[0.18779878], [0.18779878], [0.18779878], [0.18779878]]));
  });

  const ramp = () => tf.tensor4d(Array.from({ length: 50 }, (_, i) => i), [2, 5, 5, 1]);

  it('Fit: With conv2d layer', async () => {
    const model = tf.sequential();
    model.add(tf.layers.conv2d({ filters: 4, kernelSize: 2, kernelInitializer: 'ones', biasInitializer: 'zeros', inputShape: [5, 5, 1] }));
    model.add(batchNormalization());
    model.add(tf.layers.flatten());
    model.add(tf.layers.dense({ units: 1, kernelInitializer: 'ones', biasInitializer: 'zeros' }));
    model.compile({ loss: 'meanSquaredError', optimizer: 'sgd' });
    const h = await model.fit(ramp(), tf.tensor2d([0, 1], [2, 1]), { epochs: 2, verbose: 0 });
    expectClose(h.history.loss as number[], [3332.9971, 2122.5361], 0.01);
  });

  it('Fit: With conv2dTranspose layer', async () => {
    const model = tf.sequential();
    model.add(tf.layers.conv2dTranspose({ filters: 4, kernelSize: 2, kernelInitializer: 'ones', biasInitializer: 'zeros', inputShape: [5, 5, 1] }));
    model.add(batchNormalization());
    model.add(tf.layers.flatten());
    model.add(tf.layers.dense({ units: 1, kernelInitializer: 'ones', biasInitializer: 'zeros' }));
    model.compile({ loss: 'meanSquaredError', optimizer: 'sgd' });
    const xs = tf.div(tf.sub(ramp(), 25), 100);
    const h = await model.fit(xs, tf.tensor2d([0, 1], [2, 1]), { epochs: 2, verbose: 0 });
    expect(h.history.loss[0]).toBeCloseTo(13922.4492);
    expect(h.history.loss[1]).toBeCloseTo(106532048, -3);
    const w = model.layers[1].getWeights();
    expect(w.length).toBe(4);
    expectClose(w[0], tf.fill([4], 7661.0874), 1e-2);
    expectClose(w[1], tf.fill([4], -118.35103), 1e-2);
    expectClose(w[2], tf.fill([4], -0.00026271));
    expectClose(w[3], tf.fill([4], 0.98333836));
  });

  it('Fit: 3D, BatchNorm Layer Only', async () => {
    const layer1 = batchNormalization({ inputShape: [2, 2] });
    const model = tf.sequential({ layers: [layer1] });
    model.compile({ loss: 'meanSquaredError', optimizer: 'sgd' });
    const xs = tf.tensor3d([[[1, 2], [3, 4]], [[2, 4], [6, 8]], [[12, 11], [10, 9]]]);
    const history = await model.fit(xs, tf.zeros([3, 2, 2]), { epochs: 2, batchSize: 3, verbose: 0 });
    expect(history.history['loss'][0]).toBeCloseTo(0.9999215006828308);
    expect(history.history['loss'][1]).toBeCloseTo(0.980024516582489);
    const [gamma, beta, mean, variance] = layer1.getWeights();
    expectClose(gamma, [0.98010117, 0.98010194]);
    expectClose(beta, [-1.1175870e-09, 8.1956386e-10]);
    expectClose(mean, [0.11276666, 0.12603334]);
    expectClose(variance, [1.3161889, 1.1835222], 1e-5);
  });
});
