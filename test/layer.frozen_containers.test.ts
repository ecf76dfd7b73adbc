/**
 * A BN inside a frozen model (any enclosing container with trainable = false, at any depth, set
 * before or after the BN was built) runs in inference mode and keeps its statistics, as in Keras.
 */
import * as tf from '@tensorflow/tfjs';
import { batchNormalization, BatchNormalization } from '../src';
import { input, useBackend } from './helpers/tensors';

beforeAll(() => useBackend('cpu'));

/** A base: Dense -> BN -> ReLU, with non-trivial BN statistics. */
function base(name: string, bn: tf.layers.Layer = batchNormalization({ name: `${name}_bn`, momentum: 0.5 })) {
  return tf.sequential({ name, layers: [
    tf.layers.dense({ units: 4, kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }), inputShape: [3] }),
    bn, tf.layers.reLU(),
  ] });
}

function setStatistics(bn: tf.layers.Layer): void {
  bn.setWeights([tf.tensor1d([1.5, 0.5, 1, 2]), tf.tensor1d([0.1, -0.2, 0.3, 0]), tf.tensor1d([2, -1, 0.5, 3]),
    tf.tensor1d([4, 0.5, 2, 9])]);
}

/** Head over `inner`: input [3] -> inner -> Dense(1). */
function head(inner: tf.LayersModel): tf.LayersModel {
  const x = tf.input({ shape: [3] });
  const y = tf.layers.dense({ units: 1, kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) })
    .apply(inner.apply(x)) as tf.SymbolicTensor;
  const model = tf.model({ inputs: x, outputs: y });
  model.compile({ optimizer: tf.train.sgd(0.1), loss: 'meanSquaredError' });
  return model;
}

const snapshot = (layer: tf.layers.Layer) => layer.getWeights().map((w) => Array.from(w.dataSync()));
const xs = () => input([16, 3], 3);
const ys = () => input([16, 1], 4);

/** One epoch of fit; returns whether the BN's weights are unchanged and whether training and evaluation losses agree. */
async function fitOnce(model: tf.LayersModel, bn: tf.layers.Layer) {
  const before = snapshot(bn);
  const evalLoss = (model.evaluate(xs(), ys()) as tf.Scalar).dataSync()[0];
  // With learning rate 0 the step changes nothing, so the training loss equals the evaluation loss
  // exactly when the BN runs in inference mode inside training.
  model.compile({ optimizer: tf.train.sgd(0), loss: 'meanSquaredError' });
  const trainLoss = await model.trainOnBatch(xs(), ys()) as number;
  model.compile({ optimizer: tf.train.sgd(0.1), loss: 'meanSquaredError' });
  await model.fit(xs(), ys(), { epochs: 1, batchSize: 8, verbose: 0 });
  return { unchanged: JSON.stringify(snapshot(bn)) === JSON.stringify(before), inferenceMode: Math.abs(trainLoss - evalLoss) < 1e-6 };
}

test('a frozen base: its BN runs in inference mode in fit and keeps its weights; the head trains (the built-in moves)', async () => {
  const frozen = base('base');
  setStatistics(frozen.layers[1]);
  frozen.trainable = false;
  expect(frozen.layers[1].trainable).toBe(false);
  const model = head(frozen);
  const headKernel = snapshot(model.layers[2]);
  expect(await fitOnce(model, frozen.layers[1])).toEqual({ unchanged: true, inferenceMode: true });
  expect(snapshot(model.layers[2])).not.toEqual(headKernel);

  // The same setup with tfjs's built-in: it trains with batch statistics and moves them.
  const stock = base('stock', tf.layers.batchNormalization({ momentum: 0.5 }));
  setStatistics(stock.layers[1]);
  stock.trainable = false;
  expect(await fitOnce(head(stock), stock.layers[1])).toEqual({ unchanged: false, inferenceMode: false });
});

test('nested two levels deep, frozen at the outer level', async () => {
  const inner = base('inner');
  setStatistics(inner.layers[1]);
  const middle = tf.sequential({ name: 'middle', layers: [inner, tf.layers.dense({ units: 3 })] });
  middle.trainable = false;
  expect(inner.layers[1].trainable).toBe(false);
  expect(await fitOnce(head(middle), inner.layers[1])).toEqual({ unchanged: true, inferenceMode: true });
});

test('frozen before its layers were added and built (the Sequential builds around them later)', async () => {
  const frozen = tf.sequential({ name: 'early' });
  frozen.trainable = false;
  const bn = batchNormalization({ momentum: 0.5 });
  expect(bn.built).toBe(false);
  frozen.add(tf.layers.dense({ units: 4, inputShape: [3] }));
  frozen.add(bn);
  frozen.add(tf.layers.reLU());
  const model = head(frozen);
  expect(bn.built).toBe(true);
  setStatistics(bn);
  expect(await fitOnce(model, bn)).toEqual({ unchanged: true, inferenceMode: true });
});

test('after save and reload the BN of the frozen base stays frozen', async () => {
  const frozen = base('saved_base');
  setStatistics(frozen.layers[1]);
  frozen.trainable = false;
  let artifacts: tf.io.ModelArtifacts | undefined;
  await head(frozen).save(tf.io.withSaveHandler(async (a) => {
    artifacts = a;
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
  }));
  const loaded = await tf.loadLayersModel(tf.io.fromMemory(artifacts!));
  loaded.compile({ optimizer: tf.train.sgd(0.1), loss: 'meanSquaredError' });
  const bn = (loaded.layers[1] as tf.LayersModel).layers[1];
  expect(bn).toBeInstanceOf(BatchNormalization);
  expect(bn.trainable).toBe(false);
  expect(await fitOnce(loaded, bn)).toEqual({ unchanged: true, inferenceMode: true });
});

test('unfreezing the base unfreezes its BN; a BN frozen on its own stays frozen when a Sequential builds around it', async () => {
  const frozen = base('thawed');
  frozen.trainable = false;
  frozen.trainable = true;
  expect(frozen.layers[1].trainable).toBe(true);
  setStatistics(frozen.layers[1]);
  expect(await fitOnce(head(frozen), frozen.layers[1])).toEqual({ unchanged: false, inferenceMode: false });

  const alone = batchNormalization();
  alone.trainable = false;
  tf.sequential({ layers: [tf.layers.dense({ units: 4, inputShape: [3] }), alone] });
  expect(alone.trainable).toBe(false);
});
