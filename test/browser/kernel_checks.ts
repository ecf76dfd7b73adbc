/**
 * Browser checks of the package's unified kernels (NormForward, NormApply, NormBackward) called
 * directly, on views of the whole family, against the textbook formula in plain tf ops and tf's
 * autodiff of it. They run on every backend that registers all three kernels, and webgpu must.
 */
import * as tf from '@tensorflow/tfjs';
import { batchNormalization, layerNormalization } from 'tfjs-batchnorm';
import { pairsDiff } from './compare';

const NAMES = { forward: 'TfjsNorm_Forward', apply: 'TfjsNorm_Apply', backward: 'TfjsNorm_Backward' };

interface View {
  name: string;
  shape: number[];
  P: number; K: number; G: number; J: number; R: number; cK: number; cG: number; channels: number;
  center?: boolean;
}

// Written out by hand from the view definitions (c = k * cK + g * cG + j), not computed by the
// package's view functions, so that a wrong view there cannot hide here. Sizes are not powers of
// two, and the large one passes 4096 values per statistic (the wider workgroup).
const VIEWS: View[] = [
  { name: 'BatchNormalization NHWC [4, 6, 6, 5]', shape: [4, 6, 6, 5], P: 1, K: 144, G: 5, J: 1, R: 1, cK: 0, cG: 1, channels: 5 },
  { name: 'BatchNormalization NCHW [3, 4, 5, 7]', shape: [3, 4, 5, 7], P: 1, K: 3, G: 4, J: 1, R: 35, cK: 0, cG: 1, channels: 4 },
  { name: 'BatchNormalization dense [5000, 3]', shape: [5000, 3], P: 1, K: 5000, G: 3, J: 1, R: 1, cK: 0, cG: 1, channels: 3 },
  { name: 'LayerNormalization last axis [6, 37]', shape: [6, 37], P: 6, K: 1, G: 1, J: 37, R: 1, cK: 0, cG: 0, channels: 37 },
  { name: 'LayerNormalization middle axis [3, 5, 4]', shape: [3, 5, 4], P: 3, K: 5, G: 4, J: 1, R: 1, cK: 1, cG: 0, channels: 5 },
  { name: 'GroupNormalization(4) NHWC [2, 3, 3, 8]', shape: [2, 3, 3, 8], P: 2, K: 9, G: 4, J: 2, R: 1, cK: 0, cG: 2, channels: 8 },
  { name: 'GroupNormalization(3) NCW [2, 6, 5]', shape: [2, 6, 5], P: 2, K: 1, G: 3, J: 2, R: 5, cK: 0, cG: 2, channels: 6 },
  { name: 'one gamma for all [2, 3, 10]', shape: [2, 3, 10], P: 2, K: 1, G: 3, J: 1, R: 10, cK: 0, cG: 0, channels: 1 },
  { name: 'RMSNormalization [4, 33]', shape: [4, 33], P: 4, K: 1, G: 1, J: 33, R: 1, cK: 0, cG: 0, channels: 33, center: false },
];

const EPSILON = 1e-3;

/**
 * gamma (or beta) spread over the [P, K, G, J, R] view by its index c = k * cK + g * cG + j, as a
 * product with a one-hot matrix: gather's gradient needs UnsortedSegmentSum, which wasm lacks.
 */
function spread(v: View, t: tf.Tensor): tf.Tensor {
  const rows = v.K * v.G * v.J;
  const oneHot = new Float32Array(rows * v.channels);
  let row = 0;
  for (let k = 0; k < v.K; k++) for (let g = 0; g < v.G; g++) for (let j = 0; j < v.J; j++) oneHot[row++ * v.channels + k * v.cK + g * v.cG + j] = 1;
  return tf.reshape(tf.matMul(tf.tensor2d(oneHot, [rows, v.channels]), tf.reshape(t, [v.channels, 1])), [1, v.K, v.G, v.J, 1]);
}

/** The textbook: statistics per (p, g) over k, j, r; mean 0 and variance the mean square when not centered. */
function textbook(v: View, x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, stats?: { mean: tf.Tensor; variance: tf.Tensor }) {
  const x5 = tf.reshape(x, [v.P, v.K, v.G, v.J, v.R]);
  const center = v.center !== false;
  const mean = stats != null ? tf.reshape(stats.mean, [v.P, 1, v.G, 1, 1])
    : center ? tf.mean(x5, [1, 3, 4], true) : tf.zeros([v.P, 1, v.G, 1, 1]);
  const variance = stats != null ? tf.reshape(stats.variance, [v.P, 1, v.G, 1, 1])
    : tf.mean(tf.square(tf.sub(x5, mean)), [1, 3, 4], true);
  const y = tf.add(tf.mul(tf.div(tf.sub(x5, mean), tf.sqrt(tf.add(variance, EPSILON))), spread(v, gamma)), spread(v, beta));
  return { y: tf.reshape(y, x.shape), mean: tf.reshape(mean, [-1]), variance: tf.reshape(variance, [-1]) };
}

function attrs(v: View): tf.NamedAttrMap {
  return { P: v.P, K: v.K, G: v.G, J: v.J, R: v.R, cK: v.cK, cG: v.cG, channels: v.channels, epsilon: EPSILON, center: v.center !== false };
}

