import * as tf from '@tensorflow/tfjs';
import { batchNormalization } from '../src';
import { foldBatchNorm } from '../src/convert';
import { leafClassNames, maxAbsDiff, randomizeBatchNorms } from './fixtures/helpers';

type LayerFactory = () => tf.layers.Layer;

/** input -> producer -> BN (stock or custom), with non-trivial BN statistics. */
function chain(inputShape: number[], producer: LayerFactory, bn: LayerFactory): tf.LayersModel {
  const p = producer();
  const model = tf.sequential({ layers: [tf.layers.inputLayer({ inputShape }), p, bn()] });
  randomizeBatchNorms(model);
  // Random non-zero biases where the producer has one (the kernel is its first or second weight).
  const weights = p.getWeights();
  const biasIndex = p.getClassName() === 'SeparableConv2D' ? 2 : 1;
  p.setWeights(weights.map((w, i) => (i === biasIndex ? tf.randomUniform(w.shape, -0.5, 0.5, 'float32', 11) : w)));
  return model;
}

/** The layer a BN gets folded into: the last non-BN layer. */
function producerOf(model: tf.LayersModel): tf.layers.Layer {
  return model.layers.filter((l) => !/BatchNormalization/.test(l.getClassName())).pop()!;
}

async function expectFoldsExactly(model: tf.LayersModel, inputShape: number[], tol = 1e-5): Promise<void> {
  const before = tf.memory().numTensors;
  const { model: folded, folded: report, kept } = await foldBatchNorm(model);
  // Every tensor fold created is a weight of the new model: no intermediate is left behind.
  expect(tf.memory().numTensors - before).toBe(folded.weights.length);
  expect(kept).toEqual([]);
  expect(report).toHaveLength(1);
  expect(leafClassNames(folded).filter((c) => /BatchNormalization/.test(c))).toEqual([]);
  expect(folded.layers).toHaveLength(model.layers.length - 1);
  const x = tf.randomUniform([2, ...inputShape], -1, 1, 'float32', 5);
  const [y0, y1] = [model.predict(x) as tf.Tensor, folded.predict(x) as tf.Tensor];
  // The BN changes the output a lot, so a fold that dropped it would fail by far.
  const withoutBn = tf.tidy(() => producerOf(model).apply(x) as tf.Tensor);
  expect(maxAbsDiff(y0, withoutBn)).toBeGreaterThan(0.1);
  withoutBn.dispose();
  expect(maxAbsDiff(y0, y1)).toBeLessThan(tol);
  tf.dispose([x, y0, y1]);
  folded.dispose();
  expect(tf.memory().numTensors).toBe(before);
}

const stock = () => tf.layers.batchNormalization({ epsilon: 1e-3 });
const custom = () => batchNormalization({ epsilon: 1e-2 });

describe('folds BN into the layer before it', () => {
  const cases: [string, number[], LayerFactory][] = [
    ['Conv2D without bias', [7, 7, 3], () => tf.layers.conv2d({ filters: 4, kernelSize: 3, useBias: false })],
    ['Conv2D with bias, strided, same padding', [8, 8, 3],
      () => tf.layers.conv2d({ filters: 5, kernelSize: 3, strides: 2, padding: 'same' })],
    ['DepthwiseConv2D, depthMultiplier 2', [6, 6, 3],
      () => tf.layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, useBias: false })],
    // depthMultiplier stays 1: tfjs's SeparableConv2D.getConfig drops it, so no JSON round trip keeps it.
    ['SeparableConv2D', [6, 6, 3], () => tf.layers.separableConv2d({ filters: 4, kernelSize: 3 })],
    ['Conv2DTranspose', [4, 4, 3], () => tf.layers.conv2dTranspose({ filters: 5, kernelSize: 3, strides: 2 })],
    ['Conv1D', [9, 3], () => tf.layers.conv1d({ filters: 4, kernelSize: 3, useBias: false })],
    ['Conv3D', [4, 4, 4, 2], () => tf.layers.conv3d({ filters: 3, kernelSize: 2 })],
    ['Dense', [6], () => tf.layers.dense({ units: 5 })],
    ['Dense on a sequence (rank 3)', [4, 6], () => tf.layers.dense({ units: 5, useBias: false })],
  ];
  for (const [name, shape, producer] of cases) {
    // tfjs's own BN does not run on rank 5, so Conv3D is checked with ours only.
    if (shape.length < 4) it(`${name}, stock BN`, () => expectFoldsExactly(chain(shape, producer, stock), shape));
    it(`${name}, custom BN`, () => expectFoldsExactly(chain(shape, producer, custom), shape));
  }

  it('Conv2D channelsFirst with BN on axis 1', async () => {
    // Custom BN only: tfjs's cpu BatchNorm kernel assumes channels last and gets axis 1 wrong.
    const shape = [3, 6, 6];
    await expectFoldsExactly(chain(shape, () => tf.layers.conv2d({ filters: 4, kernelSize: 3, dataFormat: 'channelsFirst' }),
      () => batchNormalization({ axis: 1 })), shape);
  });

  it('BN with scale and center off', async () => {
    const shape = [6];
    await expectFoldsExactly(chain(shape, () => tf.layers.dense({ units: 3 }),
      () => tf.layers.batchNormalization({ scale: false, center: false })), shape);
  });

  it('creates a bias where the layer had none and keeps the layer name and config', async () => {
    const model = chain([5, 5, 2], () => tf.layers.conv2d({ name: 'c', filters: 3, kernelSize: 3, useBias: false }), stock);
    const { model: folded } = await foldBatchNorm(model);
    const conv = folded.getLayer('c');
    expect(conv.getConfig()['useBias']).toBe(true);
    expect(conv.getWeights().map((w) => w.shape)).toEqual([[3, 3, 2, 3], [3]]);
    expect(model.getLayer('c').getConfig()['useBias']).toBe(false); // input model untouched
    folded.dispose();
    model.dispose();
  });
});

