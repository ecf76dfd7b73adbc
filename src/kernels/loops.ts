/**
 * The normalizations' math, once, as plain loops over Float32Arrays in the `[P, K, G, J, R]`
 * layout of ../core/view.ts: statistics per (p, g) over k, j, r (n = K*J*R values), gamma and
 * beta at `c = k*cK + g*cG + j`. The cpu kernels run them on the backend's own arrays, the wasm
 * kernels on views of the WebAssembly heap.
 *
 *   xc = x - mean (mean = 0 when not centering),  invStd = 1 / sqrt(variance + epsilon)
 *   xhat = xc * invStd,   y = gamma[c] * xhat + beta[c]
 *   dbeta[c] = sum(dy),   dgamma[c] = sum(dy * xhat)            (over every position of c)
 *   S1 = sum(gamma*dy),   S2 = sum(gamma*dy*xhat)               (over each (p, g) group)
 *   dx = invStd * (gamma*dy - (S1 + xhat*S2) / n)   statistics computed from x (centered)
 *   dx = invStd * (gamma*dy - xhat*S2 / n)          statistics computed from x (not centered:
 *                                                   variance = mean(x^2), so no S1 path)
 *   dx = invStd * gamma*dy                          statistics given
 *
 * Accumulators are float64, and centered statistics are summed shifted by the group's first
 * value, which keeps `E[(x-k)^2] - E[x-k]^2` accurate when |mean| >> std.
 *
 * How the loops are written, for speed in V8:
 * - Two walks over the data. The block walk takes the input as blocks of J*R contiguous values,
 *   one per (p, k, g), in which gamma's index is `c0 + floor(t / R)`; for R = 1 (the usual
 *   LayerNormalization case) one flat loop over the block, since an inner loop of one iteration
 *   per value costs more than its arithmetic. The column walk serves the views whose blocks are
 *   single values with a gamma per group (J = R = 1, cK = 0, cG = 1: BatchNormalization and
 *   InstanceNormalization channels last, each sample a `[K, G]` matrix with statistics per
 *   column): four rows per sweep, so each column's sums or coefficients are loaded and stored
 *   once for four values. Written out in each pass rather than shared: sharing one reduction
 *   between passes, or dropping the four-row sweep, measured slower (BENCHMARKS.md).
 * - Each pass over the data is its own function, with every array allocated before its loops.
 *   A single function holding several passes gets optimized on-stack inside its first loop
 *   (V8's OSR) and then bails out at the first allocation after that loop, over and over; in
 *   unoptimized code every float is boxed.
 */
import type { NormView } from '../core/view';

/** The view plus what every kernel needs. */
export interface LoopAttrs extends NormView {
  epsilon: number;
  center: boolean;
}

/** NormForward's arrays. */
export interface ForwardArrays {
  x: Float32Array;
  gamma: Float32Array;
  beta: Float32Array;
}

/** NormApply's arrays. */
export interface ApplyArrays extends ForwardArrays {
  mean: Float32Array;
  variance: Float32Array;
}

/** NormBackward's arrays. */
export interface BackwardArrays {
  dy: Float32Array;
  x: Float32Array;
  gamma: Float32Array;
  mean: Float32Array;
  variance: Float32Array;
}

/** Whether the column walk serves the view (see the module comment). */
function columns(v: NormView): boolean {
  return v.J === 1 && v.R === 1 && v.cK === 0 && v.cG === 1;
}

/**
 * NormForward: mean and variance per (p, g), written to `out.mean` / `out.variance`, then y.
 *
 * Usage: `normForward({ x, gamma, beta }, attrs, { y, mean, variance })`
 */
export function normForward(inp: ForwardArrays, v: LoopAttrs,
  out: { y: Float32Array; mean: Float32Array; variance: Float32Array }): void {
  const mean = new Float64Array(v.P * v.G);
  const invStd = new Float64Array(v.P * v.G);
  statistics(inp.x, v, mean, invStd, out);
  affine(inp, mean, invStd, v, out.y);
}

/**
 * NormApply: y with the given statistics.
 *
 * Usage: `normApply({ x, mean, variance, gamma, beta }, attrs, y)`
 */
