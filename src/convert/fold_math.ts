/**
 * The arithmetic of folding an inference-mode BatchNormalization into the linear layer before
 * it: with s = gamma / sqrt(var + eps), y = s * (W x + b - mean) + beta, so the layer gets
 * W' = W * s (per output channel) and b' = (b - mean) * s + beta. Done on plain arrays in
 * float64 so no tensors are created and rounding happens once, at the float32 store.
 */

export interface BatchNormValues {
  gamma: Float32Array | null;
  beta: Float32Array | null;
  mean: Float32Array;
  variance: Float32Array;
  epsilon: number;
}

/** Where a kernel's output channel is: c = floor(i / stride) % channels for flat index i. */
export interface ChannelLayout {
  stride: number;
  channels: number;
}

/**
 * Output-channel layout of a kernel by layer class, or null if the class cannot be folded.
 * DepthwiseConv2D's [kh, kw, in, mult] kernel gives output channel in * mult + m, i.e. the flat
 * index of the last two axes; Conv2DTranspose keeps its output channels on axis 2.
 *
 * Usage: `kernelLayout('Conv2D', [3, 3, 16, 32]) // {stride: 1, channels: 32}`
 */
export function kernelLayout(className: string, shape: number[]): ChannelLayout | null {
  const r = shape.length;
  switch (className) {
    case 'Dense': case 'Conv1D': case 'Conv2D': case 'Conv3D': case 'SeparableConv2D':
      return { stride: 1, channels: shape[r - 1] };
    case 'DepthwiseConv2D':
      return { stride: 1, channels: shape[r - 2] * shape[r - 1] };
    case 'Conv2DTranspose':
      return { stride: shape[r - 1], channels: shape[r - 2] };
    default:
      return null;
  }
}

/**
 * Folds BN values into a kernel and bias (bias null when the layer had none).
 *
 * Usage: `const { kernel, bias } = foldIntoKernel(k, kernelLayout('Conv2D', shape)!, b, bn);`
 */
export function foldIntoKernel(kernel: Float32Array, layout: ChannelLayout, bias: Float32Array | null,
  bn: BatchNormValues): { kernel: Float32Array; bias: Float32Array } {
  const c = bn.mean.length;
  const s = new Float64Array(c);
  for (let i = 0; i < c; i++) s[i] = (bn.gamma?.[i] ?? 1) / Math.sqrt(bn.variance[i] + bn.epsilon);
  const newKernel = new Float32Array(kernel.length);
  for (let i = 0; i < kernel.length; i++) newKernel[i] = kernel[i] * s[Math.floor(i / layout.stride) % layout.channels];
  const newBias = new Float32Array(c);
  for (let i = 0; i < c; i++) newBias[i] = ((bias?.[i] ?? 0) - bn.mean[i]) * s[i] + (bn.beta?.[i] ?? 0);
  return { kernel: newKernel, bias: newBias };
}
