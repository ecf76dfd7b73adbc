/**
 * The fast path's math, once, as plain loops over Float32Arrays in the `[outer, C, inner]`
 * layout (see ../core/view.ts). The cpu kernels run them on the backend's own arrays, the
 * wasm kernels on views of the WebAssembly heap, so both backends share this single
 * implementation. Notation as in ../ops/batch_norm.ts; n = outer * inner values per channel.
 *
 * Accumulators are float64 (JS numbers), and the statistics are computed in one pass over x with
 * sums shifted by one sample of each channel, which keeps `E[(x-k)^2] - E[x-k]^2` accurate even
 * when |mean| is far larger than the standard deviation.
 *
 * Every pass takes channels-last data (inner = 1) four rows per sweep, so each channel's
 * coefficients or sums are loaded and stored once for four values. The sweep is written out in
 * each pass rather than shared, because sharing costs: measured on [256, 1024] and
 * [32768, 64], one reduction for both the statistics and the gradient sums made the training
 * forward 20-25% slower, and gradX without the four-row sweep took twice as long. Allocations
 * come before the loops in every function (see group_loops.ts for why).
 */

/** Sizes of the `[outer, C, inner]` view. */
export interface Dims {
  outer: number;
  channels: number;
  inner: number;
}

/**
 * `1 / sqrt(variance + epsilon)` per channel, in float64.
 *
 * Usage: `const invStd = inverseStd(variance, 1e-3);`
 */
export function inverseStd(variance: Float32Array, epsilon: number): Float64Array {
  const out = new Float64Array(variance.length);
  for (let c = 0; c < variance.length; c++) out[c] = 1 / Math.sqrt(variance[c] + epsilon);
  return out;
}

/**
 * `out = x * scale[c] + offset[c]`: the normalization itself, for training and inference alike.
 *
 * Usage: `affine(x, scale, offset, dims, y)`
 */
export function affine(x: Float32Array, scale: Float64Array, offset: Float64Array, d: Dims, out: Float32Array): void {
  const { outer, channels, inner } = d;
  if (inner === 1) {
    // Four rows per sweep: each channel's coefficients are loaded once for four values.
    let o = 0;
    for (; o + 4 <= outer; o += 4) {
      const b0 = o * channels;
      const b1 = b0 + channels;
      const b2 = b1 + channels;
      const b3 = b2 + channels;
      for (let c = 0; c < channels; c++) {
        const s = scale[c];
        const b = offset[c];
        out[b0 + c] = x[b0 + c] * s + b;
        out[b1 + c] = x[b1 + c] * s + b;
        out[b2 + c] = x[b2 + c] * s + b;
        out[b3 + c] = x[b3 + c] * s + b;
      }
    }
    for (let base = o * channels; o < outer; o++, base += channels) {
      for (let c = 0; c < channels; c++) out[base + c] = x[base + c] * scale[c] + offset[c];
    }
    return;
  }
  for (let o = 0, base = 0; o < outer; o++) {
    for (let c = 0; c < channels; c++, base += inner) {
      const s = scale[c];
      const b = offset[c];
      for (let i = base, end = base + inner; i < end; i++) out[i] = x[i] * s + b;
    }
  }
}

/**
 * Training forward: batch mean and biased variance per channel (written to `mean`, `variance`),
 * then `y = gamma * (x - mean) / sqrt(variance + epsilon) + beta`.
 *
 * Usage: `trainingForward(x, gamma, beta, dims, 1e-3, y, mean, variance)`
 */