export function normApply(inp: ApplyArrays, v: LoopAttrs, y: Float32Array): void {
  const mean = Float64Array.from(inp.mean);
  const invStd = inverseStd(inp.variance, v.epsilon);
  affine(inp, mean, invStd, v, y);
}

/**
 * NormBackward: dx, dgamma and dbeta, in two passes (the sums, then dx).
 *
 * Usage: `normBackward({ dy, x, gamma, mean, variance }, attrs, true, { dx, dgamma, dbeta })`
 */
export function normBackward(inp: BackwardArrays, v: LoopAttrs, statsDependOnX: boolean,
  out: { dx: Float32Array; dgamma: Float32Array; dbeta: Float32Array }): void {
  const S = v.P * v.G;
  const n = v.K * v.J * v.R;
  const mean = Float64Array.from(inp.mean);
  const invStd = inverseStd(inp.variance, v.epsilon);
  const sums = { dbeta: new Float64Array(v.channels), dgamma: new Float64Array(v.channels), s1: new Float64Array(S),
    s2: new Float64Array(S) };
  // dx = a * dy + b * x + e, with a = invStd * gamma[c] and b, e per group.
  const b = new Float64Array(S);
  const e = new Float64Array(S);
  if (columns(v)) columnGradSums(inp, mean, invStd, v, sums);
  else blockGradSums(inp, mean, invStd, v, sums);
  out.dgamma.set(sums.dgamma);
  out.dbeta.set(sums.dbeta);
  if (statsDependOnX) {
    for (let s = 0; s < S; s++) {
      const is = invStd[s];
      // S2 of the module comment is invStd * s2: s2 sums gamma * dy * xc.
      b[s] = -is * is * is * sums.s2[s] / n;
      e[s] = v.center ? -is * sums.s1[s] / n - b[s] * mean[s] : 0;
    }
  }
  if (columns(v)) columnGradX(inp, invStd, b, e, v, out.dx);
  else blockGradX(inp, invStd, b, e, v, out.dx);
}

/** `1 / sqrt(variance + epsilon)` per group, in float64. */
function inverseStd(variance: Float32Array, epsilon: number): Float64Array {
  const out = new Float64Array(variance.length);
  for (let s = 0; s < variance.length; s++) out[s] = 1 / Math.sqrt(variance[s] + epsilon);
  return out;
}

/** Mean and variance per group (float32 outputs, float64 mean and invStd for the next pass). */
function statistics(x: Float32Array, v: LoopAttrs, mean: Float64Array, invStd: Float64Array,
  out: { mean: Float32Array; variance: Float32Array }): void {
  const { P, G, epsilon, center } = v;
  const JR = v.J * v.R;
  const n = v.K * JR;
  const S = P * G;
  const shift = new Float64Array(S);
  const sum = new Float64Array(S);
  const sumSq = new Float64Array(S);
  if (center) {
    for (let p = 0; p < P; p++) {
      for (let g = 0; g < G; g++) shift[p * G + g] = x[p * v.K * G * JR + g * JR];
    }
  }
  if (columns(v)) columnSums(x, v, shift, sum, sumSq);
  else blockSums(x, v, shift, sum, sumSq);
  for (let s = 0; s < S; s++) {
    const m = sum[s] / n;
    const variance = center ? Math.max(0, sumSq[s] / n - m * m) : sumSq[s] / n;
    mean[s] = center ? shift[s] + m : 0;
    invStd[s] = 1 / Math.sqrt(variance + epsilon);
    out.mean[s] = mean[s];
    out.variance[s] = variance;
  }
}

function blockSums(x: Float32Array, v: NormView, shift: Float64Array, sum: Float64Array, sumSq: Float64Array): void {
  const { P, K, G } = v;
  const JR = v.J * v.R;
  for (let p = 0, base = 0; p < P; p++) {
    for (let k = 0; k < K; k++) {
      for (let g = 0, s = p * G; g < G; g++, s++, base += JR) {
        const h = shift[s];
        let a = 0;
        let q = 0;
        for (let i = base, end = base + JR; i < end; i++) {
          const d = x[i] - h;
          a += d;
          q += d * d;
        }
        sum[s] += a;
        sumSq[s] += q;
      }
    }
  }
}

