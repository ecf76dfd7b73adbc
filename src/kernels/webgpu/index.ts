/**
 * The WebGPU kernels of the normalization family (WGSL, run through tfjs-backend-webgpu's own
 * program runner), registered under the backend name 'webgpu'. Nothing here imports
 * @tensorflow/tfjs-backend-webgpu: a registration costs nothing until a backend of that name
 * runs one of them, and then the backend object arrives with the call.
 */
import type { KernelConfig } from '@tensorflow/tfjs';
import { normApplyConfig } from './norm_apply';
import { normBackwardConfig } from './norm_backward';
import { normForwardConfig } from './norm_forward';

/**
 * Kernel configs for the `webgpu` backend: NormForward, NormApply, NormBackward.
 *
 * Usage: `webgpuKernels().forEach((k) => tf.registerKernel(k))`
 */
export function webgpuKernels(): KernelConfig[] {
  return [normForwardConfig, normApplyConfig, normBackwardConfig];
}
