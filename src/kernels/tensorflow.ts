/**
 * The `tensorflow` backend's kernels (tfjs-node): this package's three normalization kernels
 * (names.ts) run as TensorFlow's own ops through the backend's op execution, so each is one or a
 * few native calls instead of a chain of tfjs ops.
 *
 * - Centered views whose statistics groups TensorFlow's FusedBatchNormV3 can address run it
 *   (forward in training and inference mode) and FusedBatchNormGradV3 (backward):
 *   BatchNormalization channels last (`[outer, C]` as NHWC) and channels first (`[outer, C,
 *   inner]` as NCHW), and every per-sample view whose groups are contiguous (`K = 1`: Layer,
 *   Instance and channels-first GroupNormalization, as NCHW with one channel per (p, g)). When
 *   gamma is not one value per group it is applied after, with the statistics op's scale at 1.
 * - The rest (RMSNormalization's uncentered statistics, channels-last GroupNormalization with
 *   several samples) runs TensorFlow's reductions and elementwise ops directly.
 *
 * On the CPU, FusedBatchNormV3 in training mode returns the biased batch variance in its fifth
 * output (reserve_space_2), which FusedBatchNormGradV3 takes back; its third output is the
 * Bessel-corrected one. The GPU build keeps other things there, so these kernels are registered
 * only for the CPU build of tfjs-node (TensorFlow's fused_batch_norm_op.cc documents both).
 *
 * Nothing here imports tfjs-node: the backend object arrives with each call, and registration
 * waits until a `tensorflow` backend exists (registerTensorflowKernels).
 */
