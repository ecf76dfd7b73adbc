/**
 * The layer with batch renormalization (`renorm`) and ghost batches (`virtualBatchSize`): the
 * Keras renorm example, several `fit` steps against a plainly written training loop (outputs,
 * gradients through the optimizer's updates, moving and renorm statistics), inference, weights
 * as Keras writes them, configs, errors, and no leaked tensors.
 */
import * as tf from '@tensorflow/tfjs';
import { BatchNormalization, batchNormalization } from '../src';
import { input, useBackend } from './helpers/tensors';
import { referenceInference, relativeMaxError } from './reference/reference_batch_norm';
import { referenceGhostTraining, referenceRenormTraining } from './reference/reference_renorm';

beforeAll(() => useBackend('cpu'));

const EPS = 1e-3;

function weightsByName(layer: tf.layers.Layer): Record<string, Float32Array> {
  const names = layer.weights.map((w) => w.originalName.split('/').pop()!);
  // getWeights() returns the variables themselves: read, never dispose.
  const values = layer.getWeights();
  return Object.fromEntries(names.map((n, i) => [n, values[i].dataSync() as Float32Array]));
}

test('renorm, the Keras example: output and every statistic after one training call', () => {
  const layer = batchNormalization({ epsilon: EPS, momentum: 0.9, renorm: true, renormMomentum: 0.8, name: 'rn' });
  layer.build([null, 3]);
  const init = {
    gamma: [1.1, 0.9, 1.05], beta: [0.05, -0.1, 0.02], movingMean: [0.3, -0.5, 1.2], movingVariance: [0.8, 1.3, 0.6],
    renormMean: [-0.4, 0.9, 0.1], renormStddev: [1.2, 0.7, 1.5],
  };
  const movingStddev = init.movingVariance.map(Math.sqrt);
  layer.setWeights([init.gamma, init.beta, init.movingMean, init.movingVariance, movingStddev, init.renormMean,
    init.renormStddev].map((v) => tf.tensor1d(v)));
  const rows = [[4, 6, 2], [8, -2, 5], [6, 4, 3]];
  const y = layer.apply(tf.tensor2d(rows), { training: true }) as tf.Tensor;

  // By hand, per channel: batch mean / variance, stddev with epsilon, r and d (no clipping given).
  const expected: number[][] = rows.map(() => []);
  const want: Record<string, number[]> = { moving_mean: [], moving_stddev: [], moving_variance: [], renorm_mean: [],
    renorm_stddev: [] };
  for (let c = 0; c < 3; c++) {
    const col = rows.map((r) => r[c]);
    const mean = col.reduce((a, b) => a + b) / 3;
    const variance = col.reduce((a, v) => a + (v - mean) ** 2, 0) / 3;
    const sigma = Math.sqrt(variance + EPS);
    const r = sigma / init.renormStddev[c];
    const d = (mean - init.renormMean[c]) / init.renormStddev[c];
    col.forEach((v, i) => expected[i].push((((v - mean) / sigma) * r + d) * init.gamma[c] + init.beta[c]));
    want.renorm_mean.push(init.renormMean[c] * 0.8 + mean * 0.2);
    want.renorm_stddev.push(init.renormStddev[c] * 0.8 + sigma * 0.2);
    want.moving_mean.push(init.movingMean[c] * 0.9 + mean * 0.1);
    const ms = movingStddev[c] * 0.9 + sigma * 0.1;
    want.moving_stddev.push(ms);
    want.moving_variance.push(ms * ms - EPS);
  }
  expect(relativeMaxError(y.dataSync(), expected.flat())).toBeLessThan(1e-5);
  const got = weightsByName(layer);
  for (const [name, values] of Object.entries(want)) expect(relativeMaxError(got[name], values)).toBeLessThan(1e-6);
  y.dispose();
});

