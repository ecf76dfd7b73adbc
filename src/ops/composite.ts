/**
 * NormForward and NormApply (../kernels/names.ts) as tf ops, for the backends without this
 * package's kernels (webgl, and tfjs-node's tensorflow until kernels are registered for it;
 * webgpu too if its kernels were unregistered). Same inputs, attributes, outputs and gradients as the kernels; the math, with
 * invStd = 1 / sqrt(variance + epsilon) and n values per statistic:
 *
 *   y  = (x - mean) * invStd * gamma + beta
 *   dx = invStd * gamma*dy - invStd/n * (S1 + xhat * S2)    statistics computed from x
 *        (S1 = sum(gamma*dy), S2 = sum(gamma*dy*xhat) per statistic; no S1 when not centering)
 *   dx = invStd * gamma*dy                                  statistics given
 *   dgamma = sum(dy * xhat),  dbeta = sum(dy)               per channel
 *
 * arranged so that every elementwise step over x is one normalize step (tfjs's fused batchNorm
 * op on webgl and webgpu, one shader program, which broadcasts per-statistic and per-channel
 * tensors against x of any rank) or one binary op:
 *
 *   xhat = normalize(x)
 *   dx   = invStd*gamma*dy + normalize(x, scale -invStd*S2/n, offset -invStd*S1/n)
 *
 * Tensors keep x's own shape wherever the view allows it (viewLayout in ../core/view.ts): on
 * webgl a reshape that changes the last two dimensions repacks the whole texture. With nothing
 * recorded for a gradient (predict), the forward runs without tf.customGrad.
 */
import * as tf from '@tensorflow/tfjs';
import { viewLayout, ViewLayout } from '../core/view';
import { statisticGradients } from '../kernels/gradients';
import type { NormAttrs } from '../kernels/names';

/** Backends whose batchNorm broadcasts each of its per-statistic inputs against x of any rank. */
const FUSED_OP_BACKENDS = new Set(['webgl', 'webgpu']);

/** viewLayout plus what the gradient needs. */
interface Layout extends ViewLayout {
  /** Values per statistic. */
  n: number;
  /** The axes gamma does not vary along: dgamma and dbeta sum over them. */
  affineSumAxes: number[];
  /** Whether gamma is constant inside each statistic's values (BatchNormalization, InstanceNormalization). */
  perStatisticAffine: boolean;
}

function layoutOf(shape: readonly number[], attrs: NormAttrs): Layout {
  const layout = viewLayout(shape, attrs);
  const affineSumAxes = layout.affineShape.flatMap((d, i) => (d === 1 ? [i] : []));
  return { ...layout, n: attrs.K * attrs.J * attrs.R, affineSumAxes,
    perStatisticAffine: layout.axes.every((a) => layout.affineShape[a] === 1) };
}

/** Whether a gradient tape is recording (inside tf.grad, tf.variableGrads, model.fit's step). */
function recording(): boolean {
  return tf.engine().state.gradientDepth > 0;
}

/**
 * `(x - mean) * invStd * scale + offset`, with mean, variance, scale and offset of x's rank
 * (broadcasting), scale and offset optional.
 */
function normalizeStep(x: tf.Tensor, mean: tf.Tensor, variance: tf.Tensor, scale: tf.Tensor | null,
  offset: tf.Tensor | null, epsilon: number): tf.Tensor {
  const backend = tf.getBackend();
  if (backend === 'webgl' && !recording()) {
    // The kernel itself, without tf.batchNorm's reshapes to 4-D and back: two dispatches fewer,
    // which is what a small input's time is made of. Its program broadcasts against any rank.
    const inputs: Record<string, tf.Tensor> = { x, mean, variance };
    if (offset != null) inputs.offset = offset;
    if (scale != null) inputs.scale = scale;
    return tf.engine().runKernel(tf.FusedBatchNorm, inputs as unknown as tf.NamedTensorMap,
      { varianceEpsilon: epsilon } as unknown as tf.NamedAttrMap) as tf.Tensor;
  }
  if (FUSED_OP_BACKENDS.has(backend)) {
    // Typed for rank 4 at most; the op reshapes ranks below 4 and passes higher ranks through.
    return tf.batchNorm(x as tf.Tensor4D, mean as tf.Tensor4D, variance as tf.Tensor4D,
      (offset ?? undefined) as tf.Tensor4D | undefined, (scale ?? undefined) as tf.Tensor4D | undefined, epsilon);
  }
  let y = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, epsilon)));
  if (scale != null) y = tf.mul(y, scale);
  return offset != null ? tf.add(y, offset) : y;
}

