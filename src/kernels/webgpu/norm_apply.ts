/**
 * NormApply on WebGPU: `y = (x - mean) * inverseSqrt(variance + epsilon) * gamma + beta` with
 * the statistics given, one invocation per element. Also the last step of NormForward.
 */
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import { NormApply, NormAttrs } from '../names';
import { ElementwiseProgram, flat, input, normAttrs, viewUniforms, WebGPUBackendLike } from './program';

/** The elementwise normalization as a WebGPU program (inputs x, mean, variance, gamma, beta). */
export class NormApplyProgram extends ElementwiseProgram {
  constructor(a: NormAttrs, size: number) {
    super(a, size, ['x', 'mean', 'variance', 'gamma', 'beta'], 'Apply');
  }

  protected body(): string {
    return 'result[i] = (x[i] - mean[s]) * (inv * gamma[c]) + beta[c];';
  }
}

/**
 * Runs the apply program; returns y in x's shape.
 *
 * Usage: `const y = applyNorm(backend, attrs, { x, mean, variance, gamma, beta })`
 */
export function applyNorm(backend: WebGPUBackendLike, a: NormAttrs, t: Record<'x' | 'mean' | 'variance' | 'gamma' | 'beta', TensorInfo>): TensorInfo {
  const program = new NormApplyProgram(a, viewSizes(a).size);
  const y = backend.runWebGPUProgram(program, [t.x, t.mean, t.variance, t.gamma, t.beta].map(flat), 'float32', viewUniforms(a, 0, 0));
  return { dataId: y.dataId, shape: t.x.shape, dtype: 'float32' };
}

/**
 * The sizes of x and of the statistics under a view.
 *
 * Usage: `const { size, stats } = viewSizes(attrs)`
 */
export function viewSizes(a: NormAttrs): { size: number; stats: number } {
  return { size: a.P * a.K * a.G * a.J * a.R, stats: a.P * a.G };
}

const normApply: KernelFunc = ({ inputs, backend, attrs }) => {
  const a = normAttrs(attrs, NormApply);
  const { size, stats } = viewSizes(a);
  const t = {
    x: input(inputs, 'x', size, NormApply), mean: input(inputs, 'mean', stats, NormApply),
    variance: input(inputs, 'variance', stats, NormApply), gamma: input(inputs, 'gamma', a.channels, NormApply),
    beta: input(inputs, 'beta', a.channels, NormApply),
  };
  const b = backend as unknown as WebGPUBackendLike;
  // Nothing to compute, and a WebGPU binding may not be empty.
  if (size === 0) return b.makeTensorInfo(t.x.shape, 'float32', new Float32Array(0));
  return applyNorm(b, a, t);
};

/** NormApply for the backend named 'webgpu'. */
export const normApplyConfig: KernelConfig = { kernelName: NormApply, backendName: 'webgpu', kernelFunc: normApply };
