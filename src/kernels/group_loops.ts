/**
 * The per-sample normalizations' math (LayerNormalization, GroupNormalization,
 * InstanceNormalization) as plain loops over Float32Arrays in the `[P, K, G, J, R]` layout of
 * ../core/view.ts: statistics per (p, g) over k, j, r; gamma and beta at `c = k*cK + g*cG + j`.
 * The cpu kernels run them on the backend's own arrays, the wasm kernels on views of the
 * WebAssembly heap. Accumulators are float64, and the statistics are summed shifted by the
 * group's first value, which keeps `E[(x-k)^2] - E[x-k]^2` accurate when |mean| >> std.
 *
 *   xhat = (x - mean) * invStd,   y = gamma[c] * xhat + beta[c]
 *   dbeta[c] = sum(dy),   dgamma[c] = sum(dy * xhat)            (over every position of c)
 *   S1 = sum(gamma*dy),   S2 = sum(gamma*dy*xhat)               (over each group)
 *   dx = invStd * (gamma*dy - (S1 + xhat*S2) / n)
 *
 * InstanceNormalization is BatchNormalization per sample and runs on loops.ts (see
 * perSampleBatchNorm below).
 *
 * How the loops are written, for speed in V8:
 * - The view walks the input as blocks of J*R contiguous values, one per (p, k, g), in which
 *   gamma's index is `c0 + floor(t / R)`. The per-value loops are written twice: for R = 1 (the
 *   usual LayerNormalization and channels-last cases) one flat loop over the block, since an
 *   inner loop of one iteration per value costs more than its arithmetic; else a loop per run.
 * - Each pass over the data is its own function, with every array allocated before its loops.
 *   A single function holding several passes gets optimized on-stack inside its first loop
 *   (V8's OSR) and then bails out at the first allocation after that loop, over and over; in
 *   unoptimized code every float is boxed. Together with the hidden-class change of the
 *   kernels' attrs object (see array_kernels.ts), this made a LayerNormalization cpu step at
 *   [256, 1024] take 29 ms in the bench instead of 3.3 ms, with a garbage collection per call.
 */
import type { GroupView } from '../core/view';
import { Dims, gradSums, gradX, trainingForward } from './loops';

/**
 * InstanceNormalization's views (one channel per group, a gamma per channel) make each sample a
 * BatchNormalization over its `[K, G, R]` values, so BatchNormalization's loops serve them, with
 * their four-row sweeps for channels last, where the loops below would handle one value per
 * (p, k, g) block. Returns the per-sample `[outer, C, inner]` sizes, or null for other views.
 */
function perSampleBatchNorm(d: GroupView): Dims | null {
  return d.J === 1 && d.cK === 0 && d.cG === 1 && d.channels === d.G ? { outer: d.K, channels: d.G, inner: d.R } : null;
}

/**
 * Forward: mean and 1/sqrt(variance + epsilon) per (p, g) (written to `mean`, `invStd`), then
 * `y = gamma[c] * (x - mean) * invStd + beta[c]`.
 *
 * Usage: `groupForward(x, gamma, beta, view, 1e-3, { y, mean, invStd })`
 */
export function groupForward(x: Float32Array, gamma: Float32Array, beta: Float32Array, d: GroupView, epsilon: number,
  out: { y: Float32Array; mean: Float32Array; invStd: Float32Array }): void {
  const instance = perSampleBatchNorm(d);
  if (instance != null) {
    instanceForward(x, gamma, beta, d.P, instance, epsilon, out);
    return;
  }
  const mean = new Float64Array(d.P * d.G);
  const invStd = new Float64Array(d.P * d.G);
  groupMoments(x, d, epsilon, mean, invStd);
  out.mean.set(mean);
  out.invStd.set(invStd);
  groupAffine(x, gamma, beta, mean, invStd, d, out.y);
}

