/**
 * The fused kernels on the `wasm` backend (JS loops on views of the WebAssembly heap) against
 * the references computed with the wasm backend's own ops (see kernels.cases.ts).
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { batchNormTraining } from '../src/ops/batch_norm';
import { describeKernels } from './kernels.cases';
import { relativeMaxError } from './reference/reference_batch_norm';

beforeAll(async () => {
  expect(await tf.setBackend('wasm')).toBe(true);
});

describeKernels('wasm');

test('wasm: a kernel whose output allocation grows the heap still reads its inputs', () => {
  // Taking input views before allocating the outputs would read detached (empty) arrays here.
  const heapBytes = () => (tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.buffer.byteLength;
  const x = tf.randomUniform([1 << 21, 4], -1, 3, 'float32', 9);
  const before = heapBytes();
  const { y, mean, variance } = batchNormTraining({ x, gamma: null, beta: null, axis: 1, epsilon: 1e-3 });
  expect(heapBytes()).toBeGreaterThan(before);
  // Float64 statistics of the same values (tf.moments' float32 sums over 2M values are off by
  // ~1e-3 here); detached inputs would give zeros or NaN.
  const values = x.dataSync();
  const sum = new Float64Array(4);
  const sumSq = new Float64Array(4);
  values.forEach((v, i) => { sum[i % 4] += v; });
  const m64 = sum.map((v) => v / (1 << 21));
  values.forEach((v, i) => { sumSq[i % 4] += (v - m64[i % 4]) ** 2; });
  expect(relativeMaxError(mean.dataSync(), m64)).toBeLessThan(1e-5);
  expect(relativeMaxError(variance.dataSync(), sumSq.map((v) => v / (1 << 21)))).toBeLessThan(1e-5);
  const yMoments = tf.moments(y, 0);
  yMoments.mean.dataSync().forEach((m) => expect(Math.abs(m)).toBeLessThan(1e-3));
  tf.dispose([x, y, mean, variance, yMoments.mean, yMoments.variance]);
});
