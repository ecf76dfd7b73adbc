/**
 * Registers this package's kernels (cpu, wasm, webgpu) and their gradients with tfjs, once.
 * Registering for a backend that is never loaded costs nothing; other backends keep the
 * composite path unless kernels for them are registered too (under the same names, see names.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { cpuKernels } from './cpu';
import { normApplyGradConfig, normBackwardGradConfig, normForwardGradConfig } from './gradients';
import { wasmKernels } from './wasm';
import { webgpuKernels } from './webgpu';

/**
 * Registers the cpu, wasm and webgpu kernels and the gradients; safe to call many times.
 *
 * Usage: `registerNormKernels()`
 */
export function registerNormKernels(): void {
  for (const config of [...cpuKernels(), ...wasmKernels(), ...webgpuKernels()]) {
    if (tf.getKernel(config.kernelName, config.backendName) == null) tf.registerKernel(config);
  }
  for (const config of [normForwardGradConfig, normApplyGradConfig, normBackwardGradConfig]) {
    if (tf.getGradient(config.kernelName) == null) tf.registerGradient(config);
  }
}
