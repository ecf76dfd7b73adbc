/**
 * Keras semantics the layer shares with Keras 3 (and tfjs's built-in where it has them): axis 0,
 * Keras's mask layout, argument checking, epsilon >= 0, integer inputs, empty and fully masked
 * batches.
 */
import * as tf from '@tensorflow/tfjs';
import { BatchNormalization, BatchNormalizationArgs } from '../src';
import { referenceInference, referenceTraining } from './reference/reference_batch_norm';
import { input, relError, useBackend } from './helpers/tensors';

beforeAll(() => useBackend('cpu'));

const bn = (args: Record<string, unknown>) => new BatchNormalization(args as BatchNormalizationArgs);
const prefix = (name: string) => `BatchNormalization layer '${name}': expected`;
const values = (t: tf.Tensor) => Array.from(t.dataSync());

describe('axis 0', () => {
  it('normalizes each row over the other axes in training, uses the moving statistics in inference', () => {
    const layer = bn({ axis: 0, momentum: 0.5 });
    const x = input([3, 4, 2]);
    const { y, mean, variance } = referenceTraining(x, null, null, 0, 1e-3);
    expect(relError(layer.apply(x, { training: true }) as tf.Tensor, y)).toBeLessThan(1e-5);
    const [, , movingMean, movingVariance] = layer.getWeights();
    expect(relError(movingMean, tf.mul(mean, 0.5))).toBeLessThan(1e-5);
    expect(relError(movingVariance, tf.add(tf.mul(variance, 0.5), 0.5))).toBeLessThan(1e-5);
    expect(relError(layer.apply(x) as tf.Tensor, referenceInference(x, movingMean, movingVariance, null, null, 0, 1e-3)))
      .toBeLessThan(1e-5);
  });

  it('gives the gradient autodiff gives through the reference', () => {
    const layer = bn({ axis: 0 });
    const x = tf.variable(input([2, 3, 3], 2));
    const w = tf.randomUniform([2, 3, 3], -1, 1, 'float32', 3);
    const grad = (f: (v: tf.Tensor) => tf.Tensor) => tf.grad((v: tf.Tensor) => tf.sum(tf.mul(f(v), w)))(x);
    const ours = grad((v) => layer.apply(v, { training: true }) as tf.Tensor);
    const ref = grad((v) => referenceTraining(v, null, null, 0, 1e-3).y);
    expect(relError(ours, ref)).toBeLessThan(1e-5);
  });
});

