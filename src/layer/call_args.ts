/**
 * How a normalization layer reads its call arguments the way Keras does: whether it runs in
 * training mode (the `training` kwarg, one saved with the layer's call in model.json, and the
 * layer's `trainable`), and how a mask in Keras's layout becomes per-position weights.
 */
import * as tf from '@tensorflow/tfjs';
import { isTruthyTraining } from '../core/batch_norm_config';

type Kwargs = { [key: string]: unknown };

/**
 * The `training` value saved with the layer's calls in a model (Keras stores
 * `BatchNormalization()(x, training=True)` as `{"training": true}` or `1` in the inbound node),
 * or null when none was saved, or the calls disagree.
 *
 * Usage: `const baked = savedTraining(layer); // true, false or null`
 */
export function savedTraining(layer: tf.layers.Layer): boolean | null {
  if (layer.inboundNodes.length === 0) return null; // a layer applied to tensors only (asked on every call)
  const saved = layer.inboundNodes.map((node) => (node.callArgs as Kwargs | undefined)?.['training']);
  if (saved.length === 0 || saved.some((v) => v == null)) return null;
  const values = saved.map(isTruthyTraining);
  return values.every((v) => v === values[0]) ? values[0] : null;
}

/**
 * Keras's rule: training mode when the call's `training` is truthy and the layer is trainable.
 * A `training` saved with the layer's call wins over the one the model passes, as an explicit
 * call argument does in Keras (so a `training=True` BN normalizes with batch statistics in
 * `predict` too).
 *
 * Usage: `if (inTrainingMode(this, kwargs)) { ... batch statistics ... }`
 */
export function inTrainingMode(layer: tf.layers.Layer, kwargs: Kwargs): boolean {
  return (savedTraining(layer) ?? isTruthyTraining(kwargs['training'])) && layer.trainable;
}

/**
 * A mask in Keras's layout (one dimension less than the input, as `Masking` and `Embedding`
 * produce), expanded on the last axis and broadcast over `shape`, as 0/1 float32 weights of
 * `shape`; or, when it does not fit, a description of what was expected.
 *
 * Usage: `const w = kerasMaskWeights(mask, x.shape); if (typeof w === 'string') throw ...`
 */
export function kerasMaskWeights(mask: tf.Tensor, shape: number[]): tf.Tensor | string {
  const expanded = [...mask.shape, 1];
  const fits = mask.rank === shape.length - 1 && expanded.every((d, i) => d === shape[i] || d === 1);
  if (!fits) {
    return `a mask of rank ${shape.length - 1} that broadcasts to the input shape ${JSON.stringify(shape)} once ` +
      `a last axis of size 1 is added (e.g. ${JSON.stringify(shape.slice(0, -1))})`;
  }
  return tf.tidy(() => tf.broadcastTo(tf.cast(tf.cast(tf.reshape(mask, expanded), 'bool'), 'float32'), shape));
}
