/**
 * BatchNormalization through tfjs's own fused `tf.batchNorm` op, for the GPU backends (webgl,
 * webgpu), which have no kernels of this package. There the composite path would run one shader
 * program per elementwise step, where tfjs's op runs one:
 *
 *   forward (training):  tf.moments, then  y = tf.batchNorm(x, mean, variance, beta, gamma)
 *                        (what tf.layers.batchNormalization runs: same passes as the built-in)
 *   forward (inference): y = tf.batchNorm(x, movingMean, movingVariance, beta, gamma), the
 *                        built-in's own call when the feature axis is last
 *   backward (training), the analytic gradient (notation of batch_norm.ts), arranged so every
 *   elementwise step over x is one tf.batchNorm or one binary op:
 *     xhat   = tf.batchNorm(x, mean, variance)                      (one pass)
 *     dbeta  = sum(dy),  dgamma = sum(dy * xhat)
 *     dx     = k * dy + tf.batchNorm(x, mean, variance, -k * dbeta / n, -k * dgamma / n)
 *              with k = gamma * invStd per channel                  (three passes)
 *
 * Inference with no gradient recorded (predict) on webgl calls the FusedBatchNorm kernel
 * directly, with x in its own shape: the webgl program broadcasts per-channel values against any
 * rank, so the two Reshape kernels tf.batchNorm runs around it (to 4-D and back) are skipped. Same
 * shader program and output as the built-in's call, two kernel dispatches fewer per call, which is
 * what a small input's time is made of.
 *
 * x and dy keep their own shape: on webgl a reshape that changes the last two dimensions repacks
 * the whole texture (one more pass), so per-channel tensors are shaped to broadcast instead
 * (`[1, C, 1, 1]` for axis 1 of a rank-4 input; `[C]` for the last axis). The math is that of
 * batch_norm.ts's composite path; only the grouping of the elementwise steps differs (float32
 * rounding).
 */
import * as tf from '@tensorflow/tfjs';
import type { BatchNormInputs, TrainingResult } from '../core/types';
import { featureView } from '../core/view';

/**
 * Backends whose batchNorm broadcasts [1, C, 1] statistics over any `[outer, C, inner]` view.
 * Not cpu and wasm (this package's kernels serve them; cpu's batchNorm repeats per-channel values
 * along the last axis only) and not tfjs-node's tensorflow (untested here: it keeps the
 * composite path).
 */
const FUSED_OP_BACKENDS = new Set(['webgl', 'webgpu']);

/**
 * Whether the active backend takes the fused-op path.
 *
 * Usage: `if (fusedOpsServe()) return fusedOpsTraining(args);`
 */
export function fusedOpsServe(): boolean {
  return FUSED_OP_BACKENDS.has(tf.getBackend());
}

/** x, gamma and beta in the order customGrad receives them, and back. */
function inputsOf(args: BatchNormInputs): tf.Tensor[] {
  return [args.x, args.gamma, args.beta].filter((t): t is tf.Tensor => t != null);
}

function unpackInputs(args: BatchNormInputs, tensors: tf.Tensor[]) {
  let i = 1;
  const gamma = args.gamma != null ? tensors[i++] : null;
  const beta = args.beta != null ? tensors[i++] : null;
  return { x: tensors[0], gamma, beta };
}

/** How per-channel values broadcast against x, and the axes the statistics reduce over. */
interface Layout {
  /** `[C]` for the last axis, else x's rank with C at the feature axis and 1 elsewhere. */
  shape: number[];
  axes: number[];
  /** Values per channel. */
  count: number;
}

function layoutOf(args: BatchNormInputs): Layout {
  return { shape: perChannelShape(args), axes: args.x.shape.map((_, i) => i).filter((i) => i !== args.axis),
    count: featureView(args.x.shape, args.axis).count };
}

/** `[C]` for the last axis, else x's rank with C at the feature axis and 1 elsewhere. */
function perChannelShape({ x, axis }: BatchNormInputs): number[] {
  return axis === x.rank - 1 ? [x.shape[axis]] : x.shape.map((d, i) => (i === axis ? d : 1));
}

