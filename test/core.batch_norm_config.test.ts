/**
 * The BatchNormalization config schema the layer and the conversion share: the weight order it
 * states is the one the layer creates, and both config spellings are read.
 */
import * as tf from '@tensorflow/tfjs';
import { BatchNormalization } from '../src';
import {
  batchNormWeightNames, hasTrainingOnlyKeys, isTruthyTraining, removeTrainingOnlyKeys, trainingOnlyFeatures,
} from '../src/core/batch_norm_config';

it.each([
  [{}],
  [{ scale: false }],
  [{ center: false }],
  [{ scale: false, center: false }],
  [{ renorm: true }],
  [{ center: false, renorm: true, virtualBatchSize: 2 }],
])('the layer made with %j creates its weights in the order batchNormWeightNames states', (args) => {
  const before = tf.memory().numTensors;
  const layer = new BatchNormalization(args);
  layer.apply(tf.input({ shape: [2, 3] }));
  const created = layer.weights.map((w) => w.originalName.split('/').pop());
  expect(created).toEqual(batchNormWeightNames(layer.getConfig()));
  layer.dispose();
  expect(tf.memory().numTensors).toBe(before);
});

it('a saved training is true as Python reads it: true or a non-zero number', () => {
  expect([true, 1, 2, -1, 0.5].map(isTruthyTraining)).toEqual([true, true, true, true, true]);
  expect([false, 0, null, undefined, 'true', {}].map(isTruthyTraining)).toEqual([false, false, false, false, false, false]);
});

it('the training-only features and keys are read in model.json\'s and in tfjs\'s spelling', () => {
  expect(trainingOnlyFeatures({ renorm: true, virtual_batch_size: 4 })).toEqual(['batch renormalization', 'ghost batches (virtual_batch_size)']);
  expect(trainingOnlyFeatures({ renorm: false, virtualBatchSize: 4 })).toEqual(['ghost batches (virtual_batch_size)']);
  expect(trainingOnlyFeatures({ renorm: false, renorm_clipping: { rmax: 3 }, axis: -1 })).toEqual([]);
  // Switched off, the keys are still there, and the built-in's form drops them.
  const config: Record<string, unknown> = { axis: -1, renorm: false, renorm_clipping: { rmax: 3 }, renormMomentum: 0.9 };
  expect(hasTrainingOnlyKeys(config)).toBe(true);
  removeTrainingOnlyKeys(config);
  expect(config).toEqual({ axis: -1 });
  expect(hasTrainingOnlyKeys(config)).toBe(false);
});