describe('masks as Keras lays them out', () => {
  it('Masking -> BatchNormalization({axis: 1}) trains in a model; masked steps stay out of every channel\'s statistics', async () => {
    // [batch, channels 2, steps 3]: Masking's mask is [batch, 2] (a channel row of zeros is masked), expanded on the last axis.
    const xs = tf.tensor3d([
      [[1, 2, 3], [0, 0, 0]],
      [[4, 5, 7], [2, -1, 5]],
      [[0, 0, 0], [3, 3, 9]],
    ]);
    const inputs = tf.input({ shape: [2, 3] });
    const layer = bn({ axis: 1, momentum: 0 });
    const model = tf.model({ inputs, outputs: layer.apply(tf.layers.masking({}).apply(inputs)) as tf.SymbolicTensor });
    model.compile({ optimizer: tf.train.sgd(0), loss: 'meanSquaredError' });
    await model.fit(xs, tf.zeros([3, 2, 3]), { epochs: 1, batchSize: 3, verbose: 0 });
    const [, , movingMean, movingVariance] = layer.getWeights();
    // Channel 0 sees rows 0 and 1, channel 1 rows 1 and 2.
    const c0 = [1, 2, 3, 4, 5, 7];
    const c1 = [2, -1, 5, 3, 3, 9];
    const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
    const variance = (v: number[]) => mean(v.map((u) => (u - mean(v)) ** 2));
    values(movingMean).forEach((m, c) => expect(m).toBeCloseTo(mean([c0, c1][c]), 5));
    values(movingVariance).forEach((m, c) => expect(m).toBeCloseTo(variance([c0, c1][c]), 4));
  });

  it('the masked gradient on a channels-first input matches autodiff through the masked reference', () => {
    const x = tf.variable(input([3, 2, 4], 5));
    const mask = tf.tensor2d([[1, 0], [1, 1], [0, 1]], undefined, 'bool');
    const full = tf.broadcastTo(tf.expandDims(tf.cast(mask, 'float32'), -1), [3, 2, 4]);
    const w = tf.randomUniform([3, 2, 4], -1, 1, 'float32', 6);
    const layer = bn({ axis: 1, gammaInitializer: tf.initializers.constant({ value: 1.5 }) });
    layer.build([3, 2, 4]);
    const [gamma, beta] = layer.trainableWeights.map((v) => v.read() as tf.Variable);
    const grads = (f: () => tf.Tensor) => {
      const { grads: g } = tf.variableGrads(() => tf.sum(tf.mul(f(), w)) as tf.Scalar, [x, gamma, beta]);
      return [g[x.name], g[gamma.name], g[beta.name]];
    };
    const ours = grads(() => layer.apply(x, { training: true, mask }) as tf.Tensor);
    const ref = grads(() => referenceTraining(x, gamma, beta, 1, 1e-3, full).y);
    ours.forEach((g, i) => expect(relError(g, ref[i])).toBeLessThan(1e-5));
  });

  it.each([
    [[2, 4, 3], [2, 3], 'a mask of rank 2 that broadcasts to the input shape [2,4,3] once a last axis of size 1 is added (e.g. [2,4]), but received mask shape [2,3].'],
    [[2, 4, 3], [2, 4, 3], 'a mask of rank 2 that broadcasts to the input shape [2,4,3] once a last axis of size 1 is added (e.g. [2,4]), but received mask shape [2,4,3].'],
  ])('input %p with mask %p is refused, in training and inference', (shape, maskShape, message) => {
    const layer = bn({ name: 'bn_mask' });
    for (const training of [true, false]) {
      expect(() => layer.apply(tf.ones(shape), { training, mask: tf.ones(maskShape, 'bool') }))
        .toThrow(`${prefix('bn_mask')} ${message}`);
    }
  });

  it('a channel whose positions are all masked keeps its moving statistics; a fully masked batch moves none', () => {
    const layer = bn({ axis: 1, momentum: 0.5 });
    layer.apply(input([4, 2, 3]), { training: true });
    const [, , m0, v0] = layer.getWeights().map(values);
    const x = input([4, 2, 3], 9);
    layer.apply(x, { training: true, mask: tf.tensor2d([[1, 0], [1, 0], [0, 0], [1, 0]]) });
    const [, , m1, v1] = layer.getWeights().map(values);
    expect(m1[1]).toBe(m0[1]);
    expect(v1[1]).toBe(v0[1]);
    expect(Math.abs(m1[0] - m0[0])).toBeGreaterThan(1e-3);
    layer.apply(x, { training: true, mask: tf.zeros([4, 2]) });
    expect(layer.getWeights().map(values)).toEqual([...layer.getWeights().map(values).slice(0, 2), m1, v1]);
  });

  it('with renorm too, a fully masked channel keeps all five statistics', () => {
    const layer = bn({ momentum: 0.5, renorm: true, renormMomentum: 0.5 });
    layer.apply(input([4, 2, 3]), { training: true });
    const before = layer.getWeights().map(values);
    // Steps 0 and 1 of sample 0 only: every channel has data, so all move.
    layer.apply(input([4, 2, 3], 3), { training: true, mask: tf.tensor2d([[1, 1], [0, 0], [0, 0], [0, 0]]) });
    const moved = layer.getWeights().map(values);
    expect(moved.slice(2).every((w, i) => w.some((v, c) => v !== before[i + 2][c]))).toBe(true);
    layer.apply(input([4, 2, 3], 4), { training: true, mask: tf.zeros([4, 2]) });
    expect(layer.getWeights().map(values)).toEqual(moved);
  });

  it('in model.fit, a batch of all-padding sequences leaves the moving statistics where they were', async () => {
    const tokens = tf.input({ shape: [4], dtype: 'int32' });
    const layer = bn({ momentum: 0.5 });
    const embedded = tf.layers.embedding({ inputDim: 5, outputDim: 3, maskZero: true }).apply(tokens);
    const model = tf.model({ inputs: tokens, outputs: tf.layers.globalAveragePooling1d({}).apply(layer.apply(embedded)) as tf.SymbolicTensor });
    model.compile({ optimizer: 'sgd', loss: 'meanSquaredError' });
    await model.fit(tf.tensor2d([[1, 2, 3, 0], [4, 1, 0, 0]], undefined, 'int32'), tf.zeros([2, 3]), { epochs: 1, verbose: 0 });
    const before = layer.getWeights().slice(2).map(values);
    await model.fit(tf.zeros([2, 4], 'int32'), tf.zeros([2, 3]), { epochs: 1, verbose: 0 });
    const after = layer.getWeights().slice(2).map(values);
    expect(after).toEqual(before);
    expect(after.flat().every(Number.isFinite)).toBe(true);
  });
});

