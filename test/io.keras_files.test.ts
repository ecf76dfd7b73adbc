/**
 * Keras's own files (.keras archives, legacy .h5) without Python: read, the artifacts equal what
 * the real TF.js converter (tensorflowjs 4.22) wrote from the same files, byte for byte; loaded,
 * they predict what Keras predicted, on cpu and wasm; written back as .keras, they load again and
 * predict the same.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { loadKerasModel, loadModel, ModelFileError } from '../src/io';
import { readKerasFile } from '../src/io/keras3/read';
import { saveKerasModel } from '../src/io/keras3/node';
import { run } from '../src/cli/run';
import { useBackend } from './helpers/tensors';

const FIXTURES = path.join(__dirname, 'fixtures', 'keras3', 'models');
/** The fixtures with both real converter outputs beside them. */
const MODELS = fs.readdirSync(FIXTURES).filter((m) => fs.existsSync(path.join(FIXTURES, m, 'keras_keras_route'))).sort();

/** The converter's model.json + its one shard, as written. */
function converterOutput(dir: string): { json: { modelTopology: unknown; weightsManifest: { weights: unknown[] }[] }; bin: Buffer } {
  return {
    json: JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8')),
    bin: fs.readFileSync(path.join(dir, 'group1-shard1of1.bin')),
  };
}

describe('Keras files read as the TF.js converter converts them', () => {
  it('has the committed real Keras 3 models to read', () => {
    expect(MODELS).toEqual(expect.arrayContaining(['cnn_bn', 'convnext_block', 'renorm_frozen', 'token_norms', 'unet_block']));
  });

  for (const model of MODELS) {
    const dir = path.join(FIXTURES, model);
    it(`${model}: model.keras gives the keras_keras route's model.json and weights`, async () => {
      const artifacts = readKerasFile(new Uint8Array(fs.readFileSync(path.join(dir, 'model.keras'))), 'model.keras');
      const { json, bin } = converterOutput(path.join(dir, 'keras_keras_route'));
      expect(artifacts.modelTopology).toEqual(json.modelTopology);
      expect(artifacts.weightSpecs).toEqual(json.weightsManifest[0].weights);
      expect(Buffer.from(artifacts.weightData as ArrayBuffer).equals(bin)).toBe(true);
    });

    it(`${model}: model.h5 gives the HDF5 route's model.json and weights`, () => {
      const artifacts = readKerasFile(new Uint8Array(fs.readFileSync(path.join(dir, 'model.h5'))), 'model.h5');
      const { json, bin } = converterOutput(dir);
      expect(artifacts.modelTopology).toEqual(json.modelTopology);
      expect(artifacts.weightSpecs).toEqual(json.weightsManifest[0].weights);
      expect(Buffer.from(artifacts.weightData as ArrayBuffer).equals(bin)).toBe(true);
    });
  }
});

interface Ref { x: number[]; y: number[] }
const refOf = (model: string): Ref => JSON.parse(fs.readFileSync(path.join(FIXTURES, model, 'ref.json'), 'utf8'));

/** max |predicted - Keras| / max |Keras|: the error relative to the output's scale. */
function errorVsKeras(model: tf.LayersModel, ref: Ref): number {
  return tf.tidy(() => {
    const want = tf.tensor(ref.y);
    const got = model.predict(tf.tensor(ref.x)) as tf.Tensor;
    expect(got.shape).toEqual(want.shape);
    return tf.max(tf.abs(tf.sub(got, want))).dataSync()[0] / tf.max(tf.abs(want)).dataSync()[0];
  });
}

/** Every fixture, listed so that a missing one fails rather than being skipped. */
const LOADABLE = ['cnn_bn', 'convnext_block', 'mobilenet_v2', 'renorm_frozen', 'token_norms', 'unet_block'];

describe.each(['cpu', 'wasm'] as const)('loadModel on %s', (backend) => {
  beforeAll(() => useBackend(backend));

  describe.each(LOADABLE)('%s', (model) => {
    test.each(['model.keras', 'model.h5'])('from %s predicts as Keras did (within 1e-4 of the output scale)', async (file) => {
      const before = tf.memory().numTensors;
      const loaded = await loadModel(path.join(FIXTURES, model, file));
      try {
        expect(errorVsKeras(loaded, refOf(model))).toBeLessThan(1e-4);
      } finally {
        loaded.dispose();
      }
      expect(tf.memory().numTensors).toBe(before);
    });
  });
});