test('renorm weights: Keras names, order and initial values (stddevs are sqrt of the variance initializer)', () => {
  const layer = new BatchNormalization({ renorm: true, movingVarianceInitializer: tf.initializers.constant({ value: 4 }),
    movingMeanInitializer: tf.initializers.constant({ value: 0.5 }), name: 'rw' });
  layer.build([null, 5]);
  expect(layer.weights.map((w) => w.originalName)).toEqual(['gamma', 'beta', 'moving_mean', 'moving_variance',
    'moving_stddev', 'renorm_mean', 'renorm_stddev']);
  expect(layer.trainableWeights.map((w) => w.originalName)).toEqual(['gamma', 'beta']);
  const got = weightsByName(layer);
  expect(Array.from(got['moving_stddev'])).toEqual([2, 2, 2, 2, 2]);
  expect(Array.from(got['renorm_stddev'])).toEqual([2, 2, 2, 2, 2]);
  expect(Array.from(got['renorm_mean'])).toEqual([0.5, 0.5, 0.5, 0.5, 0.5]);
});

test('ghost-batch weights have tf.keras\'s shape: the input rank plus one, ones but on the feature axis', () => {
  const dense = new BatchNormalization({ virtualBatchSize: 2, name: 'g2' });
  dense.build([null, 5]);
  expect(dense.weights.map((w) => w.shape)).toEqual([[1, 1, 5], [1, 1, 5], [1, 1, 5], [1, 1, 5]]);
  const nchw = new BatchNormalization({ virtualBatchSize: 2, axis: 1, renorm: true, name: 'g4' });
  nchw.build([null, 3, 4, 4]);
  expect(nchw.weights.map((w) => w.shape)).toEqual(Array(7).fill([1, 1, 3, 1, 1]));
});

interface RefState { W: tf.Variable; gamma: tf.Variable; beta: tf.Variable; mm: number[]; mv: number[]; ms: number[];
  rm: number[]; rs: number[] }

/**
 * The plain training loop: dense (no bias) -> BN, MSE loss, plain SGD, statistics updated by
 * the Keras / tf.keras formulas, step by step.
 */
function referenceSteps(x: tf.Tensor, target: tf.Tensor, W0: tf.Tensor, steps: number, opts: {
  momentum: number; renorm: boolean; renormMomentum: number; clipping: Record<string, number>; vbs: number | null;
  lr: number;
}): RefState {
  const c = W0.shape[1]!;
  const s: RefState = { W: tf.variable(W0.clone()), gamma: tf.variable(tf.ones([c])), beta: tf.variable(tf.zeros([c])),
    mm: Array(c).fill(0), mv: Array(c).fill(1), ms: Array(c).fill(1), rm: Array(c).fill(0), rs: Array(c).fill(1) };
  const toward = (old: number[], now: number[], m: number) => old.map((o, i) => o * m + now[i] * (1 - m));
  for (let step = 0; step < steps; step++) {
    let mean: number[] = [];
    let variance: number[] = [];
    const f = () => {
      const h = tf.matMul(x, s.W);
      let y: tf.Tensor;
      if (opts.vbs != null) {
        const ghost = referenceGhostTraining(h, opts.renorm ? null : s.gamma, opts.renorm ? null : s.beta, 1, EPS, opts.vbs);
        mean = Array.from(tf.tidy(() => tf.mean(ghost.ghostMean, 0)).dataSync());
        variance = Array.from(tf.tidy(() => tf.mean(ghost.ghostVariance, 0)).dataSync());
        y = ghost.y;
        if (opts.renorm) {
          // tf.keras: r and d from the ghost-averaged statistics, applied to each ghost batch's xhat.
          const sd = variance.map((v) => Math.sqrt(v + EPS));
          const den = s.rs.map((v) => Math.max(v, Math.sqrt(EPS)));
          const clip = (v: number, lo?: number, hi?: number) => Math.min(hi ?? Infinity, Math.max(lo ?? -Infinity, v));
          const r = sd.map((v, i) => clip(v / den[i], opts.clipping.rmin, opts.clipping.rmax));
          const d = mean.map((m, i) => clip((m - s.rm[i]) / den[i], -(opts.clipping.dmax ?? Infinity), opts.clipping.dmax));
          y = tf.add(tf.mul(tf.add(tf.mul(y, tf.tensor1d(r)), tf.tensor1d(d)), s.gamma), s.beta);
        }
      } else {
        const out = referenceRenormTraining(h, s.gamma, s.beta, 1, EPS, s.rm, s.rs, opts.clipping);
        mean = out.mean;
        variance = out.variance;
        y = out.y;
      }
      return tf.mean(tf.square(tf.sub(y, target))) as tf.Scalar;
    };
    const { value, grads } = tf.variableGrads(f, [s.W, s.gamma, s.beta]);
    for (const v of [s.W, s.gamma, s.beta]) v.assign(tf.tidy(() => tf.sub(v, tf.mul(grads[v.name], opts.lr))));
    tf.dispose([value, ...Object.values(grads)]);
    if (opts.renorm) {
      const sd = variance.map((v) => Math.sqrt(v + EPS));
      s.rm = toward(s.rm, mean, opts.renormMomentum);
      s.rs = toward(s.rs, sd, opts.renormMomentum);
      s.ms = toward(s.ms, sd, opts.momentum);
      s.mm = toward(s.mm, mean, opts.momentum);
      s.mv = s.ms.map((v) => Math.max(v * v - EPS, 0));
    } else {
      s.mm = toward(s.mm, mean, opts.momentum);
      s.mv = toward(s.mv, variance, opts.momentum);
    }
  }
  return s;
}

