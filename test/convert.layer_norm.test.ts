/**
 * LayerNormalization conversion: stock <-> custom with weights and predictions kept, the general
 * names (toCustomNormalization / toStockNormalization / convertNormalization) and the old
 * BatchNormalization-only ones side by side, layers that cannot switch left as they are with a
 * warning, and the CLI's `convert`.
 */
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { convertNormalization } from '../src/convert';
import { LayerNormalization, layerNormalization } from '../src';
import { saveModel } from '../src/io';
import { run } from '../src/cli/run';
import { cleanUp, leafClassNames, tempDir } from './fixtures/helpers';
import { input, relError, useBackend } from './helpers/tensors';

beforeAll(() => useBackend('cpu'));

function model(): tf.LayersModel {
  const m = tf.sequential({ layers: [
    tf.layers.dense({ units: 6, inputShape: [4] }), tf.layers.layerNormalization({ epsilon: 1e-3 }),
    tf.layers.batchNormalization(), tf.layers.reshape({ targetShape: [2, 3] }), tf.layers.layerNormalization({ axis: [1, 2] }),
  ] });
  m.setWeights(m.getWeights().map((w, i) => tf.randomUniform(w.shape, 0.5, 1.5, 'float32', i)));
  return m;
}

test('toCustomNormalization / toStockNormalization switch LayerNormalization and BatchNormalization, keeping predictions', async () => {
  const stock = model();
  const custom = (await convertNormalization(stock, 'custom')).model;
  expect(leafClassNames(custom)).toEqual(['Dense', 'TfjsLayerNormalization', 'TfjsBatchNormalization', 'Reshape', 'TfjsLayerNormalization']);
  expect(custom.layers[1]).toBeInstanceOf(LayerNormalization);
  const back = (await convertNormalization(custom, 'stock')).model;
  expect(leafClassNames(back)).toEqual(['Dense', 'LayerNormalization', 'BatchNormalization', 'Reshape', 'LayerNormalization']);
  const x = input([5, 4]);
  const y = stock.predict(x) as tf.Tensor;
  expect(relError(custom.predict(x) as tf.Tensor, y)).toBeLessThan(1e-5);
  expect(relError(back.predict(x) as tf.Tensor, y)).toBe(0);
  // The old BatchNormalization-only name keeps doing only that.
  expect(leafClassNames((await convertNormalization(stock, 'custom', ['batchNormalization'])).model)).toEqual(['Dense', 'LayerNormalization', 'TfjsBatchNormalization', 'Reshape', 'LayerNormalization']);
});

test('rmsScaling and unsorted axis lists stay as they are, with a warning naming the layer', async () => {
  const m = tf.sequential({ layers: [
    tf.layers.dense({ units: 6, inputShape: [4] }), layerNormalization({ rmsScaling: true, name: 'rms' }),
  ] });
  const { converted, warnings } = await convertNormalization(m, 'stock');
  expect(converted).toEqual([]);
  expect(warnings).toEqual(['rms: left as TfjsLayerNormalization because it uses rms_scaling, which the built-in lacks']);
  const unsorted = tf.sequential({ layers: [
    tf.layers.reshape({ targetShape: [2, 3], inputShape: [6] }), tf.layers.layerNormalization({ axis: [2, 1], name: 'ln' }),
  ] });
  const r = await convertNormalization(unsorted, 'custom');
  expect(r.converted).toEqual([]);
  expect(r.warnings[0]).toMatch(/^ln: left as LayerNormalization because its axis list \[2,1\] is not sorted/);
});

test('CLI convert switches LayerNormalization too and says how many of each', async () => {
  const dir = tempDir('tfjs-ln-cli-');
  try {
    await saveModel(model(), path.join(dir, 'stock'));
    const lines: string[] = [];
    const code = await run(['convert', path.join(dir, 'stock', 'model.json'), path.join(dir, 'custom'), '--to', 'custom'],
      { stdout: (t) => lines.push(t), stderr: (t) => lines.push(t) });
    expect([code, lines.join('')]).toEqual([0,
      `Converted 1 BatchNormalization and 2 LayerNormalization layer(s) to custom; wrote ${path.join(dir, 'custom')}/model.json\n`]);
  } finally {
    cleanUp(dir);
  }
});