function columnSums(x: Float32Array, v: NormView, shift: Float64Array, sum: Float64Array, sumSq: Float64Array): void {
  const { P, K, G } = v;
  for (let p = 0; p < P; p++) {
    const s0 = p * G;
    const start = p * K * G;
    let k = 0;
    for (; k + 4 <= K; k += 4) {
      const b0 = start + k * G;
      const b1 = b0 + G;
      const b2 = b1 + G;
      const b3 = b2 + G;
      for (let g = 0, s = s0; g < G; g++, s++) {
        const h = shift[s];
        const v0 = x[b0 + g] - h;
        const v1 = x[b1 + g] - h;
        const v2 = x[b2 + g] - h;
        const v3 = x[b3 + g] - h;
        sum[s] += (v0 + v1) + (v2 + v3);
        sumSq[s] += (v0 * v0 + v1 * v1) + (v2 * v2 + v3 * v3);
      }
    }
    for (let base = start + k * G; k < K; k++, base += G) {
      for (let g = 0, s = s0; g < G; g++, s++) {
        const d = x[base + g] - shift[s];
        sum[s] += d;
        sumSq[s] += d * d;
      }
    }
  }
}

/** `y = x * a + b` with `a = invStd * gamma[c]`, `b = beta[c] - mean * a`. */
function affine(inp: ForwardArrays, mean: Float64Array, invStd: Float64Array, v: NormView, y: Float32Array): void {
  if (columns(v)) columnAffine(inp, mean, invStd, v, y);
  else blockAffine(inp, mean, invStd, v, y);
}