function perChannel(v: tf.Tensor, layout: Pick<Layout, 'shape'>): tf.Tensor {
  return tf.util.arraysEqual(v.shape, layout.shape) ? v : tf.reshape(v, layout.shape);
}

/** Whether a gradient tape is recording (inside tf.grad, tf.variableGrads, model.fit's step). */
function recordingGradients(): boolean {
  return tf.engine().state.gradientDepth > 0;
}

/** tf.batchNorm for any rank (its typings stop at 4; its kernels broadcast any rank). */
function batchNorm(x: tf.Tensor, mean: tf.Tensor, variance: tf.Tensor, offset: tf.Tensor | undefined,
  scale: tf.Tensor | undefined, epsilon: number): tf.Tensor {
  return tf.batchNorm(x as tf.Tensor4D, mean as tf.Tensor4D, variance as tf.Tensor4D, offset as tf.Tensor4D | undefined,
    scale as tf.Tensor4D | undefined, epsilon);
}

/** The gradients for the present inputs (x, then gamma and beta if the layer has them). */
function gradList(args: BatchNormInputs, dx: tf.Tensor, dgamma: tf.Tensor, dbeta: tf.Tensor): tf.Tensor[] {
  return [dx, ...(args.gamma != null ? [tf.reshape(dgamma, args.gamma.shape)] : []),
    ...(args.beta != null ? [tf.reshape(dbeta, args.beta.shape)] : [])];
}

/**
 * Training-mode BatchNormalization on the fused op (semantics of batchNormTraining, no mask).
 * The caller owns the returned statistics.
 *
 * Usage: `const { y, mean, variance } = fusedOpsTraining({ x, gamma, beta, axis: 3, epsilon: 1e-3 });`
 */
export function fusedOpsTraining(args: BatchNormInputs): TrainingResult {
  const layout = layoutOf(args);
  const channels = args.x.shape[args.axis];
  let stats: { mean: tf.Tensor1D; variance: tf.Tensor1D } | null = null;
  const forward = tf.customGrad((...tensorsAndSave: unknown[]) => {
    const save = tensorsAndSave.pop() as tf.GradSaveFunc;
    const { x, gamma, beta } = unpackInputs(args, tensorsAndSave as tf.Tensor[]);
    const { mean, variance } = tf.moments(x, layout.axes, layout.shape.length > 1);
    const y = batchNorm(x, mean, variance, beta != null ? perChannel(beta, layout) : undefined,
      gamma != null ? perChannel(gamma, layout) : undefined, args.epsilon);
    // customGrad runs this in a tidy: statistics leave it kept, gradient inputs through save().
    stats = { mean: tf.keep(tf.reshape(mean, [channels])), variance: tf.keep(tf.reshape(variance, [channels])) };
    save([x, mean, variance, ...(gamma != null ? [gamma] : [])]);
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sx, smean, svariance, sgamma] = saved;
      const keepDims = layout.shape.length > 1;
      const xhat = batchNorm(sx, smean, svariance, undefined, undefined, args.epsilon);
      const dbeta = tf.sum(dy, layout.axes, keepDims);
      const dgamma = tf.sum(tf.mul(dy, xhat), layout.axes, keepDims);
      const invStd = tf.rsqrt(tf.add(svariance, args.epsilon));
      const k = sgamma != null ? tf.mul(perChannel(sgamma, layout), invStd) : invStd;
      const minusKOverN = tf.div(k, -layout.count);
      const correction = batchNorm(sx, smean, svariance, tf.mul(minusKOverN, dbeta), tf.mul(minusKOverN, dgamma), args.epsilon);
      const dx = tf.add(tf.mul(dy, k), correction);
      return gradList(args, dx, dgamma, dbeta);
    };
    return { value: y, gradFunc };
  });
  const y = forward(...inputsOf(args));
  const { mean, variance } = stats as unknown as { mean: tf.Tensor1D; variance: tf.Tensor1D };
  return { y, mean, variance };
}