export function trainingForward(
  x: Float32Array, gamma: Float32Array, beta: Float32Array, d: Dims, epsilon: number,
  y: Float32Array, mean: Float32Array, variance: Float32Array,
): void {
  const { outer, channels, inner } = d;
  const n = outer * inner;
  const shift = new Float64Array(channels);
  const sum = new Float64Array(channels);
  const sumSq = new Float64Array(channels);
  const scale = new Float64Array(channels);
  const offset = new Float64Array(channels);
  for (let c = 0; c < channels; c++) shift[c] = x[c * inner];
  if (inner === 1) {
    // Four rows per sweep: a quarter of the read-modify-writes on the per-channel sums.
    let o = 0;
    for (; o + 4 <= outer; o += 4) {
      const b0 = o * channels;
      const b1 = b0 + channels;
      const b2 = b1 + channels;
      const b3 = b2 + channels;
      for (let c = 0; c < channels; c++) {
        const k = shift[c];
        const v0 = x[b0 + c] - k;
        const v1 = x[b1 + c] - k;
        const v2 = x[b2 + c] - k;
        const v3 = x[b3 + c] - k;
        sum[c] += (v0 + v1) + (v2 + v3);
        sumSq[c] += (v0 * v0 + v1 * v1) + (v2 * v2 + v3 * v3);
      }
    }
    for (let base = o * channels; o < outer; o++, base += channels) {
      for (let c = 0; c < channels; c++) {
        const v = x[base + c] - shift[c];
        sum[c] += v;
        sumSq[c] += v * v;
      }
    }
  } else {
    for (let o = 0, base = 0; o < outer; o++) {
      for (let c = 0; c < channels; c++, base += inner) {
        const k = shift[c];
        let s = 0;
        let q = 0;
        for (let i = base, end = base + inner; i < end; i++) {
          const v = x[i] - k;
          s += v;
          q += v * v;
        }
        sum[c] += s;
        sumSq[c] += q;
      }
    }
  }
  for (let c = 0; c < channels; c++) {
    const m = sum[c] / n;
    const mu = shift[c] + m;
    const v = Math.max(0, sumSq[c] / n - m * m);
    const s = gamma[c] / Math.sqrt(v + epsilon);
    mean[c] = mu;
    variance[c] = v;
    scale[c] = s;
    offset[c] = beta[c] - mu * s;
  }
  affine(x, scale, offset, d, y);
}

/**
 * Inference forward with given statistics: `y = x * scale + offset` with
 * `scale = gamma * invStd`, `offset = beta - mean * scale`.
 *
 * Usage: `inferenceForward(x, mean, inverseStd(variance, 1e-3), gamma, beta, dims, y)`
 */
export function inferenceForward(
  x: Float32Array, mean: Float32Array, invStd: Float64Array, gamma: Float32Array, beta: Float32Array,
  d: Dims, y: Float32Array,
): void {
  const scale = new Float64Array(d.channels);
  const offset = new Float64Array(d.channels);
  for (let c = 0; c < d.channels; c++) {
    scale[c] = gamma[c] * invStd[c];
    offset[c] = beta[c] - mean[c] * scale[c];
  }
  affine(x, scale, offset, d, y);
}

/**
 * The two channel reductions of the backward pass, in one pass over dy and x:
 * `dbeta = sum(dy)`, `dgamma = sum(dy * xhat)` with `xhat = (x - mean) * invStd`.
 *
 * Usage: `gradSums(dy, x, mean, inverseStd(variance, 1e-3), dims, dbeta, dgamma)`
 */
export function gradSums(
  dy: Float32Array, x: Float32Array, mean: Float32Array, invStd: Float64Array, d: Dims,
  dbeta: Float32Array, dgamma: Float32Array,
): void {
  const { outer, channels, inner } = d;
  const mu = Float64Array.from(mean);
  const sumDy = new Float64Array(channels);
  const sumDyXc = new Float64Array(channels);
  if (inner === 1) {
    // Four rows per sweep, as in trainingForward.
    let o = 0;
    for (; o + 4 <= outer; o += 4) {
      const b0 = o * channels;
      const b1 = b0 + channels;
      const b2 = b1 + channels;
      const b3 = b2 + channels;
      for (let c = 0; c < channels; c++) {
        const m = mu[c];
        const g0 = dy[b0 + c];
        const g1 = dy[b1 + c];
        const g2 = dy[b2 + c];
        const g3 = dy[b3 + c];
        sumDy[c] += (g0 + g1) + (g2 + g3);
        sumDyXc[c] += (g0 * (x[b0 + c] - m) + g1 * (x[b1 + c] - m)) + (g2 * (x[b2 + c] - m) + g3 * (x[b3 + c] - m));
      }
    }
    for (let base = o * channels; o < outer; o++, base += channels) {
      for (let c = 0; c < channels; c++) {
        const g = dy[base + c];
        sumDy[c] += g;
        sumDyXc[c] += g * (x[base + c] - mu[c]);
      }
    }
  } else {
    for (let o = 0, base = 0; o < outer; o++) {
      for (let c = 0; c < channels; c++, base += inner) {
        const m = mu[c];
        let s = 0;
        let p = 0;
        for (let i = base, end = base + inner; i < end; i++) {
          const g = dy[i];
          s += g;
          p += g * (x[i] - m);
        }
        sumDy[c] += s;
        sumDyXc[c] += p;
      }
    }
  }
  for (let c = 0; c < channels; c++) {
    dbeta[c] = sumDy[c];
    dgamma[c] = sumDyXc[c] * invStd[c];
  }
}

