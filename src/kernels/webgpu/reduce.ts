/**
 * The sums of the normalization family on WebGPU, one program: one workgroup per output (a
 * statistic's (p, g) group, or a channel of gamma), whose invocations each add a strided share
 * of its members, then add their partial sums in shared memory by halving (a tree reduction:
 * log2(workgroup size) steps, each after a barrier), as onnxruntime-web's WebGPU
 * InstanceNormalization and tfjs-backend-webgpu's own reductions do.
 *
 *   mean      over (k, j, r) of each (p, g):  sum(x) / n
 *   variance  over (k, j, r) of each (p, g):  sum((x - mean)^2) / n   (sum(x^2) / n when not centered)
 *   groupSums over (k, j, r) of each (p, g):  [S1 = sum(gamma*dy), S2 = sum(gamma*dy*xhat)], as [2, P*G]
 *   dbeta     over every position of channel c:  sum(dy)
 *   dgamma    over every position of channel c:  sum(dy * xhat)
 *
 * with xhat = (x - mean) * inverseSqrt(variance + epsilon) and n = K * J * R.
 */
import type { TensorInfo } from '@tensorflow/tfjs';
import type { NormAttrs } from '../names';
import {
  affineAxes, AXES, Axis, axisSize, channelIndex, coordsWithin, flat, flatIndex, statIndex, viewUniforms, ViewProgram,
  WebGPUBackendLike,
} from './program';

export type Quantity = 'mean' | 'variance' | 'groupSums' | 'dbeta' | 'dgamma';

/** The inputs each quantity reads, in binding order. */
const INPUTS: Record<Quantity, string[]> = {
  mean: ['x'],
  variance: ['x', 'mean'],
  groupSums: ['dy', 'x', 'gamma', 'mean', 'variance'],
  dbeta: ['dy'],
  dgamma: ['dy', 'x', 'mean', 'variance'],
};

const STAT_AXES: readonly Axis[] = ['p', 'g'];

/** Which axes pick the output (fixed within a workgroup) and which its members run over. */
function split(a: NormAttrs, quantity: Quantity): { fixed: Axis[]; free: Axis[] } {
  const fixed = quantity === 'dbeta' || quantity === 'dgamma' ? affineAxes(a) : [...STAT_AXES];
  return { fixed, free: AXES.filter((x) => !fixed.includes(x)) };
}

function product(a: NormAttrs, axes: readonly Axis[]): number {
  return axes.reduce((p, x) => p * axisSize(a, x), 1);
}

const pow2Ceil = (n: number) => 2 ** Math.ceil(Math.log2(Math.max(1, n)));

// Chosen by timing on SwiftShader (see BENCHMARKS.md, webgpu): every barrier step costs much
// more there than adding more values per invocation, so the slices per output stay few.
const WORKGROUP_SIZE = 64;
const MIN_SLICES = 4;
const MEMBERS_PER_INVOCATION = 1024;
const CONTIGUOUS_OUTPUTS = 16;

/**
 * How a workgroup splits its invocations: `outs` outputs side by side, each summed by `slices`
 * invocations (then halved in shared memory: log2(slices) barrier steps). Several outputs per
 * workgroup keep the workgroup count, and so the barriers, low where groups are small; where
 * the outputs lie side by side in memory (gamma's channel last), neighbouring invocations take
 * neighbouring outputs, so that their reads are contiguous.
 */
export function reduceShape(outputs: number, members: number, outputsContiguous: boolean): { outs: number; slices: number } {
  const outs = outputsContiguous ? Math.min(CONTIGUOUS_OUTPUTS, pow2Ceil(outputs)) : 1;
  const most = WORKGROUP_SIZE / outs;
  const slices = Math.max(Math.min(MIN_SLICES, most), Math.min(most, pow2Ceil(members / MEMBERS_PER_INVOCATION)));
  return { outs: outputsContiguous ? outs : WORKGROUP_SIZE / slices, slices };
}

/** One of the sums above as a WebGPU program. */
export class NormReduceProgram extends ViewProgram {
  readonly outputs: number;
  readonly members: number;
  private readonly fixed: Axis[];
  private readonly free: Axis[];
  private readonly outs: number;
  private readonly slices: number;
  private readonly outputsContiguous: boolean;

  constructor(a: NormAttrs, private readonly quantity: Quantity) {
    const { fixed, free } = split(a, quantity);
    const outputs = product(a, fixed);
    const members = product(a, free);
    const live = AXES.filter((x) => axisSize(a, x) > 1);
    const outputsContiguous = live.length > 0 && fixed.includes(live[live.length - 1]);
    const { outs, slices } = reduceShape(outputs, members, outputsContiguous);
    super(a, quantity === 'groupSums' ? 2 * outputs : outputs, quantity === 'variance' && !a.center ? ['x'] : INPUTS[quantity],
      `Reduce_${quantity}_${a.center ? 'c' : 'u'}_${outputsContiguous ? 'o' : 'm'}${outs}x${slices}`, outs * slices, Math.ceil(outputs / outs));
    this.fixed = fixed;
    this.free = free;
    this.outputs = outputs;
    this.members = members;
    this.outs = outs;
    this.slices = slices;
    this.outputsContiguous = outputsContiguous;
  }