describe.each([
  ['renorm, clipped', { renorm: true, renormMomentum: 0.7, clipping: { rmax: 1.5, rmin: 0.7, dmax: 0.5 }, vbs: null }],
  ['renorm, unclipped', { renorm: true, renormMomentum: 0.5, clipping: {}, vbs: null }],
  ['ghost batches of 3', { renorm: false, renormMomentum: 0.99, clipping: {}, vbs: 3 }],
  ['ghost batches of 2 with renorm', { renorm: true, renormMomentum: 0.6, clipping: { rmax: 2, dmax: 1 }, vbs: 2 }],
] as Array<[string, { renorm: boolean; renormMomentum: number; clipping: Record<string, number>; vbs: number | null }]>)(
  '%s', (_label, opts) => {
    test('5 fit steps match the plain training loop: weights, statistics, then predictions', async () => {
      const n = 6;
      const x = input([n, 3], 21);
      const target = input([n, 4], 22, 0, 1);
      const W0 = tf.randomNormal([3, 4], 0, 0.7, 'float32', 23);
      const bn = new BatchNormalization({ momentum: 0.8, renorm: opts.renorm, renormMomentum: opts.renormMomentum,
        renormClipping: opts.clipping, virtualBatchSize: opts.vbs, epsilon: EPS, name: 'bn' });
      const model = tf.sequential({ layers: [tf.layers.dense({ units: 4, useBias: false, inputShape: [3], name: 'd' }), bn] });
      model.layers[0].setWeights([W0]);
      model.compile({ optimizer: tf.train.sgd(0.1), loss: 'meanSquaredError' });
      await model.fit(x, target, { epochs: 5, batchSize: n, shuffle: false, verbose: 0 });

      const ref = referenceSteps(x, target, W0, 5, { momentum: 0.8, lr: 0.1, ...opts });
      const got = weightsByName(bn);
      const flat = (t: tf.Tensor) => t.dataSync();
      expect(relativeMaxError(model.layers[0].getWeights()[0].dataSync(), flat(ref.W))).toBeLessThan(1e-5);
      expect(relativeMaxError(got['gamma'], flat(ref.gamma))).toBeLessThan(1e-5);
      expect(relativeMaxError(got['beta'], flat(ref.beta))).toBeLessThan(1e-5);
      expect(relativeMaxError(got['moving_mean'], ref.mm)).toBeLessThan(1e-5);
      expect(relativeMaxError(got['moving_variance'], ref.mv)).toBeLessThan(1e-5);
      if (opts.renorm) {
        expect(relativeMaxError(got['moving_stddev'], ref.ms)).toBeLessThan(1e-5);
        expect(relativeMaxError(got['renorm_mean'], ref.rm)).toBeLessThan(1e-5);
        expect(relativeMaxError(got['renorm_stddev'], ref.rs)).toBeLessThan(1e-5);
      }
      // The statistics moved: a layer that ignored the options would not match the loop above.
      expect(Math.max(...got['moving_mean'].map(Math.abs))).toBeGreaterThan(0.1);

      // Inference is plain BN with the moving statistics, for any batch size.
      const xi = input([5, 3], 24);
      const yi = model.predict(xi) as tf.Tensor;
      const expected = tf.tidy(() => referenceInference(tf.matMul(xi, ref.W), tf.tensor1d(ref.mm), tf.tensor1d(ref.mv),
        ref.gamma, ref.beta, 1, EPS));
      expect(relativeMaxError(yi.dataSync(), expected.dataSync())).toBeLessThan(1e-5);
      tf.dispose([x, target, W0, xi, yi, expected, ref.W, ref.gamma, ref.beta]);
      model.dispose();
    });
  });