/**
 * Inference-mode BatchNormalization on the fused op (semantics of batchNormInference): the
 * statistics are constants for the gradient.
 *
 * Usage: `const y = fusedOpsInference({ x, gamma, beta, axis: 1, epsilon: 1e-3 }, movingMean, movingVariance);`
 */
export function fusedOpsInference(args: BatchNormInputs, mean: tf.Tensor, variance: tf.Tensor): tf.Tensor {
  const recording = recordingGradients();
  const last = args.axis === args.x.rank - 1;
  if (!recording || (last && args.gamma != null && args.beta != null)) {
    // The built-in's own batchNorm: when no gradient is being recorded (predict), and
    // channels-last with gamma and beta, where tf.batchNorm's registered gradient (analytic) is
    // right. Its gradient fails without gamma or beta and off the last axis, which is what the
    // customGrad below is for (e.g. fine-tuning through a frozen channels-first layer).
    return plainInference(args, mean, variance, !recording && tf.getBackend() === 'webgl');
  }
  const layout = layoutOf(args);
  const forward = tf.customGrad((...tensorsAndSave: unknown[]) => {
    const save = tensorsAndSave.pop() as tf.GradSaveFunc;
    const { x, gamma, beta } = unpackInputs(args, tensorsAndSave as tf.Tensor[]);
    const m = perChannel(mean, layout);
    const v = perChannel(variance, layout);
    const y = batchNorm(x, m, v, beta != null ? perChannel(beta, layout) : undefined,
      gamma != null ? perChannel(gamma, layout) : undefined, args.epsilon);
    save([x, m, v, ...(gamma != null ? [gamma] : [])]);
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sx, smean, svariance, sgamma] = saved;
      const invStd = tf.rsqrt(tf.add(svariance, args.epsilon));
      const k = sgamma != null ? tf.mul(perChannel(sgamma, layout), invStd) : invStd;
      const dx = tf.mul(dy, k);
      // dgamma and dbeta only when the layer has them (a frozen layer needs dx alone).
      const dgamma = args.gamma != null
        ? tf.sum(tf.mul(dy, batchNorm(sx, smean, svariance, undefined, undefined, args.epsilon)), layout.axes) : dx;
      const dbeta = args.beta != null ? tf.sum(dy, layout.axes) : dx;
      return gradList(args, dx, dgamma, dbeta);
    };
    return { value: y, gradFunc };
  });
  return forward(...inputsOf(args));
}

/**
 * `y = gamma * (x - mean) / sqrt(variance + epsilon) + beta` as one FusedBatchNorm kernel, with
 * tfjs's registered gradient (recorded by tf.batchNorm only). `direct`: run the kernel itself,
 * without tf.batchNorm's reshapes (webgl, nothing recorded; see the module comment).
 */
function plainInference(args: BatchNormInputs, mean: tf.Tensor, variance: tf.Tensor, direct: boolean): tf.Tensor {
  const layout = { shape: perChannelShape(args) };
  const reshaped = (t: tf.Tensor | null) => (t == null ? undefined : perChannel(t, layout));
  // Only per-channel reshapes are made here (none for the last axis, whose vectors broadcast as they are).
  return tf.tidy(() => {
    const [m, v, offset, scale] = [mean, variance, args.beta, args.gamma].map(reshaped);
    if (!direct) return batchNorm(args.x, m!, v!, offset, scale, args.epsilon);
    const inputs: Record<string, tf.Tensor> = { x: args.x, mean: m!, variance: v! };
    if (offset != null) inputs.offset = offset;
    if (scale != null) inputs.scale = scale;
    return tf.engine().runKernel(tf.FusedBatchNorm, inputs as unknown as tf.NamedTensorMap,
      { varianceEpsilon: args.epsilon } as unknown as tf.NamedAttrMap) as tf.Tensor;
  });
}
