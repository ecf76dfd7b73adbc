/**
 * LayerNormalization, GroupNormalization and InstanceNormalization: outputs and gradients for x,
 * gamma and beta against plain references (tf autodiff, and float64 central finite
 * differences), for ranks 2 to 5, several axes and group settings, on the cpu and wasm kernels
 * and on the composite path; LayerNormalization against tf.layers.layerNormalization; no leaks.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { GroupNormalization, groupNormalization, InstanceNormalization, instanceNormalization, layerNormalization } from '../src';
import { NormalizationBase } from '../src/layer/normalization_base';
import { groupView, layerView } from '../src/core/view';
import { compositeForward } from '../src/ops/composite';
import { normAttrs } from '../src/kernels/names';
import { finiteDifferences, float64Loss, NormSpec, referenceNorm } from './reference/reference_norm';
import { input, lossWeights, relError, useBackend } from './helpers/tensors';

interface Case {
  name: string;
  shape: number[];
  spec: NormSpec;
  make: () => NormalizationBase;
}

const CASES: Case[] = [
  { name: 'LN rank 2, axis -1', shape: [6, 10], spec: { kind: 'layer', axes: [-1] }, make: () => layerNormalization() },
  { name: 'LN rank 3, axis -1', shape: [3, 4, 5], spec: { kind: 'layer', axes: [-1] }, make: () => layerNormalization() },
  { name: 'LN rank 3, axes [1, 2]', shape: [3, 4, 5], spec: { kind: 'layer', axes: [1, 2] }, make: () => layerNormalization({ axis: [1, 2] }) },
  { name: 'LN rank 3, axis 1 (not last)', shape: [3, 4, 5], spec: { kind: 'layer', axes: [1] }, make: () => layerNormalization({ axis: 1 }) },
  { name: 'LN rank 4, axes [-1, -3, -2] (unsorted)', shape: [2, 3, 2, 4], spec: { kind: 'layer', axes: [1, 2, 3] }, make: () => layerNormalization({ axis: [-1, -3, -2] }) },
  { name: 'LN rank 5, axis -1', shape: [2, 2, 2, 2, 4], spec: { kind: 'layer', axes: [-1] }, make: () => layerNormalization() },
  { name: 'GN rank 2, groups 2', shape: [4, 8], spec: { kind: 'group', axis: -1, groups: 2 }, make: () => groupNormalization({ groups: 2 }) },
  { name: 'GN rank 4 NHWC, groups 4', shape: [2, 3, 3, 8], spec: { kind: 'group', axis: -1, groups: 4 }, make: () => groupNormalization({ groups: 4 }) },
  { name: 'GN rank 4 NCHW axis 1, groups 2', shape: [2, 4, 3, 3], spec: { kind: 'group', axis: 1, groups: 2 }, make: () => groupNormalization({ groups: 2, axis: 1 }) },
  { name: 'GN rank 5, groups 3', shape: [2, 2, 2, 2, 6], spec: { kind: 'group', axis: -1, groups: 3 }, make: () => groupNormalization({ groups: 3 }) },
  { name: 'GN groups 1 (one group)', shape: [2, 3, 6], spec: { kind: 'group', axis: -1, groups: 1 }, make: () => groupNormalization({ groups: 1 }) },
  { name: 'IN rank 4 NHWC', shape: [2, 3, 3, 4], spec: { kind: 'group', axis: -1, groups: 4 }, make: () => instanceNormalization() },
  { name: 'IN rank 3 axis 1', shape: [2, 3, 5], spec: { kind: 'group', axis: 1, groups: 3 }, make: () => instanceNormalization({ axis: 1 }) },
];

/** Builds the layer on `shape` and gives it random gamma and beta, so both matter. */
function built(c: Case): { layer: NormalizationBase; gamma: tf.Tensor; beta: tf.Tensor } {
  const layer = c.make();
  layer.build(c.shape);
  const [g, b] = layer.getWeights();
  const gamma = tf.randomUniform(g.shape, 0.5, 1.5, 'float32', 3);
  const beta = tf.randomUniform(b.shape, -1, 1, 'float32', 4);
  layer.setWeights([gamma, beta]);
  return { layer, gamma, beta };
}