function blockAffine(inp: ForwardArrays, mean: Float64Array, invStd: Float64Array, v: NormView, y: Float32Array): void {
  const { x, gamma, beta } = inp;
  const { P, K, G, J, R, cK, cG } = v;
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

function columnAffine(inp: ForwardArrays, mean: Float64Array, invStd: Float64Array, v: NormView, y: Float32Array): void {
  const { x, gamma, beta } = inp;
  const { P, K, G } = v;
  const scale = new Float64Array(G);
  const offset = new Float64Array(G);
  for (let p = 0; p < P; p++) {
    for (let g = 0, s = p * G; g < G; g++, s++) {
      scale[g] = invStd[s] * gamma[g];
      offset[g] = beta[g] - mean[s] * scale[g];
    }
    const start = p * K * G;
    let k = 0;
    for (; k + 4 <= K; k += 4) {
      const b0 = start + k * G;
      const b1 = b0 + G;
      const b2 = b1 + G;
      const b3 = b2 + G;
      for (let g = 0; g < G; g++) {
        const a = scale[g];
        const b = offset[g];
        y[b0 + g] = x[b0 + g] * a + b;
        y[b1 + g] = x[b1 + g] * a + b;
        y[b2 + g] = x[b2 + g] * a + b;
        y[b3 + g] = x[b3 + g] * a + b;
      }
    }
    for (let base = start + k * G; k < K; k++, base += G) {
      for (let g = 0; g < G; g++) y[base + g] = x[base + g] * scale[g] + offset[g];
    }
  }
}

/** The backward sums: dbeta, dgamma per channel; s1 = sum(gamma*dy), s2 = sum(gamma*dy*xc) per group. */
interface GradSums {
  dbeta: Float64Array;
  dgamma: Float64Array;
  s1: Float64Array;
  s2: Float64Array;
}

function blockGradSums(inp: BackwardArrays, mean: Float64Array, invStd: Float64Array, v: NormView, out: GradSums): void {
  const { dy, x, gamma } = inp;
  const { P, K, G, J, R, cK, cG } = v;
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
            const d = dy[i];
            const dxc = d * (x[i] - m);
            dbeta[c] += d;
            dgamma[c] += dxc * is;
            a1 += gamma[c] * d;
            a2 += gamma[c] * dxc;
          }
        } else {
          for (let c = c0, endC = c0 + J; c < endC; c++) {
            let sdy = 0;
            let sdyx = 0;
            for (const end = i + R; i < end; i++) {
              const d = dy[i];
              sdy += d;
              sdyx += d * (x[i] - m);
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

function columnGradSums(inp: BackwardArrays, mean: Float64Array, invStd: Float64Array, v: NormView, out: GradSums): void {
  const { dy, x, gamma } = inp;
  const { P, K, G } = v;
  const sumDy = new Float64Array(G);
  const sumDyXc = new Float64Array(G);
  for (let p = 0; p < P; p++) {
    const s0 = p * G;
    const start = p * K * G;
    sumDy.fill(0);
    sumDyXc.fill(0);
    let k = 0;
    for (; k + 4 <= K; k += 4) {
      const b0 = start + k * G;
      const b1 = b0 + G;
      const b2 = b1 + G;
      const b3 = b2 + G;
      for (let g = 0; g < G; g++) {
        const m = mean[s0 + g];
        const g0 = dy[b0 + g];
        const g1 = dy[b1 + g];
        const g2 = dy[b2 + g];
        const g3 = dy[b3 + g];
        sumDy[g] += (g0 + g1) + (g2 + g3);
        sumDyXc[g] += (g0 * (x[b0 + g] - m) + g1 * (x[b1 + g] - m)) + (g2 * (x[b2 + g] - m) + g3 * (x[b3 + g] - m));
      }
    }
    for (let base = start + k * G; k < K; k++, base += G) {
      for (let g = 0; g < G; g++) {
        const d = dy[base + g];
        sumDy[g] += d;
        sumDyXc[g] += d * (x[base + g] - mean[s0 + g]);
      }
    }
    for (let g = 0, s = s0; g < G; g++, s++) {
      out.dbeta[g] += sumDy[g];
      out.dgamma[g] += sumDyXc[g] * invStd[s];
      out.s1[s] = gamma[g] * sumDy[g];
      out.s2[s] = gamma[g] * sumDyXc[g];
    }
  }
}

/** `dx = invStd * gamma[c] * dy + b * x + e` with b, e per group. */
function blockGradX(inp: BackwardArrays, invStd: Float64Array, b: Float64Array, e: Float64Array, v: NormView,
  dx: Float32Array): void {
  const { dy, x, gamma } = inp;
  const { P, K, G, J, R, cK, cG } = v;
  for (let p = 0, i = 0; p < P; p++) {
    for (let k = 0; k < K; k++) {
      for (let g = 0, s = p * G; g < G; g++, s++) {
        const is = invStd[s];
        const bs = b[s];
        const es = e[s];
        const c0 = k * cK + g * cG;
        if (R === 1) {
          for (let c = c0, end = c0 + J; c < end; c++, i++) dx[i] = is * gamma[c] * dy[i] + bs * x[i] + es;
          continue;
        }
        for (let c = c0, endC = c0 + J; c < endC; c++) {
          const a = is * gamma[c];
          for (const end = i + R; i < end; i++) dx[i] = a * dy[i] + bs * x[i] + es;
        }
      }
    }
  }
}

function columnGradX(inp: BackwardArrays, invStd: Float64Array, b: Float64Array, e: Float64Array, v: NormView,
  dx: Float32Array): void {
  const { dy, x, gamma } = inp;
  const { P, K, G } = v;
  const a = new Float64Array(G);
  const bb = new Float64Array(G);
  const ee = new Float64Array(G);
  for (let p = 0; p < P; p++) {
    for (let g = 0, s = p * G; g < G; g++, s++) {
      a[g] = invStd[s] * gamma[g];
      bb[g] = b[s];
      ee[g] = e[s];
    }
    const start = p * K * G;
    let k = 0;
    for (; k + 4 <= K; k += 4) {
      const b0 = start + k * G;
      const b1 = b0 + G;
      const b2 = b1 + G;
      const b3 = b2 + G;
      for (let g = 0; g < G; g++) {
        const ag = a[g];
        const bg = bb[g];
        const eg = ee[g];
        dx[b0 + g] = ag * dy[b0 + g] + bg * x[b0 + g] + eg;
        dx[b1 + g] = ag * dy[b1 + g] + bg * x[b1 + g] + eg;
        dx[b2 + g] = ag * dy[b2 + g] + bg * x[b2 + g] + eg;
        dx[b3 + g] = ag * dy[b3 + g] + bg * x[b3 + g] + eg;
      }
    }
    for (let base = start + k * G; k < K; k++, base += G) {
      for (let g = 0; g < G; g++) {
        const i = base + g;
        dx[i] = a[g] * dy[i] + bb[g] * x[i] + ee[g];
      }
    }
  }
}