test('a training call leaks no tensors, with renorm, ghost batches, both, and on errors', () => {
  const x = input([4, 3, 2], 5);
  const start = tf.memory().numTensors;
  const model = tf.sequential({ layers: [batchNormalization({ renorm: true, virtualBatchSize: 2, inputShape: [3, 2] })] });
  tf.dispose(model.predict(x) as tf.Tensor);
  model.dispose();
  expect(tf.memory().numTensors).toBe(start);
  for (const args of [{ renorm: true }, { virtualBatchSize: 2 }, { renorm: true, virtualBatchSize: 4 }]) {
    const layer = new BatchNormalization(args);
    layer.apply(x, { training: true });
    const before = tf.memory().numTensors;
    tf.dispose(layer.apply(x, { training: true }) as tf.Tensor);
    tf.dispose(tf.grad((a: tf.Tensor) => layer.apply(a, { training: true }) as tf.Tensor)(x));
    tf.dispose(layer.apply(x) as tf.Tensor);
    expect(tf.memory().numTensors).toBe(before);
    layer.dispose();
  }
  const ghost = new BatchNormalization({ virtualBatchSize: 3, name: 'gh' });
  ghost.apply(input([3, 3, 2], 6), { training: true });
  const before = tf.memory().numTensors;
  expect(() => ghost.apply(x, { training: true })).toThrow(
    "BatchNormalization layer 'gh': expected a batch size that is a multiple of virtualBatchSize 3, but received batch size 4.");
  expect(tf.memory().numTensors).toBe(before);
  // Inference does not split the batch, so any batch size works.
  tf.dispose(ghost.apply(x) as tf.Tensor);
  expect(tf.memory().numTensors).toBe(before);
  ghost.dispose();
  x.dispose();
});

test('bad renorm and ghost-batch arguments are refused with the layer\'s error format', () => {
  const cases: Array<[Record<string, unknown>, string]> = [
    [{ renorm: true, renormClipping: { random_key: 1 } }, 'expected renormClipping keys among rmax, rmin, dmax, but received key(s) random_key.'],
    [{ renorm: true, renormClipping: { rmax: 0, rmin: 1 } }, 'expected renormClipping.rmax >= rmin, but received rmax 0, rmin 1.'],
    [{ renorm: true, renormClipping: { rmax: 1, dmax: -1 } }, 'expected renormClipping.dmax >= 0, but received dmax -1.'],
    [{ renorm: true, renormMomentum: 1.5 }, 'expected renormMomentum in [0, 1], but received 1.5.'],
    [{ renorm: 'yes' }, 'expected renorm as true or false, but received "yes".'],
    [{ virtualBatchSize: 0 }, 'expected virtualBatchSize as a positive integer (or null), but received 0.'],
    [{ virtualBatchSize: 2.5 }, 'expected virtualBatchSize as a positive integer (or null), but received 2.5.'],
  ];
  for (const [args, message] of cases) {
    expect(() => new BatchNormalization({ name: 'bad', ...args } as never)).toThrow(`BatchNormalization layer 'bad': ${message}`);
  }
});

