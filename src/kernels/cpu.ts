/**
 * The `cpu` backend's kernels: the loops of loops.ts straight on the backend's Float32Arrays.
 * Its own broadcasting binary ops take a per-element generic path (index arrays per element),
 * which is what makes the composite BatchNormalization slow there.
 */
import type { KernelConfig, TensorInfo } from '@tensorflow/tfjs';
import { ArrayAdapter, arrayKernels } from './array_kernels';

/** The part of MathBackendCPU used here. */
interface CpuBackendLike {
  data: { get(dataId: object): { values?: unknown } };
  makeTensorInfo(shape: number[], dtype: 'float32', values: Float32Array): TensorInfo;
}

const cpuAdapter: ArrayAdapter = {
  allocate(backend, shapes) {
    const cpu = backend as CpuBackendLike;
    const arrays = shapes.map((shape) => new Float32Array(shape.reduce((a, b) => a * b, 1)));
    // makeTensorInfo stores the array itself, so filling it afterwards fills the tensor.
    return { infos: shapes.map((shape, i) => cpu.makeTensorInfo(shape, 'float32', arrays[i])), arrays };
  },
  read(backend, t) {
    const values = (backend as CpuBackendLike).data.get(t.dataId).values;
    if (values instanceof Float32Array) return values;
    return Float32Array.from(values as ArrayLike<number>);
  },
};

/**
 * Kernel configs for the `cpu` backend.
 *
 * Usage: `cpuKernels().forEach((k) => tf.registerKernel(k))`
 */
export function cpuKernels(): KernelConfig[] {
  return arrayKernels('cpu', cpuAdapter);
}
