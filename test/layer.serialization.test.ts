/** getConfig/fromConfig, saving and loading through tf.io, and coexistence with the built-in. */
import * as tf from '@tensorflow/tfjs';
import { BatchNormalization } from '../src';
import { input, relError, useBackend } from './helpers/tensors';

beforeAll(() => useBackend('cpu'));

async function saveAndLoad(model: tf.LayersModel) {
  let artifacts: tf.io.ModelArtifacts | undefined;
  await model.save(tf.io.withSaveHandler(async (a) => {
    artifacts = a;
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
  }));
  const loaded = await tf.loadLayersModel(tf.io.fromMemory(artifacts!));
  return { artifacts: artifacts!, loaded };
}

test('getConfig has the built-in keys and fromConfig round-trips every argument', () => {
  const layer = new BatchNormalization({
    axis: 1, momentum: 0.9, epsilon: 1e-5, center: false, scale: true, name: 'bn_cfg', trainable: false,
    gammaInitializer: tf.initializers.randomNormal({ mean: 1, stddev: 0.1, seed: 3 }),
    movingVarianceInitializer: 'ones',
    gammaRegularizer: tf.regularizers.l1l2({ l1: 0.01, l2: 0.02 }),
    gammaConstraint: 'nonNeg',
  });
  const config = layer.getConfig();
  const stockKeys = Object.keys(tf.layers.batchNormalization({}).getConfig()).sort();
  expect(Object.keys(config).sort()).toEqual(stockKeys);
  expect(config).toMatchObject({
    axis: 1, momentum: 0.9, epsilon: 1e-5, center: false, scale: true, name: 'bn_cfg', trainable: false,
    gammaInitializer: { className: 'RandomNormal', config: { mean: 1, stddev: 0.1, seed: 3 } },
    gammaRegularizer: { className: 'L1L2', config: { l1: 0.01, l2: 0.02 } },
    gammaConstraint: { className: 'NonNeg', config: {} },
    betaRegularizer: null,
  });
  const copy = BatchNormalization.fromConfig(BatchNormalization, config) as BatchNormalization;
  expect(copy).toBeInstanceOf(BatchNormalization);
  expect(copy.getConfig()).toEqual(config);
});

test('axis as a one-element list (Keras 2 JSON) is accepted and saved as a number', () => {
  const layer = BatchNormalization.fromConfig(BatchNormalization, { axis: [3], name: 'k2' }) as BatchNormalization;
  expect(layer.getConfig().axis).toBe(3);
  const y = layer.apply(input([2, 3, 3, 4]), { training: true }) as tf.Tensor;
  expect(y.shape).toEqual([2, 3, 3, 4]);
});

test('a model with the layer saves and loads through tf.io with the same weights and predictions', async () => {
  const model = tf.sequential({
    layers: [
      tf.layers.dense({ units: 4, inputShape: [3] }),
      new BatchNormalization({ momentum: 0.5, name: 'bn' }),
      tf.layers.dense({ units: 2 }),
    ],
  });
  model.compile({ optimizer: 'adam', loss: 'meanSquaredError' });
  await model.fit(input([16, 3]), input([16, 2]), { epochs: 2, verbose: 0 });
  const { artifacts, loaded } = await saveAndLoad(model);
  const topology = JSON.stringify(artifacts.modelTopology);
  expect(topology).toContain('"class_name":"TfjsBatchNormalization"');
  expect(loaded.getLayer('bn')).toBeInstanceOf(BatchNormalization);
  expect(artifacts.weightSpecs!.map((s) => s.name).filter((n) => n.startsWith('bn/')))
    .toEqual(['bn/gamma', 'bn/beta', 'bn/moving_mean', 'bn/moving_variance']);
  const x = input([5, 3], 9);
  expect(relError(loaded.predict(x) as tf.Tensor, model.predict(x) as tf.Tensor)).toBe(0);
});

test('importing the package leaves stock BatchNormalization models loading as the built-in', async () => {
  const model = tf.sequential({ layers: [tf.layers.batchNormalization({ inputShape: [3], name: 'stock_bn' })] });
  const { artifacts, loaded } = await saveAndLoad(model);
  expect(JSON.stringify(artifacts.modelTopology)).toContain('"class_name":"BatchNormalization"');
  const layer = loaded.getLayer('stock_bn');
  expect(layer).not.toBeInstanceOf(BatchNormalization);
  expect(layer.getClassName()).toBe('BatchNormalization');
});
