/**
 * Backends without our kernels keep the composite path: a copy of the cpu backend registered
 * under another name with every cpu kernel but ours stands in for webgl / webgpu / tfjs-node.
 * Also: the masked case (weighted moments by tf ops, then the NormApply kernel) on cpu, and a model trained on the fast path
 * ends with the same weights as on the composite path.
 */
import * as tf from '@tensorflow/tfjs';
import { BatchNormalization } from '../src/layer/batch_normalization';
import { batchNormTraining } from '../src/ops/batch_norm';
import { hasNormKernels, normalize } from '../src/ops/normalize';
import { layerView } from '../src/core/view';
import { NORM_KERNEL_NAMES } from '../src/kernels/names';
import { checkInference, checkTraining, kernelsRun } from './kernels.cases';
import { referenceTraining, relativeMaxError } from './reference/reference_batch_norm';

const COMPOSITE = 'cpu-without-batchnorm-kernels';

beforeAll(async () => {
  tf.registerBackend(COMPOSITE, tf.findBackendFactory('cpu'));
  for (const k of tf.getKernelsForBackend('cpu')) {
    if (!(NORM_KERNEL_NAMES as readonly string[]).includes(k.kernelName)) tf.registerKernel({ ...k, backendName: COMPOSITE });
  }
  expect(await tf.setBackend(COMPOSITE)).toBe(true);
});

test('a backend without our kernels is detected and runs no kernel of ours', async () => {
  expect(hasNormKernels()).toBe(false);
  expect(hasNormKernels('cpu')).toBe(true);
  const x = tf.randomNormal([4, 3]);
  const names = await kernelsRun(() => tf.grads((a: tf.Tensor) => batchNormTraining({ x: a, gamma: null, beta: null, axis: 1, epsilon: 1e-3 }).y)([x]));
  expect(names.some((n) => n.startsWith('TfjsNorm'))).toBe(false);
  x.dispose();
});

test.each([[[6, 4], 1], [[2, 3, 4, 5], 1], [[2, 3, 4, 5], 3]] as Array<[number[], number]>)(
  'composite path on %p axis %p matches the reference', (shape, axis) => {
    checkTraining(shape, axis, true, true);
    checkTraining(shape, axis, false, false);
    checkInference(shape, axis, true, true);
  });

test('masked training on cpu normalizes with the NormApply kernel and matches the reference, gradients too', async () => {
  await tf.setBackend('cpu');
  const x = tf.randomNormal([3, 5, 4], 1, 2, 'float32', 2);
  const mask = tf.tensor2d([[1, 1, 0, 1, 0], [1, 1, 1, 1, 1], [0, 1, 0, 0, 1]], undefined, 'bool');
  const names = await kernelsRun(() => Object.values(batchNormTraining({ x, gamma: null, beta: null, axis: 2, epsilon: 1e-3 }, mask)));
  expect(names).toContain('TfjsNorm_Apply');
  const ours = batchNormTraining({ x, gamma: null, beta: null, axis: 2, epsilon: 1e-3 }, mask);
  const ref = referenceTraining(x, null, null, 2, 1e-3, mask);
  expect(relativeMaxError(ours.mean.dataSync(), ref.mean.dataSync())).toBeLessThan(1e-5);
  expect(relativeMaxError(ours.y.dataSync(), ref.y.dataSync())).toBeLessThan(1e-5);
  // The gradient through the weighted moments (autodiff) and NormApply's statistics gradients.
  const gamma = tf.randomUniform([4], 0.5, 2, 'float32', 3);
  const dy = tf.randomNormal([3, 5, 4], 0, 1, 'float32', 4);
  const loss = (y: tf.Tensor) => tf.sum(tf.mul(y, dy));
  const oursGrads = tf.grads((a: tf.Tensor, g: tf.Tensor) => {
    const r = batchNormTraining({ x: a, gamma: g, beta: null, axis: 2, epsilon: 1e-3 }, mask);
    return loss(r.y);
  })([x, gamma]);
  const refGrads = tf.grads((a: tf.Tensor, g: tf.Tensor) => loss(referenceTraining(a, g, null, 2, 1e-3, mask).y))([x, gamma]);
  oursGrads.forEach((g, i) => expect(relativeMaxError(g.dataSync(), refGrads[i].dataSync())).toBeLessThan(1e-5));
  tf.dispose([x, mask, gamma, dy, ours.y, ours.mean, ours.variance, ref.y, ref.mean, ref.variance, ...oursGrads, ...refGrads]);
  await tf.setBackend(COMPOSITE);
});

test('a model trained on the fast path (cpu) ends with the composite path\'s weights', async () => {
  const train = async (backend: string) => {
    await tf.setBackend(backend);
    const model = tf.sequential({
      layers: [
        tf.layers.conv2d({ inputShape: [6, 6, 2], filters: 3, kernelSize: 3, kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }),
        new BatchNormalization({ axis: -1 }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 2, kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
        new BatchNormalization({ axis: 1 }),
      ],
    });
    model.compile({ optimizer: tf.train.sgd(0.1), loss: 'meanSquaredError' });
    const xs = tf.randomNormal([8, 6, 6, 2], 0, 1, 'float32', 3);
    const ys = tf.randomNormal([8, 2], 0, 1, 'float32', 4);
    for (let i = 0; i < 3; i++) await model.trainOnBatch(xs, ys);
    const weights = model.getWeights().map((w) => Array.from(w.dataSync()));
    tf.dispose([xs, ys]);
    model.dispose();
    return weights;
  };
  const fast = await train('cpu');
  const composite = await train(COMPOSITE);
  expect(fast.length).toBe(composite.length);
  // gamma, beta, moving mean and moving variance of both layers, plus the conv / dense weights.
  fast.forEach((w, i) => expect(relativeMaxError(w, composite[i])).toBeLessThan(1e-5));
});

test('the per-sample ops leave nothing behind on the composite path', () => {
  const x = tf.randomNormal([3, 4, 5], 1, 2, 'float32', 6);
  const before = tf.memory().numTensors;
  const view = layerView(x.shape, 2, 2);
  tf.dispose(normalize({ x, gamma: null, beta: null, view, epsilon: 1e-3 }));
  tf.dispose(tf.grad((a: tf.Tensor) => normalize({ x: a, gamma: null, beta: null, view, epsilon: 1e-3, center: false }))(x));
  expect(tf.memory().numTensors).toBe(before);
  x.dispose();
});
