/**
 * Every example script end to end on tiny settings (outputs in a temporary folder): each trains,
 * saves under the folder, reloads, and shows the property it exists for.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import * as cnn from '../examples/cnn';
import * as finetune from '../examples/finetune';
import * as fold from '../examples/fold';
import * as masking from '../examples/masking';
import * as mlp from '../examples/mlp';
import * as residual from '../examples/residual';

const tiny = { epochs: 1, samples: 200, testSamples: 50, bars: false };
// Convolutions are slow on the pure-JS cpu backend: fewer digits for the CNN examples.
const tinyConv = { ...tiny, samples: 40, testSamples: 10, batchSize: 20 };
let out: string;
beforeAll(async () => {
  await tf.setBackend('cpu');
  out = fs.mkdtempSync(path.join(os.tmpdir(), 'bn-examples-'));
});
afterAll(() => fs.rmSync(out, { recursive: true, force: true }));
beforeEach(() => { jest.spyOn(console, 'log').mockImplementation(() => undefined); });
afterEach(() => jest.restoreAllMocks());

/** The saved model.json of a result, as text. */
const savedJson = (dir: string) => fs.readFileSync(path.join(dir, 'model.json'), 'utf8');

test('mlp: Dense without bias before each BN; saved and reloaded identically', async () => {
  const r = await mlp.main({ ...tiny, out });
  expect(r.denseWeightsBeforeBn).toEqual([1, 1]);
  expect(r.loss.every(Number.isFinite)).toBe(true);
  expect(r.modelDir).toBe(path.join(out, 'mlp'));
  expect(savedJson(r.modelDir)).toMatch(/"use_bias":\s*false/);
  expect(r.reloadIdentical).toBe(true);
});

test('cnn: channels-last and channels-first train and reload; the built-in fails channels-first', async () => {
  const r = await cnn.main({ ...tinyConv, out });
  expect(r.variants.map((v) => v.dataFormat)).toEqual(['channelsLast', 'channelsFirst']);
  for (const v of r.variants) {
    expect(v.reloadIdentical).toBe(true);
    expect(v.loss.every(Number.isFinite)).toBe(true);
  }
  expect(r.builtinChannelsFirstError).toMatch(/must match the product of shape/);
  // The channels-first model saved BN layers normalizing axis 1.
  const json = JSON.parse(savedJson(r.variants[1].modelDir));
  const bns = json.modelTopology.config.layers.filter((l: { class_name: string }) => l.class_name === 'TfjsBatchNormalization');
  expect(bns).toHaveLength(2);
  for (const bn of bns) expect([bn.config.axis].flat()).toEqual([1]);
});

test('residual: a graph with Add and BN inside the block; reloads identically', async () => {
  const r = await residual.main({ ...tinyConv, out });
  expect(r.layerClasses).toContain('Add');
  expect(r.layerClasses.filter((c) => c === 'TfjsBatchNormalization')).toHaveLength(3);
  expect(r.reloadIdentical).toBe(true);
});

test('masking: BN statistics in training equal those of the unpadded steps only', async () => {
  const r = await masking.main({ ...tiny, out });
  const s = r.statistics;
  expect(s.paddedFraction).toBeGreaterThan(0.2);
  // Recovered from the moving averages ((new - m*old) / (1 - m)): float32 error ~1e-6 x 10.
  expect(r.meanDiffUnpadded).toBeLessThan(1e-4);
  s.layerVariance.forEach((v, i) => expect(Math.abs(v - s.unpaddedVariance[i])).toBeLessThan(1e-4));
  // ... and clearly not those of all steps, which an unmasked BN would use.
  expect(r.meanDiffAllSteps).toBeGreaterThan(0.05);
  expect(r.reloadIdentical).toBe(true);
});

test('finetune: frozen BN layers do not move while the new head and Dense kernels train', async () => {
  const r = await finetune.main({ ...tiny, out });
  expect(r.frozen).toHaveLength(2);
  expect(r.frozenBnMaxChange).toBe(0);
  expect(r.denseMaxChange).toBeGreaterThan(0);
  expect(fs.existsSync(path.join(r.baseDir, 'model.json'))).toBe(true);
  // Five new classes: chance is 0.2.
  expect(r.newTestAccuracy).toBeGreaterThan(0.3);
  expect(r.reloadIdentical).toBe(true);
});

test('fold: three BN layers folded, same outputs, timings measured, folded model reloads', async () => {
  const r = await fold.main({ ...tinyConv, out, repeats: 3 });
  expect(r.folded).toHaveLength(3);
  expect(r.layersAfter).toBe(r.layersBefore - 3);
  expect(r.maxAbsDiff).toBeLessThan(1e-4);
  expect(r.msPerBatchBefore).toBeGreaterThan(0);
  expect(r.msPerBatchAfter).toBeGreaterThan(0);
  expect(savedJson(r.modelDir)).not.toMatch(/BatchNormalization/);
  expect(r.reloadIdentical).toBe(true);
});

test('no example leaks tensors', async () => {
  const before = tf.memory().numTensors;
  await mlp.main({ ...tiny, out });
  await masking.main({ ...tiny, out });
  await finetune.main({ ...tiny, out });
  expect(tf.memory().numTensors).toBe(before);
});