describe('arguments', () => {
  it.each([
    [{ momentm: 0.9 }, 'unknown argument(s) momentm (did you mean `momentum`?)'],
    [{ adjustment: null, foo: 1 }, 'unknown argument(s) foo'], // tf.keras 2's adjustment: null asks for nothing
    [{ adjustment: () => [1, 0] }, 'unknown argument(s) adjustment'],
    [{ moving_mean_initializer: 'zeros' }, 'unknown argument(s) moving_mean_initializer (did you mean `movingMeanInitializer`?)'],
  ])('%p is refused with an error naming it', (args, received) => {
    expect(() => bn({ name: 'args', ...args })).toThrow(new RegExp(`^${prefix('args')} only the arguments .*, but received ${received.replace(/[()?]/g, '\\$&')}\\.$`));
  });

  it('an unknown key in a model.json config is refused, naming it', async () => {
    const topology = { class_name: 'Sequential', config: { name: 's', layers: [
      { class_name: 'TfjsBatchNormalization', config: { name: 'typo', batch_input_shape: [null, 3], momentm: 0.9 } },
    ] } };
    await expect(tf.models.modelFromJSON({ modelTopology: topology as never }))
      .rejects.toThrow(`${prefix('typo')} only the arguments`);
  });

  it('synchronized (one device), fused and autocast are accepted and change nothing; synchronized: true is kept in the config', () => {
    const x = input([4, 3]);
    const plain = bn({ momentum: 0.5 });
    const other = bn({ momentum: 0.5, synchronized: true, fused: true, autocast: false });
    expect(values(other.apply(x, { training: true }) as tf.Tensor)).toEqual(values(plain.apply(x, { training: true }) as tf.Tensor));
    expect(other.getWeights().map(values)).toEqual(plain.getWeights().map(values));
    expect(other.getConfig()['synchronized']).toBe(true);
    expect(BatchNormalization.fromConfig(BatchNormalization, other.getConfig()).getConfig()['synchronized']).toBe(true);
    expect('synchronized' in plain.getConfig()).toBe(false);
  });

  it('a Keras 3 dtype policy is read as its dtype name', () => {
    const layer = bn({ batchInputShape: [null, 3], dtype: { module: 'keras', className: 'DTypePolicy', config: { name: 'float32' }, registeredName: null } });
    expect(layer.dtype).toBe('float32');
    expect(layer.getConfig()['dtype']).toBe('float32');
  });

  it('epsilon 0 is accepted and used', () => {
    const x = input([5, 3]);
    const y = bn({ epsilon: 0 }).apply(x, { training: true }) as tf.Tensor;
    expect(relError(y, referenceTraining(x, null, null, 1, 0).y)).toBeLessThan(1e-5);
  });

  it.each([
    ['epsilon', -1e-3], ['epsilon', Infinity], ['epsilon', NaN], ['epsilon', 'abc'], ['epsilon', null],
    ['momentum', 1.5], ['momentum', -0.1], ['momentum', Infinity], ['momentum', NaN], ['momentum', '0.9'], ['momentum', null],
  ])('%s %p is refused, from the constructor and from a JSON config', (key, value) => {
    const what = key === 'epsilon' ? 'epsilon as a finite number >= 0' : 'momentum as a finite number in [0, 1]';
    const message = `${prefix('bad')} ${what}, but received ${JSON.stringify(value) ?? String(value)}.`;
    expect(() => bn({ name: 'bad', [key]: value })).toThrow(message);
    const config = { ...bn({ name: 'bad' }).getConfig(), [key]: value };
    expect(() => BatchNormalization.fromConfig(BatchNormalization, config as never)).toThrow(message);
  });
});