/** The inputs of gradX, by name. */
export interface GradXInputs {
  dy: Float32Array;
  x: Float32Array;
  mean: Float32Array;
  invStd: Float64Array;
  gamma: Float32Array;
  /** `[dbeta, dgamma, dmean, dvariance]` in training (statistics depend on x), null in inference. */
  sums: [Float32Array, Float32Array, Float32Array, Float32Array] | null;
}

/**
 * dx in one fused pass, `dx = a * dy + b * (x - mean) + e` per channel, where a = gamma * invStd
 * and, for training (statistics depend on x), with n values per channel:
 *   b = -a * invStd * dgamma / n + 2 * dvariance / n,   e = -a * dbeta / n + dmean / n
 * (dmean, dvariance: gradients arriving at the returned statistics, usually zero);
 * for inference (statistics are constants) b = e = 0.
 * `sums` is null for inference, else `[dbeta, dgamma, dmean, dvariance]`.
 *
 * Usage: `gradX({ dy, x, mean, invStd, gamma, sums: [dbeta, dgamma, dmean, dvar] }, dims, dx)`
 */
export function gradX(inputs: GradXInputs, d: Dims, dx: Float32Array): void {
  const { dy, x, mean, invStd, gamma, sums } = inputs;
  const { outer, channels, inner } = d;
  const n = outer * inner;
  const a = new Float64Array(channels);
  const b = new Float64Array(channels);
  const e = new Float64Array(channels);
  for (let c = 0; c < channels; c++) {
    a[c] = gamma[c] * invStd[c];
    if (sums != null) {
      const [dbeta, dgamma, dmean, dvariance] = sums;
      b[c] = (-a[c] * invStd[c] * dgamma[c] + 2 * dvariance[c]) / n;
      // Folds b * (x - mean) into b * x + constant.
      e[c] = (-a[c] * dbeta[c] + dmean[c]) / n - b[c] * mean[c];
    }
  }
  if (inner === 1) {
    // Four rows per sweep, as in affine.
    let o = 0;
    for (; o + 4 <= outer; o += 4) {
      const b0 = o * channels;
      const b1 = b0 + channels;
      const b2 = b1 + channels;
      const b3 = b2 + channels;
      for (let c = 0; c < channels; c++) {
        const ac = a[c];
        const bc = b[c];
        const ec = e[c];
        dx[b0 + c] = ac * dy[b0 + c] + bc * x[b0 + c] + ec;
        dx[b1 + c] = ac * dy[b1 + c] + bc * x[b1 + c] + ec;
        dx[b2 + c] = ac * dy[b2 + c] + bc * x[b2 + c] + ec;
        dx[b3 + c] = ac * dy[b3 + c] + bc * x[b3 + c] + ec;
      }
    }
    for (let base = o * channels; o < outer; o++, base += channels) {
      for (let c = 0; c < channels; c++) {
        const i = base + c;
        dx[i] = a[c] * dy[i] + b[c] * x[i] + e[c];
      }
    }
    return;
  }
  for (let o = 0, base = 0; o < outer; o++) {
    for (let c = 0; c < channels; c++, base += inner) {
      const ac = a[c];
      const bc = b[c];
      const ec = e[c];
      for (let i = base, end = base + inner; i < end; i++) dx[i] = ac * dy[i] + bc * x[i] + ec;
    }
  }
}