describe('saveKerasModel', () => {
  let dir: string;
  beforeAll(async () => {
    await useBackend('cpu');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'keras-write-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test.each(LOADABLE)('%s: .keras -> tfjs -> .keras -> tfjs predicts as Keras did, and the archive has Keras\'s layout', async (model) => {
    const first = await loadModel(path.join(FIXTURES, model, 'model.keras'));
    const out = path.join(dir, `${model}.keras`);
    try {
      await saveKerasModel(first, out);
    } finally {
      first.dispose();
    }
    expect(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    const written = readKerasFile(new Uint8Array(fs.readFileSync(out)), out);
    const original = readKerasFile(new Uint8Array(fs.readFileSync(path.join(FIXTURES, model, 'model.keras'))), 'model.keras');
    // The same variables under the same archive paths as Keras wrote (optimizer state is not written).
    const modelSpecs = (a: tf.io.ModelArtifacts) => (a.weightSpecs ?? []).filter((s) => !s.name.startsWith('optimizer/'));
    expect(written.weightSpecs).toEqual(modelSpecs(original));
    const again = await loadModel(out);
    try {
      expect(errorVsKeras(again, refOf(model))).toBeLessThan(1e-4);
    } finally {
      again.dispose();
    }
  });
});

describe('loadKerasModel (browser-safe: URL, File/Blob or bytes)', () => {
  beforeAll(() => useBackend('cpu'));
  const file = path.join(FIXTURES, 'cnn_bn', 'model.keras');

  test('from bytes, a Blob and a fetched URL, as loadModel does', async () => {
    const bytes = new Uint8Array(fs.readFileSync(file));
    const fetchFunc = (async (url: string) => {
      expect(url).toBe('https://example.test/cnn_bn.keras');
      return new Response(bytes, { status: 200, headers: { 'content-length': String(bytes.length) } });
    }) as unknown as typeof fetch;
    for (const source of [bytes, bytes.slice().buffer, new Blob([bytes]), 'https://example.test/cnn_bn.keras']) {
      const model = await loadKerasModel(source, { fetchFunc });
      expect(errorVsKeras(model, refOf('cnn_bn'))).toBeLessThan(1e-4);
      model.dispose();
    }
  });

  test('a URL that fails or is too big is a ModelFileError naming it; nothing leaks', async () => {
    const before = tf.memory().numTensors;
    const missing = (async () => new Response('no', { status: 404, statusText: 'Not Found' })) as unknown as typeof fetch;
    await expect(loadKerasModel('/m.keras', { fetchFunc: missing })).rejects.toThrow(/\/m\.keras: cannot be fetched: HTTP 404 Not Found/);
    const huge = (async () => new Response('x', { headers: { 'content-length': String(5e9) } })) as unknown as typeof fetch;
    await expect(loadKerasModel('/big.keras', { fetchFunc: huge })).rejects.toThrow(/is 5000000000 bytes, more than the limit/);
    await expect(loadKerasModel(new Uint8Array([1, 2, 3]))).rejects.toThrow(ModelFileError);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('the CLI with Keras files', () => {
  test('convert model.h5 out.keras, then verify out.keras against model.keras (exit 0, identical)', async () => {
    await useBackend('cpu');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'keras-cli-'));
    try {
      const out = path.join(dir, 'out.keras');
      const text: string[] = [];
      const io = { stdout: (t: string) => { text.push(t); }, stderr: (t: string) => { text.push(t); } };
      const fixture = path.join(FIXTURES, 'convnext_block');
      expect(await run(['convert', path.join(fixture, 'model.h5'), out], io)).toBe(0);
      expect(text.join('')).toContain(`Wrote ${out} (a Keras 3 archive)`);
      expect(await run(['verify', path.join(fixture, 'model.keras'), out, '--runs', '1', '--json'], io)).toBe(0);
      const result = JSON.parse(text[text.length - 1]);
      expect(result.maxAbsDiff).toBe(0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