/** Saved by the forward for the gradient, in the layout's shapes. */
interface Saved {
  x: tf.Tensor;
  mean: tf.Tensor;
  variance: tf.Tensor;
  gamma: tf.Tensor;
}

/** dx, dgamma and dbeta (the module comment's formulas), in the layout's shapes but dgamma / dbeta flat. */
function backward(dy: tf.Tensor, s: Saved, L: Layout, attrs: NormAttrs, statsDependOnX: boolean) {
  const eps = attrs.epsilon;
  const dyL = tf.reshape(dy, L.shape);
  const xhat = normalizeStep(s.x, s.mean, s.variance, null, null, eps);
  const dyXhat = tf.mul(dyL, xhat);
  const dbeta = tf.reshape(tf.sum(dyL, L.affineSumAxes), [-1]);
  const dgamma = tf.reshape(tf.sum(dyXhat, L.affineSumAxes), [-1]);
  const invStd = tf.rsqrt(tf.add(s.variance, eps));
  let dx: tf.Tensor;
  let s1: tf.Tensor | null = null;
  let s2: tf.Tensor | null = null;
  if (L.perStatisticAffine) {
    // gamma * invStd is a small tensor, and S1, S2 are gamma times sums of dy and dy * xhat.
    dx = tf.mul(dyL, tf.mul(s.gamma, invStd));
    if (statsDependOnX) {
      s1 = tf.mul(s.gamma, tf.sum(dyL, L.axes, true));
      s2 = tf.mul(s.gamma, tf.sum(dyXhat, L.axes, true));
    }
  } else {
    const gdy = tf.mul(dyL, s.gamma);
    dx = tf.mul(gdy, invStd);
    if (statsDependOnX) {
      s1 = tf.sum(gdy, L.axes, true);
      s2 = tf.sum(tf.mul(gdy, xhat), L.axes, true);
    }
  }
  if (s1 != null && s2 != null) {
    const c = tf.div(invStd, -L.n);
    dx = tf.add(dx, normalizeStep(s.x, s.mean, s.variance, tf.mul(c, s2), attrs.center ? tf.mul(c, s1) : null, eps));
  }
  return { dx, dgamma, dbeta };
}

/**
 * NormForward as tf ops: `[y, mean, variance]`, the statistics flat (`[P * G]`) and not
 * differentiable (as the kernels' are not).
 *
 * Usage: `const [y, mean, variance] = compositeForward({ x, gamma, beta }, attrs);`
 */
