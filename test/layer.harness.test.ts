/**
 * Every layer of the package through the same checks (test/support/layer_test.ts): build and
 * weights, config round trip, save and load in a model, masks, output and gradients against the
 * plain references on cpu and wasm, no leaks.
 */
import * as tf from '@tensorflow/tfjs';
import { BatchNormalization, GroupNormalization, InstanceNormalization, LayerNormalization, RMSNormalization, UnitNormalization } from '../src';
import { referenceInference, referenceTraining } from './reference/reference_batch_norm';
import { referenceNorm } from './reference/reference_norm';
import { rmsNormOps, unitNormOps } from './reference/reference_rms';
import { runLayerTest } from './support/layer_test';

const bn = (shape: number[], axis: number) => ({
  cls: BatchNormalization, args: { axis }, inputShape: shape,
  weights: [['gamma', [shape[axis]], true], ['beta', [shape[axis]], true], ['moving_mean', [shape[axis]], false],
    ['moving_variance', [shape[axis]], false]] as Array<[string, number[], boolean]>,
});

runLayerTest('BatchNormalization NHWC, training', {
  ...bn([4, 3, 3, 5], 3), kwargs: { training: true },
  reference: (x, [gamma, beta]) => referenceTraining(x, gamma, beta, 3, 1e-3).y,
});
runLayerTest('BatchNormalization NCHW, inference', {
  ...bn([3, 4, 2, 2], 1),
  reference: (x, [gamma, beta, mean, variance]) => referenceInference(x, mean, variance, gamma, beta, 1, 1e-3),
});
runLayerTest('LayerNormalization axes [1, 2]', {
  cls: LayerNormalization, args: { axis: [1, 2] }, inputShape: [3, 4, 5],
  weights: [['gamma', [4, 5], true], ['beta', [4, 5], true]],
  reference: (x, [gamma, beta]) => referenceNorm(x, gamma, beta, { kind: 'layer', axes: [1, 2] }),
});
runLayerTest('GroupNormalization groups 2, channels last', {
  cls: GroupNormalization, args: { groups: 2 }, inputShape: [2, 3, 3, 4],
  weights: [['gamma', [4], true], ['beta', [4], true]],
  reference: (x, [gamma, beta]) => referenceNorm(x, gamma, beta, { kind: 'group', axis: -1, groups: 2 }),
});
runLayerTest('InstanceNormalization axis 1', {
  cls: InstanceNormalization, args: { axis: 1 }, inputShape: [2, 3, 4],
  weights: [['gamma', [3], true], ['beta', [3], true]],
  reference: (x, [gamma, beta]) => referenceNorm(x, gamma, beta, { kind: 'group', axis: 1, groups: 3 }),
});
runLayerTest('RMSNormalization axis -1', {
  cls: RMSNormalization, args: {}, inputShape: [3, 4, 6],
  weights: [['scale', [6], true]],
  reference: (x, [scale]) => rmsNormOps(x, [2], scale, 1e-6),
});
runLayerTest('UnitNormalization axes [1, 2]', {
  cls: UnitNormalization, args: { axis: [1, 2] }, inputShape: [3, 4, 5],
  weights: [],
  reference: (x) => unitNormOps(x, [1, 2]),
});

test('every layer class of the package is covered above', () => {
  // A new layer without a runLayerTest call fails here (LayerNormalization is registered under its own name).
  const names = Object.keys(tf.serialization.SerializationMap.getMap().classNameMap)
    .filter((n) => /^(Tfjs|Group|Instance|RMS|Unit)[A-Za-z]*Normalization$/.test(n));
  expect(names.sort()).toEqual(['GroupNormalization', 'InstanceNormalization', 'RMSNormalization', 'TfjsBatchNormalization',
    'TfjsLayerNormalization', 'UnitNormalization']);
});