  getUserCode(): string {
    const a = this.a;
    const pair = this.quantity === 'groupSums';
    const type = pair ? 'vec2<f32>' : 'f32';
    // The statistic's index is fixed per workgroup when it reads no member axis.
    const statFixed = !this.free.some((x) => (x === 'p' || x === 'g') && axisSize(a, x) > 1);
    const stat = (prefix: string) => `let s = ${statIndex(a)};\n${prefix}`;
    let prelude = '';
    let member = '';
    let term = '';
    switch (this.quantity) {
      case 'mean':
        term = 'x[i]';
        break;
      case 'variance':
        prelude = a.center ? stat('let mu = mean[s];') : '';
        term = a.center ? '(x[i] - mu) * (x[i] - mu)' : 'x[i] * x[i]';
        break;
      case 'groupSums':
        prelude = stat('let mu = mean[s];\nlet inv = inverseSqrt(variance[s] + uniforms.epsilon);');
        member = `let gdy = gamma[${channelIndex(a)}] * dy[i];`;
        term = 'vec2<f32>(gdy, gdy * (x[i] - mu) * inv)';
        break;
      case 'dbeta':
        term = 'dy[i]';
        break;
      case 'dgamma': {
        const xhat = '(x[i] - mean[s]) * inverseSqrt(variance[s] + uniforms.epsilon)';
        if (statFixed) {
          prelude = stat('let mu = mean[s];\nlet inv = inverseSqrt(variance[s] + uniforms.epsilon);');
          term = 'dy[i] * (x[i] - mu) * inv';
        } else {
          member = `let s = ${statIndex(a)};`;
          term = `dy[i] * ${xhat}`;
        }
        break;
      }
    }
    const scale = this.quantity === 'mean' || this.quantity === 'variance' ? ' / uniforms.count' : '';
    const write = pair
      ? 'result[o] = partial[0].x;\n      result[uniforms.outputs + o] = partial[0].y;'
      : `result[o] = partial[0]${scale};`;
    // Invocation lid sums slice `sl` of output `t` of the workgroup's outputs; the slices of one
    // output are `step` apart in shared memory.
    const [outs, slices] = [this.outs, this.slices];
    const step = this.outputsContiguous ? outs : 1;
    const place = this.outputsContiguous ? `let t = lid % ${outs};\n        let sl = lid / ${outs};`
      : `let sl = lid % ${slices};\n        let t = lid / ${slices};`;
    return `
      var<workgroup> partial : array<${type}, ${outs * slices}>;

      fn main(index : i32) {
        let lid = i32(localIndex);
        ${place}
        // The workgroup's place in the dispatch, wherever the backend put it.
        let w = i32(workgroupId.z * numWorkgroups.x * numWorkgroups.y + workgroupId.y * numWorkgroups.x + workgroupId.x);
        let o = w * ${outs} + t;
        var acc = ${type}(0.0);
        if (o < uniforms.outputs) {
          ${coordsWithin(a, this.fixed, 'o', 'rest')}
          ${prelude}
          for (var m = sl; m < uniforms.members; m = m + ${slices}) {
            ${coordsWithin(a, this.free, 'm', 'left')}
            let i = ${flatIndex(a)};
            ${member}
            acc = acc + ${term};
          }
        }
        partial[lid] = acc;
        workgroupBarrier();
        for (var half = ${slices / 2}; half > 0; half = half / 2) {
          if (sl < half) {
            partial[lid] = partial[lid] + partial[lid + half * ${step}];
          }
          workgroupBarrier();
        }
        if (sl == 0 && o < uniforms.outputs) {
          ${write.replace(/partial\[0\]/g, 'partial[lid]')}
        }
      }
    `;
  }
}

/**
 * Runs one sum on `inputs` (named as INPUTS lists them); returns a flat float32 tensor the
 * caller owns.
 *
 * Usage: `const mean = reduce(backend, attrs, 'mean', { x })`
 */
export function reduce(backend: WebGPUBackendLike, a: NormAttrs, quantity: Quantity, inputs: Record<string, TensorInfo>): TensorInfo {
  const program = new NormReduceProgram(a, quantity);
  return backend.runWebGPUProgram(program, program.variableNames.map((name) => flat(inputs[name])), 'float32',
    viewUniforms(a, program.outputs, program.members));
}