export function compositeForward(inputs: { x: tf.Tensor; gamma: tf.Tensor; beta: tf.Tensor }, attrs: NormAttrs): tf.Tensor[] {
  const { x } = inputs;
  const L = layoutOf(x.shape, attrs);
  const stats: tf.Tensor[] = [];
  const forward = (xL: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor) => {
    const mean = attrs.center ? tf.mean(xL, L.axes, true) : tf.zeros(L.statShape);
    const variance = attrs.center
      ? tf.mean(tf.squaredDifference(xL, mean), L.axes, true) : tf.mean(tf.square(xL), L.axes, true);
    const gammaL = tf.reshape(gamma, L.affineShape);
    const y = normalizeStep(xL, mean, variance, gammaL, tf.reshape(beta, L.affineShape), attrs.epsilon);
    stats.push(tf.keep(tf.reshape(mean, [-1])), tf.keep(tf.reshape(variance, [-1])));
    return { y: tf.reshape(y, x.shape), saved: { x: xL, mean, variance, gamma: gammaL } };
  };
  // The statistics leave the forward's own scope kept; clones belong to the caller's scope (and
  // its tidy), as a kernel's outputs do.
  const owned = () => stats.map((t) => {
    const copy = tf.clone(t);
    t.dispose();
    return copy;
  });
  if (!recording()) {
    const y = tf.tidy(() => forward(tf.reshape(x, L.shape), inputs.gamma, inputs.beta).y);
    return [y, ...owned()];
  }
  const run = tf.customGrad((...args: unknown[]) => {
    const [xIn, gamma, beta, save] = args as [tf.Tensor, tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    const { y, saved } = forward(tf.reshape(xIn, L.shape), gamma, beta);
    save([saved.x, saved.mean, saved.variance, saved.gamma]);
    const gradFunc = (dy: tf.Tensor, [sx, smean, svariance, sgamma]: tf.Tensor[]) => {
      const g = backward(dy, { x: sx, mean: smean, variance: svariance, gamma: sgamma }, L, attrs, true);
      return [tf.reshape(g.dx, x.shape), tf.reshape(g.dgamma, gamma.shape), tf.reshape(g.dbeta, beta.shape)];
    };
    return { value: y, gradFunc };
  });
  const y = run(x, inputs.gamma, inputs.beta);
  return [y, ...owned()];
}

/**
 * NormApply as tf ops: y for the given statistics (flat, `[P * G]`), with gradients for all five
 * inputs (those of the statistics from the same formulas as the kernels' gradient).
 *
 * Usage: `const y = compositeApply({ x, mean, variance, gamma, beta }, attrs);`
 */
export function compositeApply(inputs: { x: tf.Tensor; mean: tf.Tensor; variance: tf.Tensor; gamma: tf.Tensor; beta: tf.Tensor },
  attrs: NormAttrs): tf.Tensor {
  const { x } = inputs;
  const L = layoutOf(x.shape, attrs);
  const forward = (xIn: tf.Tensor, mean: tf.Tensor, variance: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor) => {
    const saved = { x: tf.reshape(xIn, L.shape), mean: tf.reshape(mean, L.statShape),
      variance: tf.reshape(variance, L.statShape), gamma: tf.reshape(gamma, L.affineShape) };
    const y = normalizeStep(saved.x, saved.mean, saved.variance, saved.gamma, tf.reshape(beta, L.affineShape), attrs.epsilon);
    return { y: tf.reshape(y, x.shape), saved };
  };
  const { mean, variance, gamma, beta } = inputs;
  if (!recording()) return tf.tidy(() => forward(x, mean, variance, gamma, beta).y);
  const run = tf.customGrad((...args: unknown[]) => {
    const [xIn, m, v, g, b, save] = args as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    const { y, saved } = forward(xIn, m, v, g, b);
    save([xIn, m, v, g, saved.x, saved.mean, saved.variance, saved.gamma]);
    const gradFunc = (dy: tf.Tensor, [sx, sm, sv, sg, ...inLayout]: tf.Tensor[]) => {
      const [lx, lmean, lvariance, lgamma] = inLayout;
      const grads = backward(dy, { x: lx, mean: lmean, variance: lvariance, gamma: lgamma }, L, attrs, false);
      const stat = statisticGradients(dy, { x: sx, gamma: sg, mean: sm, variance: sv }, attrs);
      return [tf.reshape(grads.dx, x.shape), stat.mean(), stat.variance(), tf.reshape(grads.dgamma, g.shape),
        tf.reshape(grads.dbeta, b.shape)];
    };
    return { value: y, gradFunc };
  });
  return run(x, mean, variance, gamma, beta);
}
