/**
 * The math of BatchNormalization, in one place: the training-mode forward (batch statistics)
 * and the inference-mode forward (moving statistics), each with its analytic gradient
 * registered through `tf.customGrad`. The layer, the converters and the examples all call
 * these two functions.
 *
 * Notation on the `[outer, C, inner]` view (see ../core/view.ts), sums over axes 0 and 2:
 *   xhat = (x - mean) * invStd,   invStd = 1 / sqrt(var + eps),   y = gamma * xhat + beta
 *   dbeta = sum(dy),   dgamma = sum(dy * xhat),   dxhat = gamma * dy
 *   dx = invStd * (dxhat - w/n * (sum(dxhat) + xhat * sum(dxhat * xhat)))
 * where w is 1 (or the mask) and n the number of (unmasked) values per channel.
 *
 * Dispatch: on a backend with this package's kernels (cpu, wasm: see ../kernels/) both functions
 * run one fused kernel with a registered gradient; on webgl and webgpu they run tfjs's fused
 * batchNorm op with the analytic gradient (fused_ops.ts); everywhere else (tfjs-node), and for
 * masked training, they run the composite `tf.customGrad` path below. Both compute the
 * same math and agree within float32 rounding.
 */
import * as tf from '@tensorflow/tfjs';
import { inferenceKernel, trainingKernel } from '../kernels/ops';
import { hasBatchNormKernels, registerBatchNormKernels } from '../kernels/register';
import type { BatchNormInputs, BatchStatistics, TrainingResult } from '../core/types';
import { featureView, FeatureView } from '../core/view';
import { fusedOpsInference, fusedOpsServe, fusedOpsTraining } from './fused_ops';

export type { BatchNormInputs, BatchStatistics, TrainingResult };

registerBatchNormKernels();

/** The differentiable inputs present, in the order customGrad receives them. */
function presentInputs(args: BatchNormInputs): tf.Tensor[] {
  return [args.x, args.gamma, args.beta].filter((t): t is tf.Tensor => t != null);
}

/** Splits customGrad's argument list back into x, gamma, beta. */
function unpack(args: BatchNormInputs, tensors: tf.Tensor[]) {
  let i = 1;
  const gamma = args.gamma != null ? tensors[i++] : null;
  const beta = args.beta != null ? tensors[i++] : null;
  return { x: tensors[0], gamma, beta };
}

/** Whether the fused kernels can serve these tensors on the active backend. */
function kernelsServe(args: BatchNormInputs, ...perChannelTensors: tf.Tensor[]): boolean {
  // The backend first: a remembered answer, and the only one needed on webgl (every layer call asks).
  if (!hasBatchNormKernels()) return false;
  const channels = args.x.shape[args.axis];
  const tensors = [args.x, args.gamma, args.beta, ...perChannelTensors].filter((t): t is tf.Tensor => t != null);
  return tensors.every((t) => t.dtype === 'float32') &&
    [args.gamma, args.beta, ...perChannelTensors].every((t) => t == null || t.size === channels);
}

/** Reshapes a per-channel vector for broadcasting against the view. */
function perChannel(v: tf.Tensor, view: FeatureView): tf.Tensor3D {
  return tf.reshape(v, [1, view.channels, 1]);
}

/**
 * The mask as float weights on the view: 0/1 weights of x's shape (one per position, as the
 * layer passes Keras's broadcast mask), or a mask of x's shape without the feature axis (C dim 1).
 */
function maskWeights(mask: tf.Tensor, view: FeatureView): tf.Tensor3D {
  const perPosition = mask.size === view.count * view.channels && view.channels > 1;
  return tf.reshape(tf.cast(mask, 'float32'), perPosition ? view.shape : [view.outer, 1, view.inner]);
}

function moments(x3: tf.Tensor3D, weights: tf.Tensor3D | null, view: FeatureView) {
  const axes = [0, 2];
  if (weights == null) {
    return { ...tf.moments(x3, axes, true), n: tf.scalar(view.count) };
  }
  // Per channel, at least one, so a fully masked channel gives zeros rather than NaN.
  const n = tf.maximum(tf.sum(weights, axes, true), 1);
  const mean = tf.div(tf.sum(tf.mul(x3, weights), axes, true), n);
  const variance = tf.div(tf.sum(tf.mul(weights, tf.square(tf.sub(x3, mean))), axes, true), n);
  return { mean, variance, n };
}

/**
 * Training-mode BatchNormalization: normalizes with the batch mean and biased variance over
 * every axis but `axis` (masked positions left out of the statistics), with a hand-written
 * gradient for x, gamma and beta. The caller owns the returned statistics.
 *
 * Usage: `const { y, mean, variance } = batchNormTraining({ x, gamma, beta, axis: 3, epsilon: 1e-3 });`
 */