describe('inputs', () => {
  it('integer and boolean inputs are cast to float32, as Keras does', () => {
    const ints = tf.tensor2d([[1, 2], [3, 7], [-4, 0]], undefined, 'int32');
    const floats = tf.cast(ints, 'float32');
    for (const training of [true, false]) {
      const a = bn({}).apply(ints, { training }) as tf.Tensor;
      const b = bn({}).apply(floats, { training }) as tf.Tensor;
      expect(a.dtype).toBe('float32');
      expect(values(a)).toEqual(values(b));
    }
    const bools = bn({}).apply(tf.tensor2d([[true, false], [false, false]], undefined, 'bool'), { training: true }) as tf.Tensor;
    expect(values(bools)).toEqual(values(bn({}).apply(tf.tensor2d([[1, 0], [0, 0]]), { training: true }) as tf.Tensor));
  });

  it('a string input is refused', () => {
    const layer = bn({ name: 'str' });
    layer.build([2, 2]);
    expect(() => layer.apply(tf.tensor2d([['a', 'b'], ['c', 'd']]))).toThrow(
      `${prefix('str')} a numeric input (float32, int32 or bool), but received dtype string.`);
  });

  it('an empty batch in training gets an error naming the layer and leaves every weight as it was; inference passes it through', () => {
    const layer = bn({ name: 'empty', momentum: 0.5 });
    layer.apply(input([4, 3]), { training: true });
    const before = layer.getWeights().map(values);
    expect(() => layer.apply(tf.zeros([0, 3]), { training: true }))
      .toThrow(`${prefix('empty')} a non-empty batch in training, but received shape [0,3].`);
    expect(layer.getWeights().map(values)).toEqual(before);
    expect((layer.apply(tf.zeros([0, 3])) as tf.Tensor).shape).toEqual([0, 3]);
  });

  it('trainOnBatch and fitDataset with an empty last batch fail with that error, and the moving statistics stay finite', async () => {
    const layer = bn({ name: 'bn_ds' });
    const model = tf.sequential({ layers: [tf.layers.dense({ units: 3, inputShape: [2] }), layer] });
    model.compile({ optimizer: 'sgd', loss: 'meanSquaredError' });
    await expect(model.trainOnBatch(tf.zeros([0, 2]), tf.zeros([0, 3]))).rejects.toThrow(`${prefix('bn_ds')} a non-empty batch in training`);
    const batches = [{ xs: input([4, 2]), ys: input([4, 3]) }, { xs: tf.zeros([0, 2]), ys: tf.zeros([0, 3]) }];
    const dataset = tf.data.array(batches);
    await expect(model.fitDataset(dataset, { epochs: 1, verbose: 0 })).rejects.toThrow(`${prefix('bn_ds')} a non-empty batch in training`);
    expect(layer.getWeights().flatMap(values).every(Number.isFinite)).toBe(true);
    const moved = values(layer.getWeights()[2]);
    expect(moved.some((v) => v !== 0)).toBe(true); // the first, non-empty batch did train
  });
});

describe('what tfjs\'s built-in does in the same cases (the README\'s differences table)', () => {
  it('computes int32 inputs in int32, accepts unknown arguments and epsilon Infinity, and takes an empty batch\'s statistics as 0', async () => {
    const y = tf.layers.batchNormalization({}).apply(tf.tensor2d([[1, 2], [3, 5]], undefined, 'int32'), { training: true }) as tf.Tensor;
    expect(y.dtype).toBe('int32');
    expect(tf.layers.batchNormalization({ momentm: 0.9, epsilon: Infinity } as never).getConfig()['epsilon']).toBe(Infinity);
    const model = tf.sequential({ layers: [tf.layers.batchNormalization({ inputShape: [3] })] });
    model.compile({ optimizer: 'sgd', loss: 'meanSquaredError' });
    await model.trainOnBatch(tf.zeros([0, 3]), tf.zeros([0, 3]));
    expect(values(model.getWeights()[3])).toEqual([0.99, 0.99, 0.99].map(Math.fround));
  });
});
