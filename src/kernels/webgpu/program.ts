/**
 * What the WebGPU kernels share: the part of @tensorflow/tfjs-backend-webgpu they use (declared
 * here, not imported, so the package stays out of every bundle: the backend object arrives with
 * each kernel call), the `[P, K, G, J, R]` view's coordinates written out in WGSL, and the
 * checks of a kernel's inputs.
 *
 * Programs follow tfjs-backend-webgpu's own: a class with the fields its backend reads and a
 * `getUserCode()` giving the WGSL body. The backend prepends the bindings (`result`, one
 * read-only array per entry of `variableNames`) and a `Uniforms` struct (its own fields, then
 * those declared in `uniforms`), compiles once per `shaderKey` (extended with the input ranks and
 * dtypes) and records the dispatch. Every tensor is bound flat (`[size]`), so no shader depends
 * on the caller's rank.
 */
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import type { NormAttrs } from '../names';

/** One uniform value, in the order of the program's `uniforms` declaration. */
export interface ProgramUniform {
  type: 'int32' | 'float32';
  data: number[];
}

/** The fields of tfjs-backend-webgpu's WebGPUProgram that its backend reads. */
export interface WebGPUProgram {
  outputShape: number[];
  shaderKey: string;
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  variableNames: string[];
  uniforms: string;
  workgroupSize: [number, number, number];
  /** Adds `uniforms.size` (the output's size). */
  size: boolean;
  getUserCode(): string;
}

/** The part of tfjs-backend-webgpu's WebGPUBackend used here. */
export interface WebGPUBackendLike {
  runWebGPUProgram(program: WebGPUProgram, inputs: TensorInfo[], outputDtype: 'float32', uniforms: ProgramUniform[]): TensorInfo;
  makeTensorInfo(shape: number[], dtype: 'float32', values?: Float32Array): TensorInfo;
  disposeData(dataId: object, force?: boolean): boolean;
}

/** The view's five axes, outermost first. */
export type Axis = 'p' | 'k' | 'g' | 'j' | 'r';
export const AXES: readonly Axis[] = ['p', 'k', 'g', 'j', 'r'];

/**
 * The size of one view axis.
 *
 * Usage: `axisSize(attrs, 'g')`
 */
export function axisSize(a: NormAttrs, axis: Axis): number {
  return { p: a.P, k: a.K, g: a.G, j: a.J, r: a.R }[axis];
}

/** The axes gamma varies along, in row-major order of `c = k * cK + g * cG + j`. */
export function affineAxes(a: NormAttrs): Axis[] {
  return AXES.filter((x) => (x === 'k' && a.cK !== 0) || (x === 'g' && a.cG !== 0) || x === 'j');
}

/**
 * Every uniform a program here declares, after the backend's own: the view's sizes and strides,
 * gamma's strides, the count each statistic is taken over, epsilon, and a reduction's sizes.
 */
export const VIEW_UNIFORMS = 'nP : i32, nK : i32, nG : i32, nJ : i32, nR : i32, sP : i32, sK : i32, sG : i32, sJ : i32, ' +
  'cK : i32, cG : i32, count : f32, epsilon : f32, outputs : i32, members : i32,';

/**
 * The values of VIEW_UNIFORMS for a view, with a reduction's output and member counts (0 for
 * elementwise programs).
 *
 * Usage: `backend.runWebGPUProgram(program, inputs, 'float32', viewUniforms(attrs, 0, 0))`
 */
export function viewUniforms(a: NormAttrs, outputs: number, members: number): ProgramUniform[] {
  const int = (v: number): ProgramUniform => ({ type: 'int32', data: [v] });
  const float = (v: number): ProgramUniform => ({ type: 'float32', data: [v] });
  const sJ = a.R;
  const sG = a.J * sJ;
  const sK = a.G * sG;
  return [int(a.P), int(a.K), int(a.G), int(a.J), int(a.R), int(a.K * sK), int(sK), int(sG), int(sJ),
    int(a.cK), int(a.cG), float(a.K * a.J * a.R), float(a.epsilon), int(outputs), int(members)];
}

/**
 * The part of a shader key that fixes the generated code: which axes have more than one
 * element, and whether gamma steps along k and g. Sizes themselves are uniforms, so one
 * compiled shader serves every batch size.
 *
 * Usage: `this.shaderKey = \`tfjsNormApply_${viewKey(attrs)}\``
 */
export function viewKey(a: NormAttrs): string {
  return `${AXES.map((x) => (axisSize(a, x) > 1 ? x : '_')).join('')}${a.cK !== 0 ? 'K' : ''}${a.cG !== 0 ? 'G' : ''}`;
}

