/**
 * The kernels written once against a small adapter over a backend's Float32Arrays; cpu.ts
 * and wasm.ts only say how to read an input and allocate an output on their backend.
 */
import type { KernelConfig, KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs';
import { Dims, gradSums, gradX, inferenceForward, inverseStd, trainingForward } from './loops';
import { groupBackward, groupForward } from './group_loops';
import {
  BatchNormAttrs, BatchNormGradSums, BatchNormGradX, BatchNormInference, BatchNormTraining, GradXAttrs, GroupNormAttrs,
  GroupNormBackward, GroupNormForward,
} from './names';

/** How a backend exposes tensor memory as Float32Arrays. */
export interface ArrayAdapter {
  /**
   * Allocates float32 outputs of the given shapes and returns them with writable arrays.
   * Called before `read`, because allocating may move memory (wasm heap growth).
   */
  allocate(backend: unknown, shapes: number[][]): { infos: TensorInfo[]; arrays: Float32Array[] };
  /** The float32 values of an input (read-only by convention). */
  read(backend: unknown, t: TensorInfo): Float32Array;
}

function dims(attrs: NamedAttrMap | undefined): Dims & { epsilon: number } {
  const a = attrs as BatchNormAttrs;
  return { outer: a.outer, channels: a.channels, inner: a.inner, epsilon: a.epsilon };
}

/**
 * The group view, copied into an object literal. The attrs object arrives with a fresh hidden
 * class after a full garbage collection has dropped the old one (it is built with a spread),
 * and optimized loops that read a view through a new hidden class bail out; a literal made here
 * always has the same one (as `dims` above).
 */
function groupDims(attrs: NamedAttrMap | undefined): GroupNormAttrs {
  const a = attrs as GroupNormAttrs;
  return { P: a.P, K: a.K, G: a.G, J: a.J, R: a.R, cK: a.cK, cG: a.cG, channels: a.channels, epsilon: a.epsilon };
}

function input(inputs: Parameters<KernelFunc>[0]['inputs'], name: string): TensorInfo {
  const t = inputs[name];
  if (t == null) throw new Error(`tfjs-batchnorm kernel: missing input '${name}'`);
  return t;
}

/**
 * The kernel configs of this package for one backend.
 *
 * Usage: `arrayKernels('cpu', cpuAdapter).forEach(tf.registerKernel)`
 */
export function arrayKernels(backendName: string, io: ArrayAdapter): KernelConfig[] {
  const kernel = (kernelName: string, kernelFunc: KernelFunc): KernelConfig => ({ kernelName, backendName, kernelFunc });
  return [
    kernel(BatchNormTraining, ({ inputs, backend, attrs }) => {
      const d = dims(attrs);
      const x = input(inputs, 'x');
      const { infos, arrays: [y, mean, variance] } = io.allocate(backend, [x.shape, [d.channels], [d.channels]]);
      const [xv, g, b] = ['x', 'gamma', 'beta'].map((k) => io.read(backend, input(inputs, k)));
      trainingForward(xv, g, b, d, d.epsilon, y, mean, variance);
      return infos;
    }),
    kernel(BatchNormInference, ({ inputs, backend, attrs }) => {
      const d = dims(attrs);
      const x = input(inputs, 'x');
      const { infos, arrays: [y] } = io.allocate(backend, [x.shape]);
      const [xv, m, v, g, b] = ['x', 'mean', 'variance', 'gamma', 'beta'].map((k) => io.read(backend, input(inputs, k)));
      inferenceForward(xv, m, inverseStd(v, d.epsilon), g, b, d, y);
      return infos[0];
    }),
    kernel(BatchNormGradSums, ({ inputs, backend, attrs }) => {
      const d = dims(attrs);
      const { infos, arrays: [dbeta, dgamma] } = io.allocate(backend, [[d.channels], [d.channels]]);
      const [dy, x, m, v] = ['dy', 'x', 'mean', 'variance'].map((k) => io.read(backend, input(inputs, k)));
      gradSums(dy, x, m, inverseStd(v, d.epsilon), d, dbeta, dgamma);
      return infos;
    }),
    kernel(BatchNormGradX, ({ inputs, backend, attrs }) => {
      const d = dims(attrs);
      const training = (attrs as GradXAttrs).training;
      const { infos, arrays: [dx] } = io.allocate(backend, [input(inputs, 'x').shape]);
      const [dy, x, m, v, g] = ['dy', 'x', 'mean', 'variance', 'gamma'].map((k) => io.read(backend, input(inputs, k)));
      const sums = training
        ? ['dbeta', 'dgamma', 'dmean', 'dvariance'].map((k) => io.read(backend, input(inputs, k))) as
          [Float32Array, Float32Array, Float32Array, Float32Array]
        : null;
      gradX({ dy, x, mean: m, invStd: inverseStd(v, d.epsilon), gamma: g, sums }, d, dx);
      return infos[0];
    }),
    kernel(GroupNormForward, ({ inputs, backend, attrs }) => {
      const d = groupDims(attrs);
      const x = input(inputs, 'x');
      const { infos, arrays: [y, mean, invStd] } = io.allocate(backend, [x.shape, [d.P * d.G], [d.P * d.G]]);
      const [xv, g, b] = ['x', 'gamma', 'beta'].map((k) => io.read(backend, input(inputs, k)));
      groupForward(xv, g, b, d, d.epsilon, { y, mean, invStd });
      return infos;
    }),
    kernel(GroupNormBackward, ({ inputs, backend, attrs }) => {
      const d = groupDims(attrs);
      const shapes = [input(inputs, 'x').shape, [d.channels], [d.channels]];
      const { infos, arrays: [dx, dgamma, dbeta] } = io.allocate(backend, shapes);
      const [dy, x, g, m, s] = ['dy', 'x', 'gamma', 'mean', 'invStd'].map((k) => io.read(backend, input(inputs, k)));
      groupBackward(dy, x, g, m, s, d, { dx, dgamma, dbeta });
      return infos;
    }),
  ];
}