/** Mean and 1/sqrt(biased variance + epsilon) of each (p, g) group, in float64. */
function groupMoments(x: Float32Array, d: GroupView, epsilon: number, mean: Float64Array, invStd: Float64Array): void {
  const { P, K, G, J, R } = d;
  const JR = J * R;
  const n = K * JR;
  const shift = new Float64Array(P * G);
  const sum = new Float64Array(P * G);
  const sumSq = new Float64Array(P * G);
  for (let p = 0; p < P; p++) {
    for (let g = 0; g < G; g++) shift[p * G + g] = x[p * K * G * JR + g * JR];
  }
  for (let p = 0, base = 0; p < P; p++) {
    for (let k = 0; k < K; k++) {
      for (let g = 0, s = p * G; g < G; g++, s++, base += JR) {
        const sh = shift[s];
        let a = 0;
        let q = 0;
        for (let i = base, end = base + JR; i < end; i++) {
          const v = x[i] - sh;
          a += v;
          q += v * v;
        }
        sum[s] += a;
        sumSq[s] += q;
      }
    }
  }
  for (let s = 0; s < P * G; s++) {
    const m = sum[s] / n;
    mean[s] = shift[s] + m;
    invStd[s] = 1 / Math.sqrt(Math.max(0, sumSq[s] / n - m * m) + epsilon);
  }
}

/** `y = x * a + b` with `a = invStd * gamma[c]`, `b = beta[c] - mean * a`. */
function groupAffine(x: Float32Array, gamma: Float32Array, beta: Float32Array, mean: Float64Array,
  invStd: Float64Array, d: GroupView, y: Float32Array): void {
  const { P, K, G, J, R, cK, cG } = d;
  for (let p = 0, i = 0; p < P; p++) {
    for (let k = 0; k < K; k++) {
      for (let g = 0, s = p * G; g < G; g++, s++) {
        const m = mean[s];
        const is = invStd[s];
        const c0 = k * cK + g * cG;
        if (R === 1) {
          for (let c = c0, end = c0 + J; c < end; c++, i++) {
            const a = is * gamma[c];
            y[i] = x[i] * a + (beta[c] - m * a);
          }
          continue;
        }
        for (let c = c0, endC = c0 + J; c < endC; c++) {
          const a = is * gamma[c];
          const b = beta[c] - m * a;
          for (const end = i + R; i < end; i++) y[i] = x[i] * a + b;
        }
      }
    }
  }
}

/**
 * Backward of groupForward for x, gamma and beta, in two passes: the sums (per channel and per
 * group), then dx = a*dy + b*x + e with a constant per channel and b, e per group.
 *
 * Usage: `groupBackward(dy, x, gamma, mean, invStd, view, { dx, dgamma, dbeta })`
 */
export function groupBackward(dy: Float32Array, x: Float32Array, gamma: Float32Array, mean: Float32Array,
  invStd: Float32Array, d: GroupView, out: { dx: Float32Array; dgamma: Float32Array; dbeta: Float32Array }): void {
  const instance = perSampleBatchNorm(d);
  if (instance != null) {
    instanceBackward(dy, x, gamma, mean, invStd, d.P, instance, out);
    return;
  }
  const sums = {
    dbeta: new Float64Array(d.channels),
    dgamma: new Float64Array(d.channels),
    s1: new Float64Array(d.P * d.G),
    s2: new Float64Array(d.P * d.G),
  };
  gradientSums(dy, x, gamma, mean, invStd, d, sums);
  out.dgamma.set(sums.dgamma);
  out.dbeta.set(sums.dbeta);
  gradientX(dy, x, gamma, mean, invStd, sums.s1, sums.s2, d, out.dx);
}

/**
 * Per channel `dbeta = sum(dy)` and `dgamma = sum(dy * xhat)`; per group `s1 = sum(gamma*dy)`
 * and `s2 = sum(gamma*dy*(x - mean))` (S2 of the header is `invStd * s2`).
 */
function gradientSums(dy: Float32Array, x: Float32Array, gamma: Float32Array, mean: Float32Array, invStd: Float32Array,
  d: GroupView, out: { dbeta: Float64Array; dgamma: Float64Array; s1: Float64Array; s2: Float64Array }): void {
  const { P, K, G, J, R, cK, cG } = d;
  const { dbeta, dgamma, s1, s2 } = out;
  for (let p = 0, i = 0; p < P; p++) {
    for (let k = 0; k < K; k++) {
      for (let g = 0, s = p * G; g < G; g++, s++) {
        const m = mean[s];
        const is = invStd[s];
        const c0 = k * cK + g * cG;
        let a1 = 0;
        let a2 = 0;
        if (R === 1) {
          for (let c = c0, end = c0 + J; c < end; c++, i++) {
            const v = dy[i];
            const vx = v * (x[i] - m);
            dbeta[c] += v;
            dgamma[c] += vx * is;
            a1 += gamma[c] * v;
            a2 += gamma[c] * vx;
          }
        } else {
          for (let c = c0, endC = c0 + J; c < endC; c++) {
            let sdy = 0;
            let sdyx = 0;
            for (const end = i + R; i < end; i++) {
              const v = dy[i];
              sdy += v;
              sdyx += v * (x[i] - m);
            }
            dbeta[c] += sdy;
            dgamma[c] += sdyx * is;
            a1 += gamma[c] * sdy;
            a2 += gamma[c] * sdyx;
          }
        }
        s1[s] += a1;
        s2[s] += a2;
      }
    }
  }
}

