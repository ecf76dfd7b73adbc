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
 */
import type { GroupView } from '../core/view';

/**
 * Forward: mean and 1/sqrt(variance + epsilon) per (p, g) (written to `mean`, `invStd`), then
 * `y = gamma[c] * (x - mean) * invStd + beta[c]`.
 *
 * Usage: `groupForward(x, gamma, beta, view, 1e-3, { y, mean, invStd })`
 */
export function groupForward(x: Float32Array, gamma: Float32Array, beta: Float32Array, d: GroupView, epsilon: number,
  out: { y: Float32Array; mean: Float32Array; invStd: Float32Array }): void {
  const groups = d.P * d.G;
  const n = d.K * d.J * d.R;
  const JR = d.J * d.R;
  const shift = new Float64Array(groups);
  const sum = new Float64Array(groups);
  const sumSq = new Float64Array(groups);
  for (let p = 0; p < d.P; p++) {
    for (let g = 0; g < d.G; g++) shift[p * d.G + g] = x[p * d.K * d.G * JR + g * JR];
  }
  // Loops written out (no per-run callback): channels-last instance norm has runs of one value.
  for (let p = 0, base = 0; p < d.P; p++) {
    for (let k = 0; k < d.K; k++) {
      for (let g = 0, s = p * d.G; g < d.G; g++, s++, base += JR) {
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
  const mu = new Float64Array(groups);
  const inv = new Float64Array(groups);
  for (let s = 0; s < groups; s++) {
    const m = sum[s] / n;
    mu[s] = shift[s] + m;
    inv[s] = 1 / Math.sqrt(Math.max(0, sumSq[s] / n - m * m) + epsilon);
    out.mean[s] = mu[s];
    out.invStd[s] = inv[s];
  }
  const { y } = out;
  for (let p = 0, i = 0; p < d.P; p++) {
    for (let k = 0; k < d.K; k++) {
      for (let g = 0, s = p * d.G; g < d.G; g++, s++) {
        const m = mu[s];
        const is = inv[s];
        const c0 = k * d.cK + g * d.cG;
        for (let j = 0; j < d.J; j++) {
          const a = is * gamma[c0 + j];
          const b = beta[c0 + j] - m * a;
          for (const end = i + d.R; i < end; i++) y[i] = x[i] * a + b;
        }
      }
    }
  }
}

/**
 * Backward of groupForward for x, gamma and beta, in two passes: the sums (per channel and per
 * group), then dx = a*dy + b*x + e with a, b, e constant along each run of R values.
 *
 * Usage: `groupBackward(dy, x, gamma, mean, invStd, view, { dx, dgamma, dbeta })`
 */
export function groupBackward(dy: Float32Array, x: Float32Array, gamma: Float32Array, mean: Float32Array,
  invStd: Float32Array, d: GroupView, out: { dx: Float32Array; dgamma: Float32Array; dbeta: Float32Array }): void {
  const n = d.K * d.J * d.R;
  const S1 = new Float64Array(d.P * d.G);
  const S2 = new Float64Array(d.P * d.G);
  const dg = new Float64Array(d.channels);
  const db = new Float64Array(d.channels);
  for (let p = 0, i = 0; p < d.P; p++) {
    for (let k = 0; k < d.K; k++) {
      for (let g = 0, s = p * d.G; g < d.G; g++, s++) {
        const m = mean[s];
        const is = invStd[s];
        const c0 = k * d.cK + g * d.cG;
        let s1 = 0;
        let s2 = 0;
        for (let j = 0; j < d.J; j++) {
          let sdy = 0;
          let sdyx = 0;
          for (const end = i + d.R; i < end; i++) {
            const v = dy[i];
            sdy += v;
            sdyx += v * (x[i] - m);
          }
          const c = c0 + j;
          db[c] += sdy;
          dg[c] += sdyx * is;
          s1 += gamma[c] * sdy;
          s2 += gamma[c] * sdyx * is;
        }
        S1[s] += s1;
        S2[s] += s2;
      }
    }
  }
  for (let c = 0; c < d.channels; c++) {
    out.dgamma[c] = dg[c];
    out.dbeta[c] = db[c];
  }
  const { dx } = out;
  for (let p = 0, i = 0; p < d.P; p++) {
    for (let k = 0; k < d.K; k++) {
      for (let g = 0, s = p * d.G; g < d.G; g++, s++) {
        const m = mean[s];
        const is = invStd[s];
        const c0 = k * d.cK + g * d.cG;
        // dx = is*gamma*dy - is/n * (S1 + (x - m)*is*S2) = a*dy + b*x + e
        const b = -is * is * S2[s] / n;
        const e = -is * S1[s] / n - b * m;
        for (let j = 0; j < d.J; j++) {
          const a = is * gamma[c0 + j];
          for (const end = i + d.R; i < end; i++) dx[i] = a * dy[i] + b * x[i] + e;
        }
      }
    }
  }
}