/** Output and gradients for x, gamma, beta of sum(f(x, gamma, beta) * w). */
function outputAndGrads(f: (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.Tensor, x: tf.Tensor, gamma: tf.Tensor,
  beta: tf.Tensor, w: tf.Tensor): tf.Tensor[] {
  // In a tidy: the plain references may leave intermediates behind; the package's path has its own check.
  return tf.tidy(() => {
    const y = f(x, gamma, beta);
    const grads = tf.grads((a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(f(a, g, b), w)))([x, gamma, beta]);
    return [y, ...grads];
  });
}

/** The layer's own output and gradients, through its variables (as in training). */
function layerOutputAndGrads(layer: NormalizationBase, x: tf.Tensor, w: tf.Tensor): tf.Tensor[] {
  const y = layer.apply(x, { training: true }) as tf.Tensor;
  const [gammaVar, betaVar] = layer.trainableWeights.map((v) => (v as unknown as { val: tf.Variable }).val);
  const { value, grads } = tf.variableGrads(
    () => tf.sum(tf.mul(layer.apply(x, { training: true }) as tf.Tensor, w)) as tf.Scalar, [gammaVar, betaVar]);
  value.dispose();
  const dx = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(layer.apply(a, { training: true }) as tf.Tensor, w)))(x);
  return [y, dx, grads[gammaVar.name], grads[betaVar.name]];
}

