/**
 * The fused kernels on the `wasm` backend (JS loops on views of the WebAssembly heap) against
 * the references computed with the wasm backend's own ops (see kernels.cases.ts).
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { describeKernels } from './kernels.cases';

beforeAll(async () => {
  expect(await tf.setBackend('wasm')).toBe(true);
});

describeKernels('wasm');

test('wasm: results survive heap growth between calls (views are taken after allocation)', () => {
  // A large allocation in between forces the heap to grow; earlier outputs must stay intact.
  const x = tf.randomNormal([64, 8], 0, 1, 'float32', 3);
  const { y, mean, variance } = (require('../src/ops/batch_norm') as typeof import('../src/ops/batch_norm'))
    .batchNormTraining({ x, gamma: null, beta: null, axis: 1, epsilon: 1e-3 });
  const before = Array.from(y.dataSync());
  const big = tf.zeros([32 * 1024 * 1024]);
  expect(Array.from(y.dataSync())).toEqual(before);
  tf.dispose([x, y, mean, variance, big]);
});