/** `dx = is*gamma*dy - is/n * (S1 + (x - m)*is*S2)`, written as `a*dy + b*x + e`. */
function gradientX(dy: Float32Array, x: Float32Array, gamma: Float32Array, mean: Float32Array, invStd: Float32Array,
  s1: Float64Array, s2: Float64Array, d: GroupView, dx: Float32Array): void {
  const { P, K, G, J, R, cK, cG } = d;
  const n = K * J * R;
  for (let p = 0, i = 0; p < P; p++) {
    for (let k = 0; k < K; k++) {
      for (let g = 0, s = p * G; g < G; g++, s++) {
        const m = mean[s];
        const is = invStd[s];
        const c0 = k * cK + g * cG;
        const b = -is * is * is * s2[s] / n;
        const e = -is * s1[s] / n - b * m;
        if (R === 1) {
          for (let c = c0, end = c0 + J; c < end; c++, i++) dx[i] = is * gamma[c] * dy[i] + b * x[i] + e;
          continue;
        }
        for (let c = c0, endC = c0 + J; c < endC; c++) {
          const a = is * gamma[c];
          for (const end = i + R; i < end; i++) dx[i] = a * dy[i] + b * x[i] + e;
        }
      }
    }
  }
}

/** groupForward for InstanceNormalization: BatchNormalization's training forward on each sample. */
function instanceForward(x: Float32Array, gamma: Float32Array, beta: Float32Array, samples: number, d: Dims,
  epsilon: number, out: { y: Float32Array; mean: Float32Array; invStd: Float32Array }): void {
  const { channels } = d;
  const n = d.outer * channels * d.inner;
  const variance = new Float32Array(channels);
  for (let p = 0, o = 0, s = 0; p < samples; p++, o += n, s += channels) {
    trainingForward(x.subarray(o, o + n), gamma, beta, d, epsilon, out.y.subarray(o, o + n),
      out.mean.subarray(s, s + channels), variance);
    for (let c = 0; c < channels; c++) out.invStd[s + c] = 1 / Math.sqrt(variance[c] + epsilon);
  }
}

/**
 * groupBackward for InstanceNormalization: BatchNormalization's training backward on each
 * sample, whose per-sample dgamma and dbeta are summed over the samples.
 */
function instanceBackward(dy: Float32Array, x: Float32Array, gamma: Float32Array, mean: Float32Array,
  invStd: Float32Array, samples: number, d: Dims,
  out: { dx: Float32Array; dgamma: Float32Array; dbeta: Float32Array }): void {
  const { channels } = d;
  const n = d.outer * channels * d.inner;
  const inv = new Float64Array(channels);
  const dbeta = new Float32Array(channels);
  const dgamma = new Float32Array(channels);
  const zero = new Float32Array(channels);
  const totalDbeta = new Float64Array(channels);
  const totalDgamma = new Float64Array(channels);
  for (let p = 0, o = 0, s = 0; p < samples; p++, o += n, s += channels) {
    const [dyP, xP, meanP] = [dy.subarray(o, o + n), x.subarray(o, o + n), mean.subarray(s, s + channels)];
    for (let c = 0; c < channels; c++) inv[c] = invStd[s + c];
    gradSums(dyP, xP, meanP, inv, d, dbeta, dgamma);
    gradX({ dy: dyP, x: xP, mean: meanP, invStd: inv, gamma, sums: [dbeta, dgamma, zero, zero] }, d, out.dx.subarray(o, o + n));
    for (let c = 0; c < channels; c++) {
      totalDbeta[c] += dbeta[c];
      totalDgamma[c] += dgamma[c];
    }
  }
  out.dbeta.set(totalDbeta);
  out.dgamma.set(totalDgamma);
}
