/**
 * NormBackward on WebGPU. With xhat = (x - mean) * invStd, invStd = inverseSqrt(variance + eps),
 * n = K * J * R values per statistic, and sums S1 = sum(gamma*dy), S2 = sum(gamma*dy*xhat)
 * over each (p, g) group:
 *
 *   dbeta[c]  = sum(dy),  dgamma[c] = sum(dy * xhat)          (over every position of channel c)
 *   dx = invStd * (gamma*dy - (S1 + xhat * S2) / n)            statistics depend on x, centered
 *   dx = invStd * (gamma*dy - xhat * S2 / n)                   ... not centered (mean fixed at 0)
 *   dx = invStd * gamma * dy                                   statistics are constants
 *
 * Where each group holds exactly one channel and each channel one group (BatchNormalization:
 * P = 1, J = 1, gamma along g), S1 = gamma * dbeta and S2 = gamma * dgamma, so the dx program
 * reads the channel sums and the group sums are not computed: three dispatches, else four.
 */
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import { NormAttrs, NormBackward, NormBackwardAttrs } from '../names';
import { viewSizes } from './norm_apply';
import { ElementwiseProgram, flat, input, normAttrs, viewUniforms, WebGPUBackendLike } from './program';
import { reduce } from './reduce';

/** Where dx's program gets S1 and S2 from. */
type SumsFrom = 'none' | 'channels' | 'groups';

/** dx as a WebGPU program. */
export class NormGradXProgram extends ElementwiseProgram {
  constructor(a: NormAttrs, size: number, private readonly sums: SumsFrom) {
    super(a, size, ['dy', 'x', 'gamma', 'mean', 'variance', ...(sums === 'channels' ? ['dbeta', 'dgamma'] : sums === 'groups' ? ['sums'] : [])],
      `GradX_${sums}_${a.center ? 'c' : 'u'}`);
  }

  protected body(): string {
    const s1 = { none: '', channels: 'g0 * dbeta[c]', groups: 'sums[s]' }[this.sums];
    const s2 = { none: '', channels: 'g0 * dgamma[c]', groups: 'sums[uniforms.nP * uniforms.nG + s]' }[this.sums];
    const dx = this.sums === 'none' ? 'inv * gdy'
      : this.a.center ? `inv * (gdy - (${s1} + xhat * ${s2}) / uniforms.count)`
        : `inv * (gdy - xhat * ${s2} / uniforms.count)`;
    return `
      let g0 = gamma[c];
      let gdy = g0 * dy[i];
      let xhat = (x[i] - mean[s]) * inv;
      result[i] = ${dx};`;
  }
}

/** Whether each (p, g) group holds exactly one channel and each channel one group. */
function oneChannelPerGroup(a: NormAttrs): boolean {
  return a.P === 1 && a.J === 1 && a.cG === 1 && (a.cK === 0 || a.K === 1) && a.channels === a.G;
}

const normBackward: KernelFunc = ({ inputs, backend, attrs }) => {
  const a = normAttrs(attrs, NormBackward);
  const statsDependOnX = (attrs as NormBackwardAttrs).statsDependOnX;
  const { size, stats } = viewSizes(a);
  const t = {
    dy: input(inputs, 'dy', size, NormBackward), x: input(inputs, 'x', size, NormBackward),
    gamma: input(inputs, 'gamma', a.channels, NormBackward), mean: input(inputs, 'mean', stats, NormBackward),
    variance: input(inputs, 'variance', stats, NormBackward),
  };
  const b = backend as unknown as WebGPUBackendLike;
  if (size === 0) {
    // Sums over nothing are 0; a WebGPU binding may not be empty.
    const zeros = () => b.makeTensorInfo([a.channels], 'float32', new Float32Array(a.channels));
    return [b.makeTensorInfo(t.x.shape, 'float32', new Float32Array(0)), zeros(), zeros()];
  }
  const dbeta = reduce(b, a, 'dbeta', t);
  const dgamma = reduce(b, a, 'dgamma', t);
  const sums: SumsFrom = !statsDependOnX ? 'none' : oneChannelPerGroup(a) ? 'channels' : 'groups';
  const extra: TensorInfo[] = sums === 'channels' ? [dbeta, dgamma] : sums === 'groups' ? [reduce(b, a, 'groupSums', t)] : [];
  const program = new NormGradXProgram(a, size, sums);
  const dx = b.runWebGPUProgram(program, [t.dy, t.x, t.gamma, t.mean, t.variance, ...extra].map(flat), 'float32', viewUniforms(a, 0, 0));
  if (sums === 'groups') b.disposeData(extra[0].dataId);
  return [{ dataId: dx.dataId, shape: t.x.shape, dtype: 'float32' }, dgamma, dbeta];
};

/** NormBackward for the backend named 'webgpu'. */
export const normBackwardConfig: KernelConfig = { kernelName: NormBackward, backendName: 'webgpu', kernelFunc: normBackward };