import * as tf from '@tensorflow/tfjs';
import type { KernelConfig, KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs';
import { NormApply, NormAttrs, NormBackward, NormBackwardAttrs, NormForward } from './names';

/** The part of tfjs-node's NodeJSKernelBackend used here. */
interface TensorflowBackendLike {
  binding: {
    TF_FLOAT: number;
    TF_ATTR_TYPE: number;
    TF_ATTR_FLOAT: number;
    TF_ATTR_STRING: number;
    TF_ATTR_BOOL: number;
    isUsingGpuDevice(): boolean;
  };
  executeMultipleOutputs(name: string, attrs: OpAttr[], inputs: TensorInfo[], numOutputs: number): tf.Tensor[];
}

interface OpAttr {
  name: string;
  type: number;
  value: number | string | boolean;
}

const BACKEND = 'tensorflow';
const STAT_AXES = [1, 3, 4];

function isTensorflowBackend(b: unknown): b is TensorflowBackendLike {
  const candidate = b as Partial<TensorflowBackendLike> | null;
  return candidate != null && typeof candidate.executeMultipleOutputs === 'function' &&
    candidate.binding != null && typeof candidate.binding.isUsingGpuDevice === 'function';
}

function asBackend(b: unknown): TensorflowBackendLike {
  if (!isTensorflowBackend(b)) throw new Error('tfjs-batchnorm tensorflow kernel: called on a backend that is not tfjs-node\'s');
  return b;
}

/** A tensor sharing `t`'s data (TensorInfo in, so the engine's Reshape kernel does it). */
function reshape(t: TensorInfo, shape: number[]): tf.Tensor {
  return tf.engine().runKernel(tf.Reshape, { x: t } as unknown as tf.NamedTensorMap, { shape }) as tf.Tensor;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** `t` itself when it has `shape` already (each reshape is a TensorFlow op call on this backend). */
function fitShape(t: TensorInfo, shape: number[]): TensorInfo {
  return sameShape(t.shape, shape) ? t : reshape(t, shape);
}

function viewShape(a: NormAttrs): number[] {
  return [a.P, a.K, a.G, a.J, a.R];
}

/** gamma's shape against the 5-D view: it varies along k (cK), g (cG) and j (when per channel). */
function affineShape(a: NormAttrs): number[] {
  return [1, a.cK > 0 ? a.K : 1, a.cG > 0 ? a.G : 1, a.channels > 1 && a.cK === 0 ? a.J : 1, 1];
}

/** How a view maps onto FusedBatchNormV3, or null when it does not. */
interface FusedPlan {
  /** x as the op's 4-D input. */
  shape4: number[];
  format: 'NHWC' | 'NCHW';
  /** The op's channel count: one per statistics group (p, g). */
  groups: number;
  /** gamma / beta go into the op (one value per group, repeated `repeat` times), else applied after. */
  affineInside: boolean;
  repeat: number;
}

function fusedPlan(a: NormAttrs, xShape: readonly number[]): FusedPlan | null {
  if (!a.center) return null;
  const gammaPerGroup = a.J === 1 && a.cK === 0 && a.cG === 1 && a.channels === a.G;
  if (a.P === 1 && a.J === 1) {
    // BatchNormalization: statistics per g over k and r. A 4-D x already in the op's layout is
    // passed as it is (NHWC: channels last; NCHW: [N, C, H, W]).
    const affine = { groups: a.G, affineInside: gammaPerGroup, repeat: 1 };
    const rank4 = xShape.length === 4;
    if (a.R === 1) return { shape4: rank4 && xShape[3] === a.G ? [...xShape] : [a.K, 1, 1, a.G], format: 'NHWC', ...affine };
    const nchw = rank4 && xShape[0] === a.K && xShape[1] === a.G;
    return { shape4: nchw ? [...xShape] : [a.K, a.G, a.R, 1], format: 'NCHW', ...affine };
  }
  if (a.K === 1) {
    // Each (p, g) group is a contiguous run of J * R values: one NCHW channel each.
    return { shape4: [1, a.P * a.G, a.J * a.R, 1], format: 'NCHW', groups: a.P * a.G, affineInside: gammaPerGroup, repeat: a.P };
  }
  return null;
}

function fusedAttrs(b: TensorflowBackendLike, epsilon: number, format: string, training: boolean): OpAttr[] {
  const k = b.binding;
  return [
    { name: 'T', type: k.TF_ATTR_TYPE, value: k.TF_FLOAT },
    { name: 'U', type: k.TF_ATTR_TYPE, value: k.TF_FLOAT },
    { name: 'epsilon', type: k.TF_ATTR_FLOAT, value: epsilon },
    { name: 'data_format', type: k.TF_ATTR_STRING, value: format },
    { name: 'is_training', type: k.TF_ATTR_BOOL, value: training },
  ];
}

/** The op's scale and offset: gamma / beta (repeated per sample) when they fit, else ones / zeros. */
function opAffine(plan: FusedPlan, gamma: TensorInfo, beta: TensorInfo): [TensorInfo, TensorInfo] {
  if (!plan.affineInside) return [tf.ones([plan.groups]), tf.zeros([plan.groups])];
  const g = fitShape(gamma, [plan.groups / plan.repeat]);
  const b = fitShape(beta, [plan.groups / plan.repeat]);
  return plan.repeat === 1 ? [g, b] : [tf.tile(g as tf.Tensor, [plan.repeat]), tf.tile(b as tf.Tensor, [plan.repeat])];
}

/** y = y * gamma + beta on the 5-D view, for plans that leave the affine step outside the op. */
function applyAffine(y: tf.Tensor, a: NormAttrs, gamma: TensorInfo, beta: TensorInfo): tf.Tensor {
  const shape = affineShape(a);
  return tf.add(tf.mul(tf.reshape(y, viewShape(a)), reshape(gamma, shape)), reshape(beta, shape));
}

/** FusedBatchNormV3's y, and in training mode its batch mean and biased variance. */
function fusedForward(b: TensorflowBackendLike, plan: FusedPlan, a: NormAttrs, x: TensorInfo, gamma: TensorInfo,
  beta: TensorInfo, stats: [TensorInfo, TensorInfo] | null): tf.Tensor[] {
  const [scale, offset] = opAffine(plan, gamma, beta);
  const [mean, variance] = stats != null ? stats.map((s) => fitShape(s, [plan.groups])) : [tf.zeros([0]), tf.zeros([0])];
  const outputs = b.executeMultipleOutputs('FusedBatchNormV3', fusedAttrs(b, a.epsilon, plan.format, stats == null),
    [fitShape(x, plan.shape4), scale, offset, mean, variance], 6);
  const y = plan.affineInside ? outputs[0] : applyAffine(outputs[0], a, gamma, beta);
  return [fitShape(y, x.shape) as tf.Tensor, outputs[3], outputs[4]];
}

/** The statistics and normalized values as TensorFlow reductions and elementwise ops. */
function opsStatistics(a: NormAttrs, x: TensorInfo, stats: [TensorInfo, TensorInfo] | null) {
  const x5 = reshape(x, viewShape(a));
  const statShape = [a.P, 1, a.G, 1, 1];
  let mean: tf.Tensor;
  let variance: tf.Tensor;
  if (stats != null) {
    mean = reshape(stats[0], statShape);
    variance = reshape(stats[1], statShape);
  } else if (a.center) {
    mean = tf.mean(x5, STAT_AXES, true);
    variance = tf.mean(tf.squaredDifference(x5, mean), STAT_AXES, true);
  } else {
    mean = tf.zeros(statShape);
    variance = tf.mean(tf.square(x5), STAT_AXES, true);
  }
  const invStd = tf.rsqrt(tf.add(variance, a.epsilon));
  const xhat = () => tf.mul(a.center || stats != null ? tf.sub(x5, mean) : x5, invStd);
  return { mean, variance, invStd, xhat };
}

function forward(b: TensorflowBackendLike, a: NormAttrs, x: TensorInfo, gamma: TensorInfo, beta: TensorInfo,
  stats: [TensorInfo, TensorInfo] | null): tf.Tensor[] {
  const plan = fusedPlan(a, x.shape);
  if (plan != null) return fusedForward(b, plan, a, x, gamma, beta, stats);
  const s = opsStatistics(a, x, stats);
  const statistics = [tf.reshape(s.mean, [a.P * a.G]), tf.reshape(s.variance, [a.P * a.G])];
  if (a.cK === 0 && a.K > 1) {
    // gamma does not vary along k, so y = x * scale + shift with scale and shift K times smaller
    // than x: two passes over x instead of four.
    const scale = tf.mul(s.invStd, reshape(gamma, affineShape(a)));
    const shift = tf.sub(reshape(beta, affineShape(a)), tf.mul(s.mean, scale));
    return [tf.reshape(tf.add(tf.mul(reshape(x, viewShape(a)), scale), shift), x.shape), ...statistics];
  }
  return [tf.reshape(applyAffine(s.xhat(), a, gamma, beta), x.shape), ...statistics];
}

/** dgamma and dbeta from dy and xhat on the 5-D view: sums over every axis gamma does not vary along. */
function affineGrads(a: NormAttrs, dy5: tf.Tensor, xhat: tf.Tensor): [tf.Tensor, tf.Tensor] {
  const axes = affineShape(a).flatMap((d, i) => (d === 1 ? [i] : []));
  return [tf.reshape(tf.sum(tf.mul(dy5, tf.reshape(xhat, viewShape(a))), axes), [a.channels]),
    tf.reshape(tf.sum(dy5, axes), [a.channels])];
}

function backward(b: TensorflowBackendLike, a: NormBackwardAttrs, inputs: Record<string, TensorInfo>): tf.Tensor[] {
  const { dy, x, gamma, mean, variance } = inputs;
  const plan = fusedPlan(a, x.shape);
  if (plan != null) {
    // With gamma outside the op, the op differentiates xhat: its incoming gradient is dy * gamma.
    const dz = plan.affineInside ? fitShape(dy, plan.shape4)
      : tf.reshape(tf.mul(reshape(dy, viewShape(a)), reshape(gamma, affineShape(a))), plan.shape4);
    const [scale] = opAffine(plan, gamma, gamma);
    const [dx, dscale, doffset] = b.executeMultipleOutputs('FusedBatchNormGradV3',
      fusedAttrs(b, a.epsilon, plan.format, a.statsDependOnX),
      [dz, fitShape(x, plan.shape4), scale, fitShape(mean, [plan.groups]), fitShape(variance, [plan.groups]), tf.zeros([0])], 5);
    const dxOut = fitShape(dx, x.shape) as tf.Tensor;
    if (plan.affineInside) {
      const perGroup = (t: tf.Tensor) => (plan.repeat === 1 ? t : tf.sum(tf.reshape(t, [plan.repeat, a.channels]), 0));
      return [dxOut, perGroup(dscale), perGroup(doffset)];
    }
    const xhat = fusedForward(b, { ...plan, affineInside: true, repeat: plan.groups }, a, x, tf.ones([1]), tf.zeros([1]),
      [mean, variance])[0];
    return [dxOut, ...affineGrads(a, reshape(dy, viewShape(a)), xhat)];
  }
  const s = opsStatistics(a, x, [mean, variance]);
  const dy5 = reshape(dy, viewShape(a));
  const gdy = tf.mul(dy5, reshape(gamma, affineShape(a)));
  const xhat = s.xhat();
  let dx: tf.Tensor;
  if (a.statsDependOnX) {
    // dx = invStd * (gdy - mean(gdy) - xhat * mean(gdy * xhat)); the mean(gdy) term only when centered.
    let inner = tf.sub(gdy, tf.mul(xhat, tf.mean(tf.mul(gdy, xhat), STAT_AXES, true)));
    if (a.center) inner = tf.sub(inner, tf.mean(gdy, STAT_AXES, true));
    dx = tf.mul(s.invStd, inner);
  } else {
    dx = tf.mul(gdy, s.invStd);
  }
  return [tf.reshape(dx, x.shape), ...affineGrads(a, dy5, xhat)];
}

/** Runs `body` with the engine's tidy, keeping only what it returns. */
function kernel(body: (b: TensorflowBackendLike, inputs: Record<string, TensorInfo>, attrs: NamedAttrMap) => tf.Tensor[],
  single = false): KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const out = tf.tidy(() => body(asBackend(backend), inputs as Record<string, TensorInfo>, attrs ?? {}));
    return single ? out[0] : out;
  };
}