describe('keeps BNs that cannot be folded, with a reason', () => {
  function functional(build: (x: tf.SymbolicTensor) => tf.SymbolicTensor | tf.SymbolicTensor[], shape: number[]): tf.LayersModel {
    const input = tf.input({ shape });
    const model = tf.model({ inputs: input, outputs: build(input) });
    randomizeBatchNorms(model);
    return model;
  }
  const bn = (name: string) => tf.layers.batchNormalization({ name });

  async function expectKept(model: tf.LayersModel, reason: RegExp, shape: number[], foldedCount = 0): Promise<void> {
    const { model: folded, folded: done, kept } = await foldBatchNorm(model);
    expect(done).toHaveLength(foldedCount);
    expect(kept).toHaveLength(1);
    expect(kept[0].batchNorm[kept[0].batchNorm.length - 1]).toBe('bn');
    expect(kept[0].reason).toMatch(reason);
    const x = tf.randomUniform([2, ...shape], -1, 1, 'float32', 3);
    const [y0, y1] = [model.predict(x) as tf.Tensor, folded.predict(x) as tf.Tensor];
    expect(maxAbsDiff(y0, y1)).toBeLessThan(1e-5);
    tf.dispose([x, y0, y1]);
    folded.dispose();
  }

  it('conv with a relu activation', () => expectKept(functional((x) =>
    bn('bn').apply(tf.layers.conv2d({ filters: 3, kernelSize: 3, activation: 'relu' }).apply(x)) as tf.SymbolicTensor, [5, 5, 2]),
  /applies activation 'relu' before the BN/, [5, 5, 2]));

  it('conv output also used by a residual Add', () => expectKept(functional((x) => {
    const c = tf.layers.conv2d({ filters: 2, kernelSize: 1 }).apply(x) as tf.SymbolicTensor;
    return tf.layers.add().apply([bn('bn').apply(c) as tf.SymbolicTensor, c]) as tf.SymbolicTensor;
  }, [4, 4, 2]), /output of '.*' also feeds 1 other/, [4, 4, 2]));

  it('BN after an Add', () => expectKept(functional((x) => {
    const c = tf.layers.conv2d({ filters: 2, kernelSize: 1 }).apply(x) as tf.SymbolicTensor;
    return bn('bn').apply(tf.layers.add().apply([c, x])) as tf.SymbolicTensor;
  }, [4, 4, 2]), /input comes from Add/, [4, 4, 2]));

  it('BN on a non-channel axis', () => expectKept(functional((x) =>
    tf.layers.batchNormalization({ name: 'bn', axis: 1 }).apply(tf.layers.dense({ units: 3 }).apply(x)) as tf.SymbolicTensor, [4, 6]),
  /normalizes axis 1, but .* output channels are on axis 2/, [4, 6]));

  it('a conv shared between two inputs', () => expectKept(functional((x) => {
    const conv = tf.layers.conv2d({ filters: 2, kernelSize: 1 });
    const a = conv.apply(x) as tf.SymbolicTensor;
    const b = conv.apply(tf.layers.reLU().apply(x)) as tf.SymbolicTensor;
    return tf.layers.add().apply([bn('bn').apply(a) as tf.SymbolicTensor, b]) as tf.SymbolicTensor;
  }, [4, 4, 2]), /called 2 times/, [4, 4, 2]));

  it('BN first in a nested Sequential (input from outside)', async () => {
    const inner = tf.sequential({ name: 'inner', layers: [tf.layers.batchNormalization({ name: 'bn', inputShape: [3] }),
      tf.layers.dense({ units: 2 })] });
    const outer = tf.sequential({ layers: [tf.layers.dense({ units: 3, inputShape: [4] }), inner] });
    randomizeBatchNorms(outer);
    await expectKept(outer, /first layer of 'inner'/, [4]);
  });

  it('turns kept custom BNs into stock ones unless told not to', async () => {
    const model = tf.sequential({ layers: [tf.layers.dense({ units: 3, inputShape: [4], activation: 'tanh' }), batchNormalization()] });
    const toStock = await foldBatchNorm(model);
    expect(leafClassNames(toStock.model)).toEqual(['Dense', 'BatchNormalization']);
    const asIs = await foldBatchNorm(model, { keptToStock: false });
    expect(leafClassNames(asIs.model)).toEqual(['Dense', 'TfjsBatchNormalization']);
    [model, toStock.model, asIs.model].forEach((m) => m.dispose());
  });

  it('keeps a custom BN on a non-last axis custom, since the built-in computes it wrongly', async () => {
    const model = tf.sequential({ layers: [
      tf.layers.conv2d({ filters: 3, kernelSize: 1, dataFormat: 'channelsFirst', activation: 'relu', inputShape: [2, 4, 4] }),
      batchNormalization({ axis: 1 }),
    ] });
    randomizeBatchNorms(model);
    const { model: folded, kept } = await foldBatchNorm(model);
    expect(leafClassNames(folded)).toEqual(['Conv2D', 'TfjsBatchNormalization']);
    expect(kept[0].reason).toMatch(/activation 'relu'.*; left as TfjsBatchNormalization because it normalizes axis 1 of a rank-4 input/);
    const x = tf.randomUniform([2, 2, 4, 4], -1, 1, 'float32', 4);
    const [y0, y1] = [model.predict(x) as tf.Tensor, folded.predict(x) as tf.Tensor];
    expect(maxAbsDiff(y0, y1)).toBeLessThan(1e-6);
    tf.dispose([x, y0, y1]);
    [model, folded].forEach((m) => m.dispose());
  });
});