test('ghost batches refuse a mask in training (the groups would not match it), naming the mask', () => {
  const layer = new BatchNormalization({ virtualBatchSize: 2, name: 'gm' });
  const x = input([4, 3, 2], 8);
  const mask = tf.ones([4, 3], 'bool');
  expect(() => layer.apply(x, { training: true, mask })).toThrow(
    "BatchNormalization layer 'gm': expected no mask with virtualBatchSize (ghost batches), but received a mask of shape [4,3].");
  tf.dispose([x, mask]);
  layer.dispose();
});

test('getConfig keeps the arguments (only when given, as tf.keras) and fromConfig round-trips them', () => {
  const plain = new BatchNormalization({});
  const stockKeys = Object.keys(tf.layers.batchNormalization({}).getConfig()).sort();
  expect(Object.keys(plain.getConfig()).filter((k) => /renorm|virtual/i.test(k))).toEqual([]);
  expect(stockKeys.filter((k) => /renorm|virtual/i.test(k))).toEqual([]);

  const layer = batchNormalization({ renorm: true, renormClipping: { rmax: 3, dmax: 5 }, renormMomentum: 0.9,
    virtualBatchSize: 4, name: 'cfg' });
  const config = layer.getConfig();
  expect(config).toMatchObject({ renorm: true, renormClipping: { rmax: 3, dmax: 5 }, renormMomentum: 0.9, virtualBatchSize: 4 });
  const copy = BatchNormalization.fromConfig(BatchNormalization, config) as BatchNormalization;
  expect(copy.getConfig()).toEqual(config);
  // Keras writes missing bounds as null; they do not clip.
  const fromKeras = new BatchNormalization({ renorm: true, renormClipping: { rmax: 3, rmin: null, dmax: null } });
  expect(fromKeras.getConfig()['renormClipping']).toEqual({ rmax: 3 });
});

test('a model with renorm and ghost batches saves and loads with its weights, config and predictions', async () => {
  const model = tf.sequential({ layers: [
    tf.layers.dense({ units: 4, inputShape: [3] }),
    batchNormalization({ renorm: true, renormClipping: { rmax: 2, rmin: 0.5, dmax: 1 }, renormMomentum: 0.9, name: 'r' }),
    batchNormalization({ virtualBatchSize: 2, momentum: 0.5, name: 'g' }),
  ] });
  model.compile({ optimizer: 'sgd', loss: 'meanSquaredError' });
  await model.fit(input([8, 3], 31), input([8, 4], 32), { epochs: 2, batchSize: 4, verbose: 0 });
  let artifacts: tf.io.ModelArtifacts | undefined;
  await model.save(tf.io.withSaveHandler(async (a) => {
    artifacts = a;
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
  }));
  const json = JSON.stringify(artifacts!.modelTopology);
  expect(json).toContain('"renorm_clipping":{"rmax":2,"rmin":0.5,"dmax":1}');
  expect(json).toContain('"virtual_batch_size":2');
  const loaded = await tf.loadLayersModel(tf.io.fromMemory(artifacts!));
  expect(loaded.weights.map((w) => w.originalName)).toEqual(model.weights.map((w) => w.originalName));
  const a = model.getWeights();
  const b = loaded.getWeights();
  a.forEach((w, i) => expect(Array.from(b[i].dataSync())).toEqual(Array.from(w.dataSync())));
  const x = input([3, 3], 33);
  const [y0, y1] = [model, loaded].map((m) => m.predict(x) as tf.Tensor);
  expect(Array.from(y1.dataSync())).toEqual(Array.from(y0.dataSync()));
  tf.dispose([x, y0, y1]);
  [model, loaded].forEach((m) => m.dispose());
});
