/**
 * Real Keras 3.15.1 models (test/fixtures/keras3, see its README) load through loadModel and the
 * file:// router from both routes of the real tensorflowjs_converter 4.22 (its HDF5 route and its
 * keras_keras route), and predict what Keras predicted, on cpu and wasm.
 */
import * as fs from 'fs';
import * as http from 'http';
import type { AddressInfo } from 'net';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { loadModel } from '../src/io';
import { readModelArtifacts } from '../src/io/file_system';
import { fromKeras3, isKeras3 } from '../src/io/keras3';
import { useBackend } from './helpers/tensors';

const FIXTURES = path.join(__dirname, 'fixtures', 'keras3', 'models');
const MODELS = ['convnext_block', 'unet_block', 'cnn_bn', 'renorm_frozen', 'token_norms'];
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

test('renorm_frozen trains one step: the renorm BN updates its statistics, the frozen BN keeps them', async () => {
  await useBackend('cpu');
  for (const [, sub] of ROUTES) {
    const model = await loadModel(path.join(FIXTURES, 'renorm_frozen', sub, 'model.json'));
    const [renorm, frozen] = model.layers.filter((l) => l.getClassName().includes('BatchNormalization'));
    expect(frozen.trainable).toBe(false);
    const before = [renorm, frozen].map((l) => l.getWeights().map((w) => Array.from(w.dataSync())));
    model.compile({ optimizer: tf.train.sgd(0.01), loss: 'meanSquaredError' });
    const x = tf.tensor(refOf('renorm_frozen').x as number[][]);
    const y = tf.ones([x.shape[0], 1]);
    const history = await model.fit(x, y, { epochs: 1, batchSize: x.shape[0], verbose: 0 });
    expect(Number.isFinite(history.history.loss[0] as number)).toBe(true);
    const after = [renorm, frozen].map((l) => l.getWeights().map((w) => Array.from(w.dataSync())));
    // renorm: gamma, beta and the five statistics all move; frozen: nothing moves.
    after[0].forEach((w, i) => expect(w).not.toEqual(before[0][i]));
    expect(after[1]).toEqual(before[1]);
    tf.dispose([x, y]);
    model.dispose();
  }
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

/**
 * fetch, with the JSON parsed in this test's realm: jest runs tests in a vm context, and tfjs's
 * config conversion checks `instanceof Array`, which arrays parsed by Node's own fetch fail.
 */
async function sameRealmFetch(url: RequestInfo | URL): Promise<Response> {
  const response = await fetch(url);
  const body = await response.arrayBuffer();
  return { ok: response.ok, status: response.status, url: String(url), json: async () => JSON.parse(Buffer.from(body).toString('utf8')),
    arrayBuffer: async () => body } as unknown as Response;
}

describe('tf.loadLayersModel on a URL, and tf.io.fromMemory', () => {
  let server: http.Server;
  let base = '';
  beforeAll(async () => {
    await useBackend('cpu');
    // Serves the fixture folder read-only, as a web server would.
    server = http.createServer((req, res) => {
      const file = path.join(FIXTURES, decodeURIComponent((req.url ?? '/').split('?')[0]));
      if (!file.startsWith(FIXTURES) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200).end(fs.readFileSync(file));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  test.each(MODELS)('http:// %s from both converter routes predicts as Keras did', async (name) => {
    for (const [, sub] of ROUTES) {
      const model = await tf.loadLayersModel(`${base}/${name}/${sub ? `${sub}/` : ''}model.json`, { fetchFunc: sameRealmFetch });
      expect(errorVsKeras(model, refOf(name))).toBeLessThan(1e-4);
      model.dispose();
    }
  });

  test('tf.io.fromMemory with a Keras 3 model.json as read from disk', async () => {
    const json = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'cnn_bn', 'model.json'), 'utf8'));
    const data = fs.readFileSync(path.join(FIXTURES, 'cnn_bn', 'group1-shard1of1.bin'));
    const model = await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: json.modelTopology,
      weightSpecs: json.weightsManifest[0].weights, weightData: new Uint8Array(data).buffer }));
    expect(errorVsKeras(model, refOf('cnn_bn'))).toBeLessThan(1e-4);
    model.dispose();
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
