/**
 * RMSNormalization against a plain float64 PyTorch F.rms_norm (test/reference/reference_rms.ts)
 * and against PyTorch's own float64 values (test/fixtures/torch_rms),
 * and UnitNormalization against Keras's formula, both in float64: outputs, and the gradients
 * for x and scale against central finite differences of the float64 reference, on the cpu and
 * wasm kernels, ranks 2 to 4 and several axes; Keras's arguments and defaults; a real Keras 3
 * model that uses both.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { RMSNormalization, rmsNormalization, UnitNormalization, unitNormalization } from '../src';
import { loadModel } from '../src/io';
import { finiteDifferences } from './reference/reference_norm';
import { relativeMaxError } from './reference/reference_batch_norm';
import { rmsNorm64, unitNorm64 } from './reference/reference_rms';
import { input, lossWeights, useBackend } from './helpers/tensors';

/** PyTorch's own float64 F.rms_norm outputs and gradients (test/fixtures/torch_rms/README.md). */
interface TorchCase { shape: number[]; axes: number[]; x: number[]; weight: number[]; w: number[]; y: number[]; dx: number[]; dweight: number[] }
const TORCH = JSON.parse(fs.readFileSync(path.join(__dirname, 'fixtures', 'torch_rms', 'cases.json'), 'utf8')) as
  { torch: string; epsilon: number; cases: TorchCase[] };

/** [shape, axis argument, the resolved sorted axes]. */
const CASES: Array<[number[], number | number[], number[]]> = [
  [[6, 10], -1, [1]],
  [[3, 4, 5], -1, [2]],
  [[3, 4, 5], [1, 2], [1, 2]],
  [[2, 3, 4, 5], 1, [1]],
  [[2, 3, 4, 5], [-2, -1], [2, 3]],
];

const sumTimes = (y: number[], w: number[]) => y.reduce((s, v, i) => s + v * w[i], 0);
const closeness = (ours: tf.Tensor, reference: number[]) => relativeMaxError(ours.dataSync(), reference);