describe.each(['cpu', 'wasm'] as const)('%s backend (kernels)', (backend) => {
  beforeAll(() => useBackend(backend));

  test.each(CASES.map((c) => [c.name, c] as const))('%s: output and gradients match the autodiff reference', (_, c) => {
    const before = tf.memory().numTensors;
    const { layer, gamma, beta } = built(c);
    const x = input(c.shape);
    const w = lossWeights(c.shape);
    const ours = layerOutputAndGrads(layer, x, w);
    const ref = outputAndGrads((a, g, b) => referenceNorm(a, g, b, c.spec), x, gamma, beta, w);
    const errors = tf.tidy(() => ours.map((t, i) => relError(tf.reshape(t, ref[i].shape), ref[i])));
    expect(errors[0]).toBeLessThan(1e-5); // y
    errors.slice(1).forEach((e) => expect(e).toBeLessThan(1e-4)); // dx, dgamma, dbeta
    tf.dispose([...ours, ...ref, x, w, gamma, beta]);
    layer.weights.forEach((v) => v.dispose());
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('composite path (every other backend)', () => {
  beforeAll(() => useBackend('cpu'));

  test.each(CASES.map((c) => [c.name, c] as const))('%s: the customGrad path matches the kernel path', (_, c) => {
    const { layer, gamma, beta } = built(c);
    const x = input(c.shape);
    const w = lossWeights(c.shape);
    const ours = layerOutputAndGrads(layer, x, w);
    const view = viewOf(layer, c);
    const composite = outputAndGrads((a, g, b) => {
      const [y, mean, variance] = compositeForward({ x: a, gamma: g, beta: b }, normAttrs(view, 1e-3, true));
      tf.dispose([mean, variance]);
      return y;
    }, x, gamma, beta, w);
    ours.forEach((t, i) => expect(relError(tf.reshape(composite[i], t.shape), t)).toBeLessThan(i === 0 ? 1e-5 : 1e-4));
    tf.dispose([...ours, ...composite, x, w, gamma, beta]);
    layer.weights.forEach((v) => v.dispose());
  });
});

/** The view the layer uses, rebuilt from the case (the layer computes it per call). */
function viewOf(layer: NormalizationBase, c: Case) {
  const rank = c.shape.length;
  if (c.spec.kind === 'layer') {
    const axes = c.spec.axes.map((a) => (a < 0 ? a + rank : a)).sort((a, b) => a - b);
    return layerView(c.shape, axes[0], axes[axes.length - 1]);
  }
  expect(layer instanceof GroupNormalization).toBe(true);
  const axis = c.spec.axis < 0 ? c.spec.axis + rank : c.spec.axis;
  return groupView(c.shape, axis, c.spec.groups);
}

describe('float64 central finite differences', () => {
  beforeAll(() => useBackend('cpu'));

  test.each(CASES.map((c) => [c.name, c] as const))('%s', (_, c) => {
    const { layer, gamma, beta } = built(c);
    const x = input(c.shape, 5, 0.5, 1);
    const w = lossWeights(c.shape);
    const [, dx, dgamma, dbeta] = layerOutputAndGrads(layer, x, w);
    const [xs, gs, bs, ws] = [x, gamma, beta, w].map((t) => Array.from(t.dataSync()));
    const loss = (xv: number[], gv: number[], bv: number[]) => float64Loss(xv, gv, bv, ws, c.shape, c.spec);
    const close = (analytic: tf.Tensor, numeric: number[]) =>
      expect(relError(analytic.reshape([-1]), tf.tensor(numeric))).toBeLessThan(2e-4);
    close(dx, finiteDifferences((v) => loss(v, gs, bs), xs));
    close(dgamma, finiteDifferences((v) => loss(xs, v, bs), gs));
    close(dbeta, finiteDifferences((v) => loss(xs, gs, v), bs));
  });
});

describe('LayerNormalization against tf.layers.layerNormalization', () => {
  beforeAll(() => useBackend('cpu'));

  test.each([
    [[8, 16], -1], [[2, 5, 6], -1], [[2, 5, 6], [1, 2]], [[2, 3, 4, 5], [-2, -1]],
  ] as const)('shape %p axis %p: output and gradients within 1e-5', (shape, axis) => {
    const ours = layerNormalization({ axis: axis as number | number[] });
    const stock = tf.layers.layerNormalization({ axis: axis as number | number[] });
    ours.build(shape as unknown as number[]);
    stock.build(shape as unknown as number[]);
    const [g, b] = stock.getWeights();
    const weights = [tf.randomUniform(g.shape, 0.5, 1.5, 'float32', 8), tf.randomUniform(b.shape, -1, 1, 'float32', 9)];
    ours.setWeights(weights);
    stock.setWeights(weights);
    const x = input(shape as unknown as number[]);
    const w = lossWeights(shape as unknown as number[]);
    const grad = (layer: tf.layers.Layer) => tf.grad((a: tf.Tensor) => tf.sum(tf.mul(layer.apply(a) as tf.Tensor, w)))(x);
    expect(relError(ours.apply(x) as tf.Tensor, stock.apply(x) as tf.Tensor)).toBeLessThan(1e-5);
    expect(relError(grad(ours), grad(stock))).toBeLessThan(1e-5);
  });
});

describe('arguments and errors', () => {
  beforeAll(() => useBackend('cpu'));
  const expectError = (f: () => unknown, kind: string, name: string, message: string) =>
    expect(f).toThrow(`${kind} layer '${name}': expected ${message}.`);

  test('GroupNormalization refuses groups that do not divide the channels, and bad groups', () => {
    expectError(() => groupNormalization({ groups: 3, name: 'g' }).build([2, 8]), 'GroupNormalization', 'g',
      'a number of groups that divides the 8 channels on axis 1, but received groups 3');
    expectError(() => groupNormalization({ groups: 16, name: 'g' }).build([2, 8]), 'GroupNormalization', 'g',
      'a number of groups that divides the 8 channels on axis 1, but received groups 16');
    expectError(() => groupNormalization({ groups: 0, name: 'g' }), 'GroupNormalization', 'g',
      'groups as a positive integer (or -1 for one group per channel), but received 0');
    // The Keras default of 32 groups needs 32 channels or a multiple.
    expect(() => groupNormalization().build([2, 16])).toThrow(/divides the 16 channels/);
  });

  test('InstanceNormalization accepts TF Addons\' groups -1 and refuses other groups', () => {
    expect(new InstanceNormalization({ groups: -1 }).groups).toBe(-1);
    expectError(() => instanceNormalization({ groups: 2, name: 'i' }), 'InstanceNormalization', 'i',
      'no groups, or groups -1 (one group per channel), but received groups 2');
  });

  test('LayerNormalization refuses axes that are not contiguous, repeated or out of range', () => {
    expectError(() => layerNormalization({ axis: [1, 3], name: 'l' }).build([2, 3, 4, 5]), 'LayerNormalization', 'l',
      'contiguous axes (e.g. [1, 2, 3]), but received axis [1,3]');
    expectError(() => layerNormalization({ axis: [1, -2], name: 'l' }).build([2, 3, 4]), 'LayerNormalization', 'l',
      'distinct axes in [0, 2] or [-3, -1] for rank 3, but received axis [1,-2]');
    expectError(() => layerNormalization({ axis: 3, name: 'l' }).build([2, 3, 4]), 'LayerNormalization', 'l',
      'distinct axes in [0, 2] or [-3, -1] for rank 3, but received axis 3');
    expectError(() => layerNormalization({ axis: 'x' as never, name: 'l' }), 'LayerNormalization', 'l',
      'axis as an integer or a list of integers, but received "x"');
  });

  test('center/scale false: no beta / gamma weights, and the output is plain xhat (scaled or shifted)', () => {
    const x = input([3, 8]);
    const plain = groupNormalization({ groups: 2, center: false, scale: false });
    expect((plain.apply(x) as tf.Tensor).shape).toEqual([3, 8]);
    expect(plain.getWeights()).toHaveLength(0);
    const ref = referenceNorm(x, tf.ones([8]), tf.zeros([8]), { kind: 'group', axis: -1, groups: 2 });
    expect(relError(plain.apply(x) as tf.Tensor, ref)).toBeLessThan(1e-5);
    const grad = tf.grad((a: tf.Tensor) => tf.sum(tf.square(plain.apply(a) as tf.Tensor)))(x);
    const refGrad = tf.grad((a: tf.Tensor) => tf.sum(tf.square(referenceNorm(a, tf.ones([8]), tf.zeros([8]),
      { kind: 'group', axis: -1, groups: 2 }))))(x);
    expect(relError(grad, refGrad)).toBeLessThan(1e-4);
  });

  test('rmsScaling (Keras 3): gamma only, y = gamma * x / sqrt(var + eps)', () => {
    const layer = layerNormalization({ rmsScaling: true });
    const x = input([4, 6]);
    const y = layer.apply(x) as tf.Tensor;
    expect(layer.getWeights().map((t) => t.shape)).toEqual([[6]]);
    const { variance } = tf.moments(x, -1, true);
    expect(relError(y, tf.div(x, tf.sqrt(tf.add(variance, 1e-3))))).toBeLessThan(1e-5);
  });
});

test('no tensors leak: forward, training step, and a failing call', async () => {
  await useBackend('cpu');
  const model = tf.sequential({ layers: [
    tf.layers.dense({ units: 8, inputShape: [4] }), layerNormalization(), groupNormalization({ groups: 2 }),
    tf.layers.reshape({ targetShape: [2, 4] }), instanceNormalization(), tf.layers.flatten(), tf.layers.dense({ units: 1 }),
  ] });
  model.compile({ optimizer: 'sgd', loss: 'meanSquaredError' });
  const x = input([5, 4]);
  const y = input([5, 1]);
  await model.fit(x, y, { epochs: 1, verbose: 0 });
  (model.predict(x) as tf.Tensor).dispose();
  const before = tf.memory().numTensors;
  for (let i = 0; i < 2; i++) {
    await model.trainOnBatch(x, y);
    (model.predict(x) as tf.Tensor).dispose();
  }
  const ln = model.layers[1];
  const wrong = tf.ones([2, 5]);
  expect(() => ln.call(wrong, {})).toThrow(`LayerNormalization layer '${ln.name}': expected 8 features on axis 1, but received shape [2,5].`);
  wrong.dispose();
  expect(tf.memory().numTensors).toBe(before);
  model.dispose();
});