export function batchNormTraining(args: BatchNormInputs, mask: tf.Tensor | null = null): TrainingResult {
  if (mask == null && kernelsServe(args)) return trainingKernel(args);
  if (mask == null && fusedOpsServe()) return fusedOpsTraining(args);
  const view = featureView(args.x.shape, args.axis);
  let stats: BatchStatistics | null = null;

  const forward = tf.customGrad((...tensorsAndSave: unknown[]) => {
    const save = tensorsAndSave.pop() as tf.GradSaveFunc;
    const { x, gamma, beta } = unpack(args, tensorsAndSave as tf.Tensor[]);
    const x3 = tf.reshape(x, view.shape) as tf.Tensor3D;
    const weights = mask == null ? null : maskWeights(mask, view);
    const { mean, variance, n } = moments(x3, weights, view);
    const invStd = tf.rsqrt(tf.add(variance, args.epsilon));
    const xhat = tf.mul(tf.sub(x3, mean), invStd);
    let y = xhat;
    if (gamma != null) y = tf.mul(y, perChannel(gamma, view));
    if (beta != null) y = tf.add(y, perChannel(beta, view));

    // customGrad runs this in a tidy: statistics leave it kept, gradient inputs through save().
    stats = {
      mean: tf.keep(tf.reshape(mean, [view.channels])),
      variance: tf.keep(tf.reshape(variance, [view.channels])),
    };
    const coef = weights == null ? tf.div(1, n) : tf.div(weights, n);
    save([xhat, invStd, coef, ...(gamma != null ? [gamma] : [])]);

    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [savedXhat, savedInvStd, savedCoef, savedGamma] = saved;
      const dy3 = tf.reshape(dy, view.shape);
      const dbeta = tf.sum(dy3, [0, 2]);
      const dgamma = tf.sum(tf.mul(dy3, savedXhat), [0, 2]);
      const g = savedGamma != null ? perChannel(savedGamma, view) : null;
      const dxhat = g != null ? tf.mul(dy3, g) : dy3;
      const sumDxhat = perChannel(g != null ? tf.mul(dbeta, savedGamma) : dbeta, view);
      const sumDxhatXhat = perChannel(g != null ? tf.mul(dgamma, savedGamma) : dgamma, view);
      const correction = tf.mul(savedCoef, tf.add(sumDxhat, tf.mul(savedXhat, sumDxhatXhat)));
      const dx = tf.reshape(tf.mul(savedInvStd, tf.sub(dxhat, correction)), args.x.shape);
      return [dx, ...(args.gamma != null ? [dgamma] : []), ...(args.beta != null ? [dbeta] : [])];
    };
    return { value: tf.reshape(y, args.x.shape), gradFunc };
  });

  const y = forward(...presentInputs(args));
  const { mean, variance } = stats as unknown as BatchStatistics;
  return { y, mean, variance };
}

/**
 * Inference-mode BatchNormalization with given (moving) statistics:
 * `y = gamma * (x - mean) / sqrt(variance + epsilon) + beta`, with a hand-written gradient for
 * x, gamma and beta (the statistics are constants here).
 *
 * Usage: `const y = batchNormInference({ x, gamma, beta, axis: 1, epsilon: 1e-3 }, movingMean, movingVariance);`
 */
export function batchNormInference(args: BatchNormInputs, mean: tf.Tensor, variance: tf.Tensor): tf.Tensor {
  if (kernelsServe(args, mean, variance)) return inferenceKernel(args, mean, variance);
  if (fusedOpsServe()) return fusedOpsInference(args, mean, variance);
  const view = featureView(args.x.shape, args.axis);
  const forward = tf.customGrad((...tensorsAndSave: unknown[]) => {
    const save = tensorsAndSave.pop() as tf.GradSaveFunc;
    const { x, gamma, beta } = unpack(args, tensorsAndSave as tf.Tensor[]);
    const x3 = tf.reshape(x, view.shape);
    const invStd = tf.rsqrt(tf.add(variance, args.epsilon));
    const scale = gamma != null ? tf.mul(gamma, invStd) : invStd;
    const shift = tf.neg(tf.mul(mean, scale));
    const y = tf.add(tf.mul(x3, perChannel(scale, view)), perChannel(beta != null ? tf.add(beta, shift) : shift, view));
    save([x3, tf.reshape(mean, [view.channels]), invStd, scale]);

    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [savedX, savedMean, savedInvStd, savedScale] = saved;
      const dy3 = tf.reshape(dy, view.shape);
      const dx = tf.reshape(tf.mul(dy3, perChannel(savedScale, view)), args.x.shape);
      const grads = [dx];
      if (args.gamma != null) {
        const xhat = tf.mul(tf.sub(savedX, perChannel(savedMean, view)), perChannel(savedInvStd, view));
        grads.push(tf.sum(tf.mul(dy3, xhat), [0, 2]));
      }
      if (args.beta != null) grads.push(tf.sum(dy3, [0, 2]));
      return grads;
    };
    return { value: tf.reshape(y, args.x.shape), gradFunc };
  });
  return forward(...presentInputs(args));
}

/**
 * The moving-average update Keras uses: `moving * momentum + batch * (1 - momentum)`.
 *
 * Usage: `movingMean.write(movingAverage(movingMean.read(), mean, 0.99));`
 */
export function movingAverage(moving: tf.Tensor, batch: tf.Tensor, momentum: number): tf.Tensor {
  return tf.tidy(() => tf.add(tf.mul(moving, momentum), tf.mul(batch, 1 - momentum)));
}
