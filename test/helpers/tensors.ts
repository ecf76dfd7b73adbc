import * as tf from '@tensorflow/tfjs';
import { relativeMaxError } from '../reference/reference_batch_norm';

/** max |a - b| relative to max(1, max |b|), read synchronously. */
export function relError(a: tf.Tensor, b: tf.Tensor): number {
  expect(a.shape).toEqual(b.shape);
  return relativeMaxError(a.dataSync(), b.dataSync());
}

/** A reproducible float input away from zero mean and unit variance, so normalization matters. */
export function input(shape: number[], seed = 1, mean = 2, std = 3): tf.Tensor {
  return tf.randomNormal(shape, mean, std, 'float32', seed);
}

/** A fixed, non-uniform upstream gradient: loss = sum(y * weights). */
export function lossWeights(shape: number[], seed = 7): tf.Tensor {
  return tf.randomUniform(shape, -1, 1, 'float32', seed);
}

/** Gradients of sum(f() * w) for the given variables, keyed by variable name. */
export function gradsOf(f: () => tf.Tensor, w: tf.Tensor, vars: tf.Variable[]): tf.Tensor[] {
  const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(f(), w)) as tf.Scalar, vars);
  value.dispose();
  return vars.map((v) => grads[v.name]);
}

export async function useBackend(name: 'cpu' | 'wasm'): Promise<void> {
  const ok = await tf.setBackend(name);
  if (!ok) throw new Error(`backend ${name} failed to initialize`);
  await tf.ready();
}
