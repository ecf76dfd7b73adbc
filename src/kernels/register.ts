/**
 * Registers this package's kernels (cpu, wasm, webgpu) and their gradients with tfjs, once. Registering
 * for a backend that is never loaded costs nothing; other backends keep the composite path.
 */
import * as tf from '@tensorflow/tfjs';
import { cpuKernels } from './cpu';
import { groupNormGradConfig, inferenceGradConfig, secondOrderGradConfigs, trainingGradConfig } from './gradients';
import { BatchNormTraining, GROUP_KERNEL_NAMES, GroupNormForward, KERNEL_NAMES } from './names';
import { wasmKernels } from './wasm';
import { webgpuKernels } from './webgpu';

/**
 * Registers the kernels and gradients; safe to call many times.
 *
 * Usage: `registerBatchNormKernels()`
 */
export function registerBatchNormKernels(): void {
  for (const config of [...cpuKernels(), ...wasmKernels(), ...webgpuKernels()]) {
    if (tf.getKernel(config.kernelName, config.backendName) == null) tf.registerKernel(config);
  }
  for (const config of [trainingGradConfig, inferenceGradConfig, groupNormGradConfig, ...secondOrderGradConfigs]) {
    if (tf.getGradient(config.kernelName) == null) tf.registerGradient(config);
  }
}

const served = new Map<string, boolean>();

/**
 * Whether `backendName` (default: the active backend) runs this package's kernels.
 *
 * Usage: `if (hasBatchNormKernels()) { ... }`
 */
export function hasBatchNormKernels(backendName: string = tf.getBackend()): boolean {
  // Asked on every layer call, where small inputs take ~10 us: remember the answer per backend.
  let known = served.get(backendName);
  if (known == null) {
    known = KERNEL_NAMES.every((name) => tf.getKernel(name, backendName) != null) &&
      tf.getGradient(BatchNormTraining) != null;
    served.set(backendName, known);
  }
  return known;
}

const groupServed = new Map<string, boolean>();

/**
 * Whether `backendName` (default: the active backend) runs the per-sample normalization kernels.
 *
 * Usage: `if (hasGroupNormKernels()) { ... }`
 */
export function hasGroupNormKernels(backendName: string = tf.getBackend()): boolean {
  let known = groupServed.get(backendName);
  if (known == null) {
    known = GROUP_KERNEL_NAMES.every((name) => tf.getKernel(name, backendName) != null) &&
      tf.getGradient(GroupNormForward) != null;
    groupServed.set(backendName, known);
  }
  return known;
}
