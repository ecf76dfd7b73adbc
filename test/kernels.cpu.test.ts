/** The fused kernels on the `cpu` backend against the references (see kernels.cases.ts). */
import * as tf from '@tensorflow/tfjs';
import { describeKernels } from './kernels.cases';

beforeAll(async () => {
  expect(await tf.setBackend('cpu')).toBe(true);
});

describeKernels('cpu');