function run(name: string, inputs: tf.NamedTensorMap, a: tf.NamedAttrMap): tf.Tensor[] {
  const out = tf.engine().runKernel(name, inputs, a) as tf.Tensor | tf.Tensor[];
  return Array.isArray(out) ? out : [out];
}

/** Whether `backend` registers all three unified kernels. */
function hasUnifiedKernels(backend: string): boolean {
  return Object.values(NAMES).every((name) => tf.getKernel(name, backend) != null);
}

const TOL = 1e-4;

const KERNEL_CHECKS: Record<string, () => Promise<string>> = {
  async 'NormForward, NormApply and NormBackward match the textbook and its autodiff on every view of the family'() {
    if (!hasUnifiedKernels(tf.getBackend())) throw new Error(`the kernels ${Object.values(NAMES).join(', ')} are not all registered for ${tf.getBackend()}`);
    const lines: string[] = [];
    for (const [n, v] of VIEWS.entries()) {
      const worst = await pairsDiff(tf.tidy(() => {
        const x = tf.randomNormal(v.shape, 1.5, 2, 'float32', 40 + n);
        const gamma = tf.randomUniform([v.channels], 0.5, 2, 'float32', 60 + n);
        const beta = tf.randomNormal([v.channels], 0, 1, 'float32', 80 + n);
        const dy = tf.randomUniform(v.shape, -1, 1, 'float32', 100 + n);
        const [y, mean, variance] = run(NAMES.forward, { x, gamma, beta }, attrs(v));
        const want = textbook(v, x, gamma, beta);
        // Gradients of sum(y * dy): statistics depending on x, then given (NormApply's case).
        const loss = (stats?: { mean: tf.Tensor; variance: tf.Tensor }) => (xx: tf.Tensor, g: tf.Tensor, b: tf.Tensor) =>
          tf.sum(tf.mul(textbook(v, xx, g, b, stats).y, dy));
        const autodiff = tf.grads(loss())([x, gamma, beta]);
        const backward = run(NAMES.backward, { dy, x, gamma, mean, variance }, { ...attrs(v), statsDependOnX: true });
        const moving = { mean: tf.add(want.mean, 0.25), variance: tf.mul(want.variance, 1.5) };
        const applied = run(NAMES.apply, { x, ...moving, gamma, beta }, attrs(v))[0];
        const autodiffGiven = tf.grads(loss(moving))([x, gamma, beta]);
        const backwardGiven = run(NAMES.backward, { dy, x, gamma, ...moving }, { ...attrs(v), statsDependOnX: false });
        return [
          y, want.y, mean, want.mean, variance, want.variance, applied, textbook(v, x, gamma, beta, moving).y,
          ...backward.flatMap((t, i) => [t, autodiff[i]]), ...backwardGiven.flatMap((t, i) => [t, autodiffGiven[i]]),
        ];
      }));
      if (!(worst <= TOL)) throw new Error(`${v.name}: differs by ${worst.toExponential(2)} (tolerance ${TOL})`);
      lines.push(`${v.name.split(' ')[0]} ${worst.toExponential(1)}`);
    }
    return lines.join('; ');
  },
};

const WEBGPU_CHECKS: Record<string, () => Promise<string>> = {
  async 'the layers run the WebGPU kernels (training, inference and gradients)'() {
    const ln = layerNormalization();
    const bn = batchNormalization();
    const x = tf.randomNormal([4, 8], 0, 1, 'float32', 120);
    const info = await tf.profile(() => tf.tidy(() => {
      tf.grads((xx: tf.Tensor) => tf.sum(ln.apply(xx, { training: true }) as tf.Tensor))([x]);
      tf.grads((xx: tf.Tensor) => tf.sum(bn.apply(xx, { training: true }) as tf.Tensor))([x]);
      bn.apply(x);
    }));
    tf.dispose(x);
    ln.dispose();
    bn.dispose();
    const ran = Object.values(NAMES).filter((name) => info.kernelNames.includes(name));
    if (ran.length !== 3) throw new Error(`ran ${ran.join(', ') || 'none'} of the three; all kernels: ${info.kernelNames.join(', ')}`);
    return `ran ${ran.join(', ')}`;
  },

  async 'the WebGPU kernels say what they expected when an input has the wrong size'() {
    const v = VIEWS[0];
    const x = tf.zeros(v.shape);
    const gamma = tf.ones([v.channels + 1]);
    const beta = tf.zeros([v.channels]);
    let message = '';
    try {
      tf.dispose(run(NAMES.forward, { x, gamma, beta }, attrs(v)));
    } catch (err) {
      message = (err as Error).message;
    } finally {
      tf.dispose([x, gamma, beta]);
    }
    if (!/'gamma' has 6 values/.test(message) || !/needs 5/.test(message)) throw new Error(`error was "${message}"`);
    return message;
  },
};

/**
 * The checks for `backend`: the kernel checks where the kernels are registered (webgpu must
 * have them: there they run even when missing, and fail), and webgpu's own.
 *
 * Usage: `Object.entries({ ...CHECKS, ...kernelChecks(backend) })`
 */
export function kernelChecks(backend: string): Record<string, () => Promise<string>> {
  if (backend === 'webgpu') return { ...KERNEL_CHECKS, ...WEBGPU_CHECKS };
  return hasUnifiedKernels(backend) ? KERNEL_CHECKS : {};
}
