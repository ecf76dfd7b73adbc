/**
 * Real Keras 3.15.1 models (test/fixtures/keras3, see its README) load through loadModel and the
 * file:// router from both routes of the real tensorflowjs_converter 4.22 (its HDF5 route and its
 * keras_keras route), and predict what Keras predicted, on cpu and wasm.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { loadModel, readModelArtifacts } from '../src';
import { fromKeras3, isKeras3 } from '../src/io/keras3';
import { useBackend } from './helpers/tensors';

const FIXTURES = path.join(__dirname, 'fixtures', 'keras3', 'models');
const MODELS = ['convnext_block', 'unet_block', 'cnn_bn', 'renorm_frozen'];
const ROUTES = [['HDF5 route', ''], ['keras_keras route', 'keras_keras_route']];

interface Ref { x: unknown; y: unknown }
const refOf = (name: string): Ref => JSON.parse(fs.readFileSync(path.join(FIXTURES, name, 'ref.json'), 'utf8'));

/** max |predicted - Keras| / max |Keras|: the error relative to the output's scale. */
function errorVsKeras(model: tf.LayersModel, ref: Ref): number {
  return tf.tidy(() => {
    const want = tf.tensor(ref.y as number[]);
    const got = model.predict(tf.tensor(ref.x as number[])) as tf.Tensor;
    expect(got.shape).toEqual(want.shape);
    return tf.max(tf.abs(tf.sub(got, want))).dataSync()[0] / tf.max(tf.abs(want)).dataSync()[0];
  });
}

describe.each(['cpu', 'wasm'] as const)('on %s', (backend) => {
  beforeAll(() => useBackend(backend));

  describe.each(MODELS)('%s', (name) => {
    test.each(ROUTES)('loadModel from the converter\'s %s predicts as Keras did', async (_route, sub) => {
      const before = tf.memory().numTensors;
      const model = await loadModel(path.join(FIXTURES, name, sub, 'model.json'));
      try {
        expect(errorVsKeras(model, refOf(name))).toBeLessThan(1e-4);
      } finally {
        model.dispose();
      }
      expect(tf.memory().numTensors).toBe(before);
    });
  });
});

describe('the file:// router', () => {
  beforeAll(() => useBackend('cpu'));

  test.each(MODELS)('tf.loadLayersModel(file://.../%s) translates as loadModel does', async (name) => {
    for (const [, sub] of ROUTES) {
      const model = await tf.loadLayersModel(`file://${path.join(FIXTURES, name, sub, 'model.json')}`);
      expect(errorVsKeras(model, refOf(name))).toBeLessThan(1e-4);
      model.dispose();
    }
  });
});

describe('fromKeras3', () => {
  test('both converter routes give the same TF.js weight names and values', async () => {
    await useBackend('cpu');
    for (const name of MODELS) {
      const [h5, archive] = await Promise.all(ROUTES.map(([, sub]) => readModelArtifacts(path.join(FIXTURES, name, sub, 'model.json'))));
      const decode = (a: tf.io.ModelArtifacts) => tf.io.decodeWeights(a.weightData!, a.weightSpecs!);
      const [a, b] = [decode(h5), decode(archive)];
      expect(Object.keys(b).sort()).toEqual(Object.keys(a).sort());
      for (const key of Object.keys(a)) expect(Array.from(b[key].dataSync())).toEqual(Array.from(a[key].dataSync()));
      tf.dispose([...Object.values(a), ...Object.values(b)]);
    }
  });

  test('leaves its input unchanged, and gives Keras 2 / TF.js artifacts back as they are', async () => {
    const file = path.join(FIXTURES, 'cnn_bn', 'model.json');
    const raw = JSON.parse(fs.readFileSync(file, 'utf8'));
    const artifacts: tf.io.ModelArtifacts = { modelTopology: raw.modelTopology, weightSpecs: raw.weightsManifest[0].weights };
    const copy = JSON.parse(JSON.stringify(artifacts));
    const translated = fromKeras3(artifacts);
    expect(artifacts).toEqual(copy);
    expect(isKeras3(artifacts)).toBe(true);
    expect(isKeras3(translated)).toBe(false);
    // A second pass changes nothing: translated artifacts read as TF.js's own.
    expect(fromKeras3(translated)).toBe(translated);
    const tfjsOwn = tf.sequential({ layers: [tf.layers.dense({ inputShape: [2], units: 1 })] });
    const saved = await new Promise<tf.io.ModelArtifacts>((resolve) => {
      void tfjsOwn.save(tf.io.withSaveHandler(async (a) => { resolve(a); return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } }; }));
    });
    expect(fromKeras3(saved)).toBe(saved);
    tfjsOwn.dispose();
  });
});