/**
 * Kernel configs for the `tensorflow` backend (tfjs-node, CPU build).
 *
 * Usage: `tensorflowKernels().forEach((k) => tf.registerKernel(k))`
 */
export function tensorflowKernels(): KernelConfig[] {
  return [
    {
      kernelName: NormForward, backendName: BACKEND,
      kernelFunc: kernel((b, i, a) => forward(b, a as NormAttrs, i.x, i.gamma, i.beta, null)),
    },
    {
      kernelName: NormApply, backendName: BACKEND,
      kernelFunc: kernel((b, i, a) => forward(b, a as NormAttrs, i.x, i.gamma, i.beta, [i.mean, i.variance]).slice(0, 1), true),
    },
    {
      kernelName: NormBackward, backendName: BACKEND,
      kernelFunc: kernel((b, i, a) => backward(b, a as NormBackwardAttrs, i)),
    },
  ];
}

/**
 * Registers the kernels for `tensorflow` if tfjs-node's CPU backend is registered with tfjs (it
 * is once `@tensorflow/tfjs-node` has been required), and not yet done. Returns whether they are
 * registered. Never loads tfjs-node itself.
 *
 * Usage: `if (tf.getBackend() === 'tensorflow') registerTensorflowKernels();`
 */
export function registerTensorflowKernels(): boolean {
  if (tf.getKernel(NormForward, BACKEND) != null) return true;
  if (!Object.prototype.hasOwnProperty.call(tf.engine().registryFactory, BACKEND)) return false;
  const backend = tf.findBackend(BACKEND);
  if (!isTensorflowBackend(backend) || backend.binding.isUsingGpuDevice()) return false;
  for (const config of tensorflowKernels()) tf.registerKernel(config);
  return true;
}
