/**
 * The one dispatcher of this package: every normalization runs NormForward or NormApply
 * (../kernels/names.ts) through the engine when the active backend has all three kernels
 * registered (cpu, wasm and webgpu here; tfjs-node's tensorflow on its first use), else the same computation as tf ops (composite.ts). Inputs are cast to float32 and
 * missing gamma / beta filled here, once, for both paths.
 *
 * Also the per-sample normalization op the layers call (LayerNormalization, GroupNormalization,
 * InstanceNormalization, RMSNormalization): `normalize`.
 */
import * as tf from '@tensorflow/tfjs';
import type { NormInputs } from '../core/types';
import { viewShape } from '../core/view';
import { NORM_KERNEL_NAMES, NormApply, NormAttrs, normAttrs, NormForward } from '../kernels/names';
import { registerNormKernels } from '../kernels/register';
import { registerTensorflowKernels } from '../kernels/tensorflow';
import { compositeApply, compositeForward } from './composite';

export type { NormInputs };

registerNormKernels();

const served = new Map<string, boolean>();

/**
 * Whether `backendName` (default: the active backend) runs this package's kernels. Asked on every
 * layer call, where a small input takes microseconds, so the answer is remembered per backend
 * from its first use; after registering kernels for a backend that has been used already, call
 * resetNormKernelCache.
 *
 * Usage: `if (hasNormKernels('webgpu')) { ... }`
 */
export function hasNormKernels(backendName: string = tf.getBackend()): boolean {
  let known = served.get(backendName);
  if (known == null) {
    // tfjs-node's kernels are registered once its backend exists (its package is never imported
    // here, and it may be loaded after this package): on the first use of that backend.
    if (backendName === 'tensorflow') registerTensorflowKernels();
    known = NORM_KERNEL_NAMES.every((name) => tf.getKernel(name, backendName) != null);
    served.set(backendName, known);
  }
  return known;
}

/**
 * Forgets which backends have the kernels (see hasNormKernels).
 *
 * Usage: `tf.registerKernel(myNormForwardForWebgpu); resetNormKernelCache();`
 */
export function resetNormKernelCache(): void {
  served.clear();
}

function float32(t: tf.Tensor): tf.Tensor {
  return t.dtype === 'float32' ? t : tf.cast(t, 'float32');
}

/** A clear error for tensors whose sizes do not fit the view (the kernels would read past them). */
function checkSizes(what: string, tensors: Record<string, tf.Tensor>, sizes: Record<string, number>): void {
  for (const name in tensors) {
    if (tensors[name].size !== sizes[name]) {
      throw new Error(`tfjs-batchnorm ${what}: expected ${name} of ${sizes[name]} values, but received shape ` +
        `${JSON.stringify(tensors[name].shape)}.`);
    }
  }
}

/**
 * NormForward on the active backend: `[y, mean, variance]` (statistics `[P * G]`, not
 * differentiable). Call inside a tidy (casts and fillers are made here).
 *
 * Usage: `const [y, mean, variance] = normForward({ x, gamma, beta }, normAttrs(view, 1e-3, true));`
 */
export function normForward(inputs: { x: tf.Tensor; gamma: tf.Tensor | null; beta: tf.Tensor | null }, attrs: NormAttrs): tf.Tensor[] {
  const x = float32(inputs.x);
  const gamma = inputs.gamma != null ? float32(inputs.gamma) : tf.ones([attrs.channels]);
  const beta = inputs.beta != null ? float32(inputs.beta) : tf.zeros([attrs.channels]);
  checkSizes('normalization', { x, gamma, beta },
    { x: attrs.P * attrs.K * attrs.G * attrs.J * attrs.R, gamma: attrs.channels, beta: attrs.channels });
  if (hasNormKernels()) return tf.engine().runKernel(NormForward, { x, gamma, beta }, attrs) as tf.Tensor[];
  return compositeForward({ x, gamma, beta }, attrs);
}

/**
 * NormApply on the active backend: y for given statistics (`[P * G]` values each), with
 * gradients for all five inputs. Call inside a tidy.
 *
 * Usage: `const y = normApply({ x, mean, variance, gamma, beta }, normAttrs(view, 1e-3, true));`
 */
export function normApply(inputs: { x: tf.Tensor; mean: tf.Tensor; variance: tf.Tensor; gamma: tf.Tensor | null;
  beta: tf.Tensor | null; }, attrs: NormAttrs): tf.Tensor {
  const [x, mean, variance] = [inputs.x, inputs.mean, inputs.variance].map(float32);
  const gamma = inputs.gamma != null ? float32(inputs.gamma) : tf.ones([attrs.channels]);
  const beta = inputs.beta != null ? float32(inputs.beta) : tf.zeros([attrs.channels]);
  const statistics = attrs.P * attrs.G;
  checkSizes('normalization', { x, mean, variance, gamma, beta }, {
    x: attrs.P * attrs.K * attrs.G * attrs.J * attrs.R, mean: statistics, variance: statistics,
    gamma: attrs.channels, beta: attrs.channels,
  });
  if (hasNormKernels()) return tf.engine().runKernel(NormApply, { x, mean, variance, gamma, beta }, attrs) as tf.Tensor;
  return compositeApply({ x, mean, variance, gamma, beta }, attrs);
}

/**
 * Normalizes `x` per (p, g) statistic of the view and applies gamma / beta, with the analytic
 * gradient for x, gamma and beta. Training and inference are the same computation.
 *
 * Usage: `const y = normalize({ x, gamma, beta, view: layerView(x.shape, 1, 1), epsilon: 1e-3 });`
 */
export function normalize(args: NormInputs): tf.Tensor {
  return tf.tidy(() => normForward(args, normAttrs(args.view, args.epsilon, args.center ?? true))[0]);
}

/**
 * `y = x * gamma / sqrt(s + epsilon)` (plus beta) with `s` a statistic of x per (p, g) that tf
 * ops compute (any differentiable function of x, shape `[P * G]`): NormApply with a zero mean,
 * so autodiff carries the gradient from s's gradient back to x. For Keras's LayerNormalization
 * `rms_scaling` (s = variance) and UnitNormalization (s = clamped sum of squares).
 *
 * Usage: `const y = scaleByStatistic({ x, gamma, beta: null, view, epsilon: 0 }, (x5) => tf.sum(tf.square(x5), [1, 3, 4]));`
 */
export function scaleByStatistic(args: Omit<NormInputs, 'center'>, statistic: (x5: tf.Tensor) => tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const { view } = args;
    const x = float32(args.x);
    const s = tf.reshape(statistic(tf.reshape(x, viewShape(view))), [-1]);
    return normApply({ ...args, x, mean: tf.zeros(s.shape), variance: s }, normAttrs(view, args.epsilon, false));
  });
}