it('folds inside nested functional and Sequential models, rerouting a submodel output', async () => {
  const innerIn = tf.input({ shape: [6, 6, 3] });
  const conv = tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', useBias: false }).apply(innerIn);
  const inner = tf.model({ name: 'inner', inputs: innerIn, outputs: batchNormalization().apply(conv) as tf.SymbolicTensor });
  const head = tf.sequential({ name: 'head', layers: [tf.layers.dense({ units: 3, inputShape: [4] }), tf.layers.batchNormalization()] });
  const outer = tf.sequential({ layers: [inner, tf.layers.globalAveragePooling2d({}), head] });
  randomizeBatchNorms(outer);
  const before = tf.memory().numTensors;
  const { model: folded, folded: done, kept } = await foldBatchNorm(outer);
  expect(tf.memory().numTensors - before).toBe(folded.weights.length);
  expect(kept).toEqual([]);
  expect(done.map((d) => d.into.slice(1))).toEqual([['inner', expect.stringMatching(/conv2d/)], ['head', expect.stringMatching(/dense/)]]);
  expect(leafClassNames(folded)).toEqual(['InputLayer', 'Conv2D', 'GlobalAveragePooling2D', 'Dense']);
  const x = tf.randomUniform([2, 6, 6, 3], -1, 1, 'float32', 9);
  const [y0, y1] = [outer.predict(x) as tf.Tensor, folded.predict(x) as tf.Tensor];
  expect(maxAbsDiff(y0, y1)).toBeLessThan(1e-5);
  tf.dispose([x, y0, y1]);
});