describe.each(['cpu', 'wasm'] as const)('%s', (backend) => {
  beforeAll(() => useBackend(backend));

  test.each(CASES)('RMSNormalization %p axis %p: output and gradients match float64 F.rms_norm', (shape, axis, axes) => {
    const before = tf.memory().numTensors;
    const layer = rmsNormalization({ axis });
    layer.build(shape);
    const scale = tf.randomUniform(axes.map((a) => shape[a]), 0.5, 1.5, 'float32', 4);
    layer.setWeights([scale]);
    const x = input(shape, 2, 0.5, 1.5);
    const w = lossWeights(shape);
    const [xs, ss, ws] = [x, scale, w].map((t) => Array.from(t.dataSync()));
    const eps = 1e-6;
    const ours = tf.tidy(() => {
      const loss = (a: tf.Tensor) => tf.sum(tf.mul(layer.apply(a) as tf.Tensor, w)) as tf.Scalar;
      const { grads } = tf.variableGrads(() => loss(x), [(layer.trainableWeights[0] as unknown as { val: tf.Variable }).val]);
      return [layer.apply(x) as tf.Tensor, tf.grad(loss)(x), Object.values(grads)[0]];
    });
    const loss64 = (xv: number[], sv: number[]) => sumTimes(rmsNorm64(xv, shape, axes, sv, eps), ws);
    expect(closeness(ours[0], rmsNorm64(xs, shape, axes, ss, eps))).toBeLessThan(1e-5);
    expect(closeness(ours[1], finiteDifferences((v) => loss64(v, ss), xs))).toBeLessThan(2e-4);
    expect(closeness(ours[2], finiteDifferences((v) => loss64(xs, v), ss))).toBeLessThan(2e-4);
    tf.dispose([...ours, scale, x, w, ...layer.weights.map((v) => v.read())]);
    expect(tf.memory().numTensors).toBe(before);
  });

  test.each(TORCH.cases.map((c) => [c.shape, c.axes, c] as const))(
    'RMSNormalization %p axes %p: output and gradients match PyTorch F.rms_norm\'s own float64 values', (shape, axes, c) => {
      const before = tf.memory().numTensors;
      const layer = rmsNormalization({ axis: axes, epsilon: TORCH.epsilon });
      layer.build(shape);
      const scale = tf.tensor(c.weight, axes.map((a) => shape[a]));
      layer.setWeights([scale]);
      const [x, w] = [tf.tensor(c.x, shape), tf.tensor(c.w, shape)];
      const ours = tf.tidy(() => {
        const loss = (a: tf.Tensor) => tf.sum(tf.mul(layer.apply(a) as tf.Tensor, w)) as tf.Scalar;
        const { grads } = tf.variableGrads(() => loss(x), [(layer.trainableWeights[0] as unknown as { val: tf.Variable }).val]);
        return [layer.apply(x) as tf.Tensor, tf.grad(loss)(x), Object.values(grads)[0]];
      });
      expect(closeness(ours[0], c.y)).toBeLessThan(1e-5);
      expect(closeness(ours[1], c.dx)).toBeLessThan(1e-4);
      expect(closeness(ours[2], c.dweight)).toBeLessThan(1e-4);
      tf.dispose([...ours, scale, x, w, ...layer.weights.map((v) => v.read())]);
      expect(tf.memory().numTensors).toBe(before);
    });

  test.each(CASES)('UnitNormalization %p axis %p: output and gradient match the float64 formula', (shape, axis, axes) => {
    const before = tf.memory().numTensors;
    const layer = unitNormalization({ axis });
    const x = input(shape, 3, 0.5, 1.5);
    const w = lossWeights(shape);
    const [xs, ws] = [x, w].map((t) => Array.from(t.dataSync()));
    const [y, dx] = tf.tidy(() => [layer.apply(x) as tf.Tensor,
      tf.grad((a: tf.Tensor) => tf.sum(tf.mul(layer.apply(a) as tf.Tensor, w)))(x)]);
    expect(closeness(y, unitNorm64(xs, shape, axes))).toBeLessThan(1e-5);
    expect(closeness(dx, finiteDifferences((v) => sumTimes(unitNorm64(v, shape, axes), ws), xs))).toBeLessThan(2e-4);
    tf.dispose([y, dx, x, w]);
    expect(tf.memory().numTensors).toBe(before);
  });

  test('UnitNormalization keeps an all-zero sample at zero with Keras\'s floored gradient (1e6 * dy)', () => {
    const layer = unitNormalization();
    const x = tf.tensor2d([[0, 0, 0], [3, 0, 4]]);
    const dy = tf.tensor2d([[1, -2, 0.5], [0, 0, 0]]);
    const y = layer.apply(x) as tf.Tensor;
    expect(Array.from(y.dataSync())).toEqual([0, 0, 0, expect.closeTo(0.6, 6), 0, expect.closeTo(0.8, 6)]);
    const dx = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(layer.apply(a) as tf.Tensor, dy)))(x);
    expect(Array.from(dx.dataSync()).slice(0, 3)).toEqual([1e6, -2e6, 0.5e6].map((v) => expect.closeTo(v, -1)));
    tf.dispose([x, dy, y, dx]);
  });
});

describe('Keras 3 arguments', () => {
  beforeAll(() => useBackend('cpu'));

  test('RMSNormalization: epsilon 1e-6, one weight `scale` of ones, config {axis, epsilon}', () => {
    const layer = new RMSNormalization({ name: 'rms' });
    layer.build([2, 3, 4]);
    expect(layer.weights.map((v) => v.originalName)).toEqual(['scale']);
    expect(Array.from(layer.getWeights()[0].dataSync())).toEqual([1, 1, 1, 1]);
    const config = layer.getConfig();
    expect(config).toMatchObject({ axis: -1, epsilon: 1e-6 });
    expect(Object.keys(config)).not.toContain('center');
  });

  test('arguments Keras does not take are errors naming them', () => {
    expect(() => new RMSNormalization({ center: true } as never)).toThrow(/RMSNormalization layer .*unknown argument\(s\) center/);
    expect(() => new UnitNormalization({ epsilon: 1e-3 } as never)).toThrow(/UnitNormalization layer .*unknown argument\(s\) epsilon/);
    expect(() => unitNormalization({ axis: [1, 3] }).build([2, 3, 4, 5])).toThrow('expected contiguous axes');
  });

  test('a Keras 3.15.1 model with RMSNormalization, LayerNormalization(rms_scaling) and UnitNormalization predicts as Keras did', async () => {
    const dir = path.join(__dirname, 'fixtures', 'keras3', 'models', 'token_norms');
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const ref = require(path.join(dir, 'ref.json')) as { x: number[][]; y: number[][] };
    const model = await loadModel(path.join(dir, 'model.json'));
    const got = tf.tidy(() => (model.predict(tf.tensor(ref.x)) as tf.Tensor).dataSync());
    expect(relativeMaxError(got, ref.y.flat())).toBeLessThan(1e-5);
    model.dispose();
  });
});