/**
 * WGSL `let` lines naming the coordinates `axes` (row-major, the last fastest) of `index`
 * within the space those axes span; axes with one element are 0.
 *
 * Usage: `coordsWithin(attrs, ['k', 'j', 'r'], 'm', 'rest')`
 */
export function coordsWithin(a: NormAttrs, axes: readonly Axis[], index: string, tmp: string): string {
  const live = axes.filter((x) => axisSize(a, x) > 1);
  const lines = axes.filter((x) => axisSize(a, x) <= 1).map((x) => `let ${x} = 0;`);
  if (live.length === 1) lines.push(`let ${live[0]} = ${index};`);
  if (live.length > 1) {
    lines.push(`var ${tmp} = ${index};`);
    for (let i = live.length - 1; i > 0; i--) {
      const n = `uniforms.n${live[i].toUpperCase()}`;
      lines.push(`let ${live[i]} = ${tmp} % ${n}; ${tmp} = ${tmp} / ${n};`);
    }
    lines.push(`let ${live[0]} = ${tmp};`);
  }
  return lines.join('\n');
}

/**
 * WGSL `let` lines naming the coordinates `axes` of a flat index into the whole view: one
 * division and one remainder at most per axis, none for an axis with one element.
 *
 * Usage: `coordsOfFlat(attrs, ['p', 'g', 'j'], 'index')`
 */
export function coordsOfFlat(a: NormAttrs, axes: readonly Axis[], index: string): string {
  return axes.map((x) => {
    if (axisSize(a, x) <= 1) return `let ${x} = 0;`;
    const inner = AXES.slice(AXES.indexOf(x) + 1).filter((y) => axisSize(a, y) > 1);
    const outer = AXES.slice(0, AXES.indexOf(x)).filter((y) => axisSize(a, y) > 1);
    const quotient = inner.length === 0 ? index : `(${index} / uniforms.s${x.toUpperCase()})`;
    return outer.length === 0 ? `let ${x} = ${quotient};` : `let ${x} = ${quotient} % uniforms.n${x.toUpperCase()};`;
  }).join('\n');
}

/** `terms` joined by ' + ', or '0' when empty. */
function sum(terms: string[]): string {
  return terms.length > 0 ? terms.join(' + ') : '0';
}

/**
 * WGSL for the flat index of the coordinates p, k, g, j, r (as named by coordsWithin /
 * coordsOfFlat).
 *
 * Usage: `let i = ${flatIndex(attrs)};`
 */
export function flatIndex(a: NormAttrs): string {
  return sum(AXES.filter((x) => axisSize(a, x) > 1).map((x) => (x === 'r' ? 'r' : `${x} * uniforms.s${x.toUpperCase()}`)));
}

/**
 * WGSL for the statistic's index `p * G + g`.
 *
 * Usage: `let s = ${statIndex(attrs)};`
 */
export function statIndex(a: NormAttrs): string {
  return sum([...(a.P > 1 ? ['p * uniforms.nG'] : []), ...(a.G > 1 ? ['g'] : [])]);
}

/**
 * WGSL for gamma's index `k * cK + g * cG + j`.
 *
 * Usage: `let c = ${channelIndex(attrs)};`
 */
export function channelIndex(a: NormAttrs): string {
  return sum([...(a.cK !== 0 && a.K > 1 ? ['k * uniforms.cK'] : []), ...(a.cG !== 0 && a.G > 1 ? ['g * uniforms.cG'] : []),
    ...(a.J > 1 ? ['j'] : [])]);
}

/** The axes the statistic's index and gamma's index read. */
export function indexAxes(a: NormAttrs): Axis[] {
  return AXES.filter((x) => x === 'p' || x === 'g' || x === 'j' || (x === 'k' && a.cK !== 0));
}

/**
 * A tensor's data as a flat `[size]` tensor (the same memory).
 *
 * Usage: `backend.runWebGPUProgram(program, [flat(x)], ...)`
 */
export function flat(t: TensorInfo): TensorInfo {
  return { dataId: t.dataId, shape: [t.shape.reduce((p, d) => p * d, 1)], dtype: t.dtype };
}

/**
 * The named input of a kernel call, checked to be float32 with `size` elements.
 *
 * Usage: `const x = input(inputs, 'x', size, 'NormForward')`
 */
export function input(inputs: Parameters<KernelFunc>[0]['inputs'], name: string, size: number, kernel: string): TensorInfo {
  const t = inputs[name];
  if (t == null) throw new Error(`tfjs-batchnorm webgpu ${kernel}: missing input '${name}'`);
  if (t.dtype !== 'float32') throw new Error(`tfjs-batchnorm webgpu ${kernel}: '${name}' must be float32, got ${t.dtype}`);
  const got = t.shape.reduce((p, d) => p * d, 1);
  if (got !== size) {
    throw new Error(`tfjs-batchnorm webgpu ${kernel}: '${name}' has ${got} values (shape [${t.shape}]), the view needs ${size}`);
  }
  return t;
}

