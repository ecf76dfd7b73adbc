/**
 * NormForward on WebGPU: the statistics by workgroup reductions (mean first, then the variance
 * around it: two passes, which keep the variance exact where one-pass formulas cancel), then
 * the elementwise apply program. Three dispatches; x is read three times.
 */
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import { NormForward } from '../names';
import { applyNorm, viewSizes } from './norm_apply';
import { input, normAttrs, WebGPUBackendLike } from './program';
import { reduce } from './reduce';

const normForward: KernelFunc = ({ inputs, backend, attrs }) => {
  const a = normAttrs(attrs, NormForward);
  const { size, stats } = viewSizes(a);
  const x = input(inputs, 'x', size, NormForward);
  const gamma = input(inputs, 'gamma', a.channels, NormForward);
  const beta = input(inputs, 'beta', a.channels, NormForward);
  const b = backend as unknown as WebGPUBackendLike;
  if (size === 0) {
    // An empty input: statistics of nothing are NaN (as tf.moments gives); a WebGPU binding may not be empty.
    const nan = () => b.makeTensorInfo([stats], 'float32', new Float32Array(stats).fill(NaN));
    return [b.makeTensorInfo(x.shape, 'float32', new Float32Array(0)), nan(), nan()];
  }
  // Not centered (RMSNormalization): the mean is 0 by definition, so it is uploaded, not computed.
  const mean: TensorInfo = a.center ? reduce(b, a, 'mean', { x }) : b.makeTensorInfo([stats], 'float32', new Float32Array(stats));
  const variance = reduce(b, a, 'variance', { x, mean });
  const y = applyNorm(b, a, { x, mean, variance, gamma, beta });
  return [y, mean, variance];
};

/** NormForward for the backend named 'webgpu'. */
export const normForwardConfig: KernelConfig = { kernelName: NormForward, backendName: 'webgpu', kernelFunc: normForward };
