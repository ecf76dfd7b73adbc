/**
 * The three tf.keras 2 defects on files the real converter wrote (tf.keras 2.21 and tensorflowjs
 * 4.22, test/fixtures/keras2/README.md), against what tf.keras itself computed: a channels-first
 * BatchNormalization and a ghost-batch one predict as tf.keras did through loadModel and the
 * file:// router; the fused model's moving variance after one step follows Keras 3's biased
 * rule, where tf.keras's own step took the unbiased one.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { loadModel } from '../src/io';

const FIXTURES = path.join(__dirname, 'fixtures', 'keras2');
const ref = (name: string) => JSON.parse(fs.readFileSync(path.join(FIXTURES, name, 'ref.json'), 'utf8'));

/** Largest difference relative to the output's scale (at least 1). */
function relative(got: ArrayLike<number>, want: number[]): number {
  let worst = 0;
  let scale = 1;
  want.forEach((w, i) => {
    worst = Math.max(worst, Math.abs(got[i] - w));
    scale = Math.max(scale, Math.abs(w));
  });
  return worst / scale;
}

beforeAll(async () => { await tf.setBackend('cpu'); });

test.each(['cf', 'ghost'])('%s: the converter\'s model.json predicts as tf.keras did, through loadModel and file://', async (name) => {
  const before = tf.memory().numTensors;
  const { x, shape, y } = ref(name);
  const input = tf.tensor(x, shape);
  const dir = path.join(FIXTURES, name);
  for (const model of [await loadModel(dir), await tf.loadLayersModel(`file://${path.join(dir, 'model.json')}`)]) {
    const out = model.predict(input) as tf.Tensor;
    expect(relative(out.dataSync(), y)).toBeLessThan(1e-4);
    out.dispose();
    model.dispose();
  }
  input.dispose();
  expect(tf.memory().numTensors).toBe(before);
});

test('cf: TF.js\'s built-in on the same weights would not predict as tf.keras did', async () => {
  const { x, shape, y } = ref('cf');
  const model = await loadModel(path.join(FIXTURES, 'cf'));
  const builtin = tf.layers.batchNormalization({ axis: 1, epsilon: 1e-3 });
  builtin.apply(tf.input({ shape: [3, 4, 4] }));
  builtin.setWeights(model.getLayer('bn').getWeights());
  const input = tf.tensor(x, shape);
  const wrong = builtin.apply(input) as tf.Tensor;
  expect(relative(wrong.dataSync(), y)).toBeGreaterThan(0.05);
  tf.dispose([input, wrong]);
  builtin.dispose();
  model.dispose();
});

test('fused: one training step moves the moving variance by the biased batch variance; tf.keras\'s took the unbiased one', async () => {
  const r = ref('fused');
  expect(r.fused).toBe(true);
  const x = tf.tensor(r.x, r.shape);
  const n = r.shape[0] * r.shape[1] * r.shape[2];
  const biased = Array.from(tf.tidy(() => tf.moments(x, [0, 1, 2]).variance).dataSync());
  const model = await loadModel(path.join(FIXTURES, 'fused'));
  expect(Array.from(model.getLayer('bn').getWeights()[3].dataSync()).map((v) => Number(v.toFixed(5))))
    .toEqual(r.movingVarianceBefore.map((v: number) => Number(v.toFixed(5))));
  model.compile({ optimizer: tf.train.sgd(0), loss: 'meanSquaredError' });
  await model.fit(x, tf.zerosLike(x), { batchSize: r.shape[0], epochs: 1, verbose: 0 });
  const ours = Array.from(model.getLayer('bn').getWeights()[3].dataSync());
  for (let c = 0; c < 3; c++) {
    const v0 = r.movingVarianceBefore[c];
    // momentum 0.99, tf.keras's default
    expect(ours[c]).toBeCloseTo(0.99 * v0 + 0.01 * biased[c], 5);
    expect(r.movingVarianceAfterTfKeras[c]).toBeCloseTo(0.99 * v0 + 0.01 * biased[c] * n / (n - 1), 5);
    expect(Math.abs(ours[c] - r.movingVarianceAfterTfKeras[c])).toBeGreaterThan(1e-4);
  }
  x.dispose();
  model.dispose();
});
