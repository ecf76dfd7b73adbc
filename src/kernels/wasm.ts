/**
 * The `wasm` backend's kernels: the loops of loops.ts on Float32Array views of the WebAssembly
 * heap, where that backend keeps every tensor. No copies in or out; outputs are allocated with
 * the backend's own `makeOutput` first, since a `malloc` may grow (and so detach) the heap.
 * Needs nothing from @tensorflow/tfjs-backend-wasm at import time: the backend object arrives
 * with each kernel call.
 */
import type { KernelConfig, TensorInfo } from '@tensorflow/tfjs';
import { ArrayAdapter, arrayKernels } from './array_kernels';

/** The part of BackendWasm used here. */
interface WasmBackendLike {
  makeOutput(shape: number[], dtype: 'float32'): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): Float32Array;
}

const wasmAdapter: ArrayAdapter = {
  allocate(backend, shapes) {
    const wasm = backend as WasmBackendLike;
    const infos = shapes.map((shape) => wasm.makeOutput(shape, 'float32'));
    return { infos, arrays: infos.map((t) => wasm.typedArrayFromHeap(t)) };
  },
  read(backend, t) {
    if (t.dtype !== 'float32') throw new Error(`tfjs-batchnorm wasm kernel: float32 input expected, got ${t.dtype}`);
    return (backend as WasmBackendLike).typedArrayFromHeap(t);
  },
};

/**
 * Kernel configs for the `wasm` backend.
 *
 * Usage: `wasmKernels().forEach((k) => tf.registerKernel(k))`
 */
export function wasmKernels(): KernelConfig[] {
  return arrayKernels('wasm', wasmAdapter);
}
