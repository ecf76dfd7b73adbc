/**
 * The kernels written once against a small adapter over a backend's Float32Arrays; cpu.ts
 * and wasm.ts only say how to read an input and allocate an output on their backend.
 */
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import { normApply, normBackward, normForward } from './loops';
import {
  NormApply, NormApplyInputs, NormAttrs, NormBackward, NormBackwardAttrs, NormBackwardInputs, NormForward,
  NormForwardInputs,
} from './names';

/** How a backend exposes tensor memory as Float32Arrays. */
export interface ArrayAdapter {
  /**
   * Allocates float32 outputs of the given shapes and returns them with writable arrays.
   * Called before `read`, because allocating may move memory (wasm heap growth).
   */
  allocate(backend: unknown, shapes: number[][]): { infos: TensorInfo[]; arrays: Float32Array[] };
  /** The float32 values of an input (read-only by convention). */
  read(backend: unknown, t: TensorInfo): Float32Array;
}

/**
 * The kernel configs of this package for one backend.
 *
 * Usage: `arrayKernels('cpu', cpuAdapter).forEach(tf.registerKernel)`
 */
export function arrayKernels(backendName: string, io: ArrayAdapter): KernelConfig[] {
  const kernel = (kernelName: string, kernelFunc: KernelFunc): KernelConfig => ({ kernelName, backendName, kernelFunc });
  // Inputs are read after the outputs are allocated (see ArrayAdapter), into object literals:
  // the loops are optimized against these objects' hidden classes, and an object built up
  // property by property gets a transition class that a full garbage collection drops, which
  // throws the optimized loops away (measured: a cpu inference step going from 1 ms to 30-100 ms).
  const read = (backend: unknown, t: TensorInfo | undefined): Float32Array => {
    if (t == null) throw new Error('tfjs-batchnorm kernel: expected every named input, but one is missing');
    return io.read(backend, t);
  };
  return [
    kernel(NormForward, ({ inputs, backend, attrs }) => {
      const a = attrs as unknown as NormAttrs;
      const { x, gamma, beta } = inputs as unknown as NormForwardInputs;
      const { infos, arrays: [y, mean, variance] } = io.allocate(backend, [x.shape, [a.P * a.G], [a.P * a.G]]);
      normForward({ x: read(backend, x), gamma: read(backend, gamma), beta: read(backend, beta) }, a, { y, mean, variance });
      return infos;
    }),
    kernel(NormApply, ({ inputs, backend, attrs }) => {
      const { x, mean, variance, gamma, beta } = inputs as unknown as NormApplyInputs;
      const { infos, arrays: [y] } = io.allocate(backend, [x.shape]);
      normApply({
        x: read(backend, x), mean: read(backend, mean), variance: read(backend, variance), gamma: read(backend, gamma),
        beta: read(backend, beta),
      }, attrs as unknown as NormAttrs, y);
      return infos[0];
    }),
    kernel(NormBackward, ({ inputs, backend, attrs }) => {
      const a = attrs as unknown as NormBackwardAttrs;
      const { dy, x, gamma, mean, variance } = inputs as unknown as NormBackwardInputs;
      const { infos, arrays: [dx, dgamma, dbeta] } = io.allocate(backend, [x.shape, [a.channels], [a.channels]]);
      normBackward({
        dy: read(backend, dy), x: read(backend, x), gamma: read(backend, gamma), mean: read(backend, mean),
        variance: read(backend, variance),
      }, a, a.statsDependOnX, { dx, dgamma, dbeta });
      return infos;
    }),
  ];
}
