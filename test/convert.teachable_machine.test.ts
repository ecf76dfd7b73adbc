/**
 * The real Teachable Machine export (Sequential > Sequential > functional MobileNetV2, 52 BNs):
 * load through file://, convert to custom and back, fold, and compare predictions each time.
 * Predictions are compared on the softmax output and, more sensitively, on the MobileNet
 * feature map (the softmax of a random input is nearly one-hot and hides small errors).
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { foldBatchNorm, convertNormalization } from '../src/convert';
// Registers the file:// routers this test loads and saves through.
import '../src/io';
import { cleanUp, leafClassNames, maxAbsDiff, TM_JSON, tempDir } from './fixtures/helpers';

const countBn = (m: tf.LayersModel, cls = 'BatchNormalization') => leafClassNames(m).filter((c) => c === cls).length;
/** The functional MobileNetV2 inside sequential_12 > sequential_9. */
const mobilenet = (m: tf.LayersModel) => (m.layers[0] as tf.LayersModel).layers[0] as tf.LayersModel;

let original: tf.LayersModel;
let x: tf.Tensor;
let y0: tf.Tensor;
let features0: tf.Tensor;
let dir: string;

function outputs(m: tf.LayersModel): [tf.Tensor, tf.Tensor] {
  return [m.predict(x) as tf.Tensor, mobilenet(m).predict(x) as tf.Tensor];
}

/** Checks `m` against the original (feature map, and softmax output unless `featuresOnly`). */
function expectSamePredictions(m: tf.LayersModel, tol: number, featuresOnly = false): void {
  const features = mobilenet(m).predict(x) as tf.Tensor;
  expect(maxAbsDiff(features, features0)).toBeLessThan(tol);
  features.dispose();
  if (featuresOnly) return; // saves a predict (seconds on cpu) where the head is untouched
  const y = m.predict(x) as tf.Tensor;
  expect(maxAbsDiff(y, y0)).toBeLessThan(tol);
  y.dispose();
}

beforeAll(async () => {
  dir = tempDir('tfjs-bn-tm-');
  original = await tf.loadLayersModel(`file://${TM_JSON}`);
  // MobileNet's input range: images scaled to [-1, 1].
  x = tf.randomUniform([1, 224, 224, 3], -1, 1, 'float32', 42);
  [y0, features0] = outputs(original);
});

afterAll(() => {
  tf.dispose([x, y0, features0]);
  original.dispose();
  cleanUp(dir);
});

it('loads through file:// with its nested structure and 52 BatchNormalization layers', () => {
  expect(original.getClassName()).toBe('Sequential');
  expect(mobilenet(original).layers).toHaveLength(155);
  expect(countBn(original)).toBe(52);
  expect(y0.shape).toEqual([1, 12]);
  expect(tf.sum(y0).dataSync()[0]).toBeCloseTo(1, 5);
  // The feature map varies, so it is a meaningful thing to compare.
  expect(tf.moments(features0).variance.dataSync()[0]).toBeGreaterThan(1e-3);
});

it('converts to custom and back, through saved files, predicting the same', async () => {
  const custom = (await convertNormalization(original, 'custom', ['batchNormalization'])).model;
  expect(countBn(custom, 'TfjsBatchNormalization')).toBe(52);
  expect(countBn(custom)).toBe(0);
  expectSamePredictions(custom, 1e-5, true);
  await custom.save(`file://${dir}/custom`);
  const reloaded = await tf.loadLayersModel(`file://${dir}/custom/model.json`);
  expectSamePredictions(reloaded, 1e-5, true);

  const stock = (await convertNormalization(reloaded, 'stock', ['batchNormalization'])).model;
  expect(countBn(stock)).toBe(52);
  expectSamePredictions(stock, 1e-5);
  expect(maxAbsDiff(stock.getWeights(), original.getWeights())).toBe(0);
  [custom, reloaded, stock].forEach((m) => m.dispose());
});

it('folds all 52 BNs into the convolutions before them, predicting the same within 1e-4', async () => {
  const before = tf.memory().numTensors;
  const { model: folded, folded: done, kept } = await foldBatchNorm(original);
  expect(tf.memory().numTensors - before).toBe(folded.weights.length);
  expect(kept).toEqual([]);
  expect(done).toHaveLength(52);
  expect(new Set(done.map((d) => d.intoClass))).toEqual(new Set(['Conv2D', 'DepthwiseConv2D']));
  expect(countBn(folded)).toBe(0);
  expect(mobilenet(folded).layers).toHaveLength(155 - 52);
  // Every other layer is still there: the residual Adds, the padding, the ReLU6s.
  const others = (m: tf.LayersModel) => leafClassNames(m).filter((c) => c !== 'BatchNormalization').sort();
  expect(others(folded)).toEqual(others(original));
  // 52 BNs held 4 x C weights each; folding keeps C of them as new conv biases.
  expect(folded.countParams()).toBeLessThan(original.countParams());
  expectSamePredictions(folded, 1e-4);

  await folded.save(`file://${dir}/folded`);
  const text = fs.readFileSync(path.join(dir, 'folded', 'model.json'), 'utf8');
  expect(text).not.toMatch(/"class_name":"(Tfjs)?BatchNormalization"/);
  const reloaded = await tf.loadLayersModel(`file://${dir}/folded/model.json`);
  expectSamePredictions(reloaded, 1e-4);
  [folded, reloaded].forEach((m) => m.dispose());
});
