/**
 * The math of the per-sample normalizations (LayerNormalization, GroupNormalization,
 * InstanceNormalization), in one place, on the `[P, K, G, J, R]` view of ../core/view.ts:
 * statistics per (p, g) over k, j and r (n values); gamma and beta per channel c.
 *
 *   xhat = (x - mean) * invStd,   invStd = 1 / sqrt(var + eps),   y = gamma * xhat + beta
 *   dbeta = sum(dy),   dgamma = sum(dy * xhat)                   (over every position of c)
 *   dx = invStd * (gamma*dy - (S1 + xhat * S2) / n),  S1 = sum(gamma*dy),  S2 = sum(gamma*dy*xhat)
 * where S1 and S2 are sums over each (p, g) group: gamma varies inside a group, so they are not
 * gamma times a channel sum, as they are for BatchNormalization.
 *
 * Dispatch: on a backend with this package's kernels (cpu, wasm) one fused
 * forward kernel with a registered gradient (one fused backward kernel); everywhere else the
 * composite `tf.customGrad` path below. Missing gamma / beta are filled with ones / zeros here, once, for both paths.
 */
import * as tf from '@tensorflow/tfjs';
import type { GroupNormInputs } from '../core/types';
import { affineViewShape, groupCount, GroupView } from '../core/view';
import { groupNormKernel } from '../kernels/ops';
import { hasGroupNormKernels, registerBatchNormKernels } from '../kernels/register';

export type { GroupNormInputs };

registerBatchNormKernels();

const STAT_AXES = [1, 3, 4];

function viewShape(v: GroupView): number[] {
  return [v.P, v.K, v.G, v.J, v.R];
}

/** The view axes gamma does not vary along: dgamma and dbeta sum over them. */
function affineSumAxes(v: GroupView): number[] {
  return affineViewShape(v).flatMap((d, i) => (d === 1 ? [i] : []));
}

/**
 * Normalizes `x` per (p, g) group of the view and applies gamma / beta, with a hand-written
 * gradient for x, gamma and beta. Training and inference are the same computation.
 *
 * Usage: `const y = groupNormalize({ x, gamma, beta, view: layerView(x.shape, 1, 1), epsilon: 1e-3 });`
 */
export function groupNormalize(args: GroupNormInputs): tf.Tensor {
  return tf.tidy(() => {
    const gamma = args.gamma ?? tf.ones([args.view.channels]);
    const beta = args.beta ?? tf.zeros([args.view.channels]);
    const filled = { ...args, gamma, beta };
    const kernelsServe = hasGroupNormKernels() && [args.x, gamma, beta].every((t) => t.dtype === 'float32');
    return kernelsServe ? groupNormKernel(filled) : compositeGroupNormalize(filled);
  });
}

/**
 * The composite path of groupNormalize (tf ops, analytic gradient through tf.customGrad), for
 * every backend without this package's kernels. gamma and beta must be given.
 *
 * Usage: `compositeGroupNormalize({ x, gamma, beta, view, epsilon: 1e-3 })`
 */
export function compositeGroupNormalize(args: GroupNormInputs & { gamma: tf.Tensor; beta: tf.Tensor }): tf.Tensor {
  const { view, epsilon } = args;
  const shape5 = viewShape(view);
  const affine5 = affineViewShape(view);
  const sumAxes = affineSumAxes(view);
  const n = groupCount(view);
  const forward = tf.customGrad((...inputsAndSave: unknown[]) => {
    const [x, gamma, beta, save] = inputsAndSave as [tf.Tensor, tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    const x5 = tf.reshape(x, shape5);
    const { mean, variance } = tf.moments(x5, STAT_AXES, true);
    const invStd = tf.rsqrt(tf.add(variance, epsilon));
    const xhat = tf.mul(tf.sub(x5, mean), invStd);
    const g5 = tf.reshape(gamma, affine5);
    const y = tf.add(tf.mul(xhat, g5), tf.reshape(beta, affine5));
    save([xhat, invStd, g5]);
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sXhat, sInvStd, sG5] = saved;
      const dy5 = tf.reshape(dy, shape5);
      const gdy = tf.mul(dy5, sG5);
      const s1 = tf.sum(gdy, STAT_AXES, true);
      const s2 = tf.sum(tf.mul(gdy, sXhat), STAT_AXES, true);
      const dx = tf.mul(sInvStd, tf.sub(gdy, tf.div(tf.add(s1, tf.mul(sXhat, s2)), n)));
      const dgamma = tf.sum(tf.mul(dy5, sXhat), sumAxes);
      const dbeta = tf.sum(dy5, sumAxes);
      return [tf.reshape(dx, x.shape), tf.reshape(dgamma, gamma.shape), tf.reshape(dbeta, beta.shape)];
    };
    return { value: tf.reshape(y, x.shape), gradFunc };
  });
  return forward(args.x, args.gamma, args.beta);
}

/**
 * Keras 3's deprecated `rms_scaling` LayerNormalization: `y = gamma * x / sqrt(var(x) + eps)`
 * (the input is divided by its standard deviation, not by its root mean square, and not
 * centered), with no beta. Plain tf ops; autodiff gives its gradient.
 *
 * Usage: `const y = rmsScale({ x, gamma, beta: null, view, epsilon: 1e-3 });`
 */
export function rmsScale(args: GroupNormInputs): tf.Tensor {
  return tf.tidy(() => {
    const x5 = tf.reshape(args.x, viewShape(args.view));
    const { variance } = tf.moments(x5, STAT_AXES, true);
    let y = tf.mul(x5, tf.rsqrt(tf.add(variance, args.epsilon)));
    if (args.gamma != null) y = tf.mul(y, tf.reshape(args.gamma, affineViewShape(args.view)));
    return tf.reshape(y, args.x.shape);
  });
}
