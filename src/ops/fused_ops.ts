/**
 * BatchNormalization through tfjs's own fused `tf.batchNorm` op, for the GPU backends (webgl,
 * webgpu), which have no kernels of this package. There the composite path would run one shader
 * program per elementwise step, where tfjs's op runs one:
 *
 *   forward (training):  tf.moments, then  y = tf.batchNorm(x, mean, variance, beta, gamma)
 *                        (what tf.layers.batchNormalization runs: same passes as the built-in)
 *   forward (inference): y = tf.batchNorm(x, movingMean, movingVariance, beta, gamma)
 *   backward (training), the analytic gradient (notation of batch_norm.ts), arranged so every
 *   elementwise step over x is one tf.batchNorm or one binary op:
 *     xhat   = tf.batchNorm(x, mean, variance)                      (one pass)
 *     dbeta  = sum(dy),  dgamma = sum(dy * xhat)
 *     dx     = k * dy + tf.batchNorm(x, mean, variance, -k * dbeta / n, -k * dgamma / n)
 *              with k = gamma * invStd per channel                  (three passes)
 *
 * Every per-channel tensor is shaped [1, C, 1] against the `[outer, C, inner]` view, so any rank
 * and axis take the same path. The math is that of batch_norm.ts's composite path; only the
 * grouping of the elementwise steps differs (float32 rounding).
 */
import * as tf from '@tensorflow/tfjs';
import type { BatchNormInputs, TrainingResult } from '../core/types';
import { featureView, FeatureView } from '../core/view';

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

function perChannel(v: tf.Tensor, view: FeatureView): tf.Tensor3D {
  return tf.reshape(v, [1, view.channels, 1]);
}

/** The gradients for the present inputs (x, then gamma and beta if the layer has them). */
function gradList(args: BatchNormInputs, dx: tf.Tensor, dgamma: tf.Tensor, dbeta: tf.Tensor): tf.Tensor[] {
  return [tf.reshape(dx, args.x.shape), ...(args.gamma != null ? [tf.reshape(dgamma, args.gamma.shape)] : []),
    ...(args.beta != null ? [tf.reshape(dbeta, args.beta.shape)] : [])];
}

/**
 * Training-mode BatchNormalization on the fused op (semantics of batchNormTraining, no mask).
 * The caller owns the returned statistics.
 *
 * Usage: `const { y, mean, variance } = fusedOpsTraining({ x, gamma, beta, axis: 3, epsilon: 1e-3 });`
 */
export function fusedOpsTraining(args: BatchNormInputs): TrainingResult {
  const view = featureView(args.x.shape, args.axis);
  let stats: { mean: tf.Tensor1D; variance: tf.Tensor1D } | null = null;
  const forward = tf.customGrad((...tensorsAndSave: unknown[]) => {
    const save = tensorsAndSave.pop() as tf.GradSaveFunc;
    const { x, gamma, beta } = unpackInputs(args, tensorsAndSave as tf.Tensor[]);
    const x3 = tf.reshape(x, view.shape) as tf.Tensor3D;
    const { mean, variance } = tf.moments(x3, [0, 2], true);
    const y = tf.batchNorm(x3, mean, variance, beta != null ? perChannel(beta, view) : undefined,
      gamma != null ? perChannel(gamma, view) : undefined, args.epsilon);
    // customGrad runs this in a tidy: statistics leave it kept, gradient inputs through save().
    stats = { mean: tf.keep(tf.reshape(mean, [view.channels])), variance: tf.keep(tf.reshape(variance, [view.channels])) };
    save([x3, mean, variance, ...(gamma != null ? [gamma] : [])]);
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sx, smean, svariance, sgamma] = saved;
      const dy3 = tf.reshape(dy, view.shape);
      const xhat = tf.batchNorm(sx, smean, svariance, undefined, undefined, args.epsilon);
      const dbeta = tf.sum(dy3, [0, 2], true);
      const dgamma = tf.sum(tf.mul(dy3, xhat), [0, 2], true);
      const invStd = tf.rsqrt(tf.add(svariance, args.epsilon));
      const k = sgamma != null ? tf.mul(perChannel(sgamma, view), invStd) : invStd;
      const minusKOverN = tf.div(k, -view.count);
      const correction = tf.batchNorm(sx, smean, svariance, tf.mul(minusKOverN, dbeta), tf.mul(minusKOverN, dgamma), args.epsilon);
      const dx = tf.add(tf.mul(dy3, k), correction);
      return gradList(args, dx, dgamma, dbeta);
    };
    return { value: tf.reshape(y, args.x.shape), gradFunc };
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
  const view = featureView(args.x.shape, args.axis);
  const forward = tf.customGrad((...tensorsAndSave: unknown[]) => {
    const save = tensorsAndSave.pop() as tf.GradSaveFunc;
    const { x, gamma, beta } = unpackInputs(args, tensorsAndSave as tf.Tensor[]);
    const x3 = tf.reshape(x, view.shape) as tf.Tensor3D;
    const m3 = perChannel(mean, view);
    const v3 = perChannel(variance, view);
    const y = tf.batchNorm(x3, m3, v3, beta != null ? perChannel(beta, view) : undefined,
      gamma != null ? perChannel(gamma, view) : undefined, args.epsilon);
    save([x3, m3, v3, ...(gamma != null ? [gamma] : [])]);
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sx, smean, svariance, sgamma] = saved;
      const dy3 = tf.reshape(dy, view.shape);
      const invStd = tf.rsqrt(tf.add(svariance, args.epsilon));
      const k = sgamma != null ? tf.mul(perChannel(sgamma, view), invStd) : invStd;
      const dx = tf.mul(dy3, k);
      // dgamma and dbeta only when the layer has them (a frozen layer needs dx alone).
      const dgamma = args.gamma != null
        ? tf.sum(tf.mul(dy3, tf.batchNorm(sx, smean, svariance, undefined, undefined, args.epsilon)), [0, 2]) : dx;
      const dbeta = args.beta != null ? tf.sum(dy3, [0, 2]) : dx;
      return gradList(args, dx, dgamma, dbeta);
    };
    return { value: tf.reshape(y, args.x.shape), gradFunc };
  });
  return forward(...inputsOf(args));
}