/**
 * The view's sizes, checked: gamma's index must run over the axes it names in row-major order
 * (as every view of ../../core/view.ts does), so that a channel's reduction can enumerate them.
 *
 * Usage: `const a = normAttrs(attrs, 'NormForward')`
 */
export function normAttrs(attrs: unknown, kernel: string): NormAttrs {
  const a = attrs as NormAttrs;
  const affine = affineAxes(a);
  const expected = { j: 1, g: a.J, k: (a.cG !== 0 ? a.G : 1) * a.J };
  const stridesOk = (a.cK === 0 || a.cK === expected.k) && (a.cG === 0 || a.cG === expected.g);
  const channels = affine.reduce((p, x) => p * axisSize(a, x), 1);
  if (!stridesOk || channels !== a.channels) {
    throw new Error(`tfjs-batchnorm webgpu ${kernel}: unsupported view [P ${a.P}, K ${a.K}, G ${a.G}, J ${a.J}, R ${a.R}] ` +
      `with cK ${a.cK}, cG ${a.cG}, channels ${a.channels}: gamma must be indexed row-major over the axes it varies along`);
  }
  return { P: a.P, K: a.K, G: a.G, J: a.J, R: a.R, cK: a.cK, cG: a.cG, channels: a.channels, epsilon: a.epsilon, center: a.center !== false };
}

/**
 * What the programs here share: flat output, the view's uniforms, a shader key naming the
 * generated code's variant.
 */
export abstract class ViewProgram implements WebGPUProgram {
  outputShape: number[];
  shaderKey: string;
  dispatchLayout = { x: [0] };
  dispatch: [number, number, number];
  variableNames: string[];
  uniforms = VIEW_UNIFORMS;
  workgroupSize: [number, number, number];
  size = true;

  constructor(readonly a: NormAttrs, outputSize: number, variableNames: string[], key: string, workgroupSize: number, workgroups: number) {
    this.outputShape = [outputSize];
    this.variableNames = variableNames;
    this.shaderKey = `tfjsNorm${key}_${viewKey(a)}`;
    this.workgroupSize = [workgroupSize, 1, 1];
    this.dispatch = [workgroups, 1, 1];
  }

  abstract getUserCode(): string;
}

/**
 * How many consecutive elements one invocation of an elementwise program takes: 4 where the
 * innermost axis with more than one element holds a multiple of 4 (so the 4 share every other
 * coordinate and step along that axis only), else 1. Fewer invocations and a quarter of the
 * index divisions, which SwiftShader (WebGPU on the CPU) runs one lane at a time.
 */
export function elementsPerInvocation(a: NormAttrs): number {
  const live = AXES.filter((x) => axisSize(a, x) > 1);
  return live.length > 0 && axisSize(a, live[live.length - 1]) % 4 === 0 ? 4 : 1;
}

/**
 * A program over the elements of x, which has in scope for each element its flat index `i`,
 * its statistic's index `s`, gamma's index `c` and `inv = inverseSqrt(variance[s] + epsilon)`.
 */
export abstract class ElementwiseProgram extends ViewProgram {
  private readonly perInvocation: number;

  constructor(a: NormAttrs, size: number, variableNames: string[], key: string) {
    const per = elementsPerInvocation(a);
    super(a, size, variableNames, `${key}_e${per}`, 128, Math.ceil(size / per / 128));
    this.perInvocation = per;
  }

  /** WGSL that writes `result[i]`. */
  protected abstract body(): string;

  getUserCode(): string {
    const a = this.a;
    const per = this.perInvocation;
    const live = AXES.filter((x) => axisSize(a, x) > 1);
    const inner = live[live.length - 1];
    // How the statistic's and gamma's indices step along the innermost axis.
    const ds = inner === 'p' ? 'uniforms.nG' : inner === 'g' ? '1' : '0';
    const dc = inner === 'k' && a.cK !== 0 ? 'uniforms.cK' : inner === 'g' && a.cG !== 0 ? 'uniforms.cG' : inner === 'j' ? '1' : '0';
    return `
      fn main(index : i32) {
        let first = index * ${per};
        if (first < uniforms.size) {
          ${coordsOfFlat(a, indexAxes(a), 'first')}
          let s0 = ${statIndex(a)};
          let c0 = ${channelIndex(a)};
          for (var e = 0; e < ${per}; e = e + 1) {
            let i = first + e;
            let s = s0 + e * ${ds};
            let c = c0 + e * ${dc};
            let inv = inverseSqrt(variance[s] + uniforms.epsilon);
            ${this.body()}
          }
        }
      }
    `;
  }
}
