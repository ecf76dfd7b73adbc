import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { batchNormalization } from '../src';
import { fileSystem, loadModel, ModelFileError, saveModel } from '../src/io';
import { writeKerasModel } from './fixtures/keras_format';
import { cleanUp, maxAbsDiff, snapshot, tempDir } from './fixtures/helpers';

function smallModel(): tf.LayersModel {
  return tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [6, 6, 2], filters: 3, kernelSize: 3, useBias: false }),
      batchNormalization(),
      tf.layers.flatten(),
      tf.layers.dense({ units: 2 }),
    ],
  });
}

let root: string;
beforeEach(() => { root = tempDir(); });
afterEach(() => { cleanUp(root); });

describe('file:// save and load without tfjs-node', () => {
  it('registers routers for file:// (tfjs-node is not installed here)', () => {
    expect(tf.io.getSaveHandlers('file://x')).toHaveLength(1);
    expect(tf.io.getLoadHandlers('file://x/model.json')).toHaveLength(1);
  });

  it('round-trips a model through model.save / tf.loadLayersModel in the standard format', async () => {
    const model = smallModel();
    const dir = path.join(root, 'nested', 'net');
    await model.save(`file://${dir}`);
    expect(fs.readdirSync(dir).sort()).toEqual(['model.json', 'weights.bin']);
    const json = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8'));
    expect(json.format).toBe('layers-model');
    expect(json.weightsManifest).toHaveLength(1);
    expect(json.weightsManifest[0].paths).toEqual(['weights.bin']);
    expect(json.weightsManifest[0].weights.map((w: { name: string }) => w.name)).toEqual(
      model.weights.map((w) => w.originalName));
    expect(fs.statSync(path.join(dir, 'weights.bin')).size).toBe(4 * model.countParams());

    const loaded = await tf.loadLayersModel(`file://${dir}/model.json`);
    const fromDir = await loadModel(dir);
    const x = tf.randomUniform([2, 6, 6, 2], -1, 1, 'float32', 1);
    const [y0, y1, y2] = [model, loaded, fromDir].map((m) => m.predict(x) as tf.Tensor);
    expect(maxAbsDiff(y0, y1)).toBe(0);
    expect(maxAbsDiff(y0, y2)).toBe(0);
    tf.dispose([x, y0, y1, y2]);
    [model, loaded, fromDir].forEach((m) => m.dispose());
  });

  it('loads Keras-converter weights quantized to uint8 and uint16', async () => {
    const dir = path.join(root, 'keras');
    const expected = writeKerasModel(dir);
    const model = await loadModel(path.join(dir, 'model.json'));
    expect(model.weights.map((w) => w.originalName).sort()).toEqual([...expected.keys()].sort());
    for (const w of model.weights) {
      const want = expected.get(w.originalName)!;
      const got = w.read().dataSync();
      const diff = Math.max(...Array.from(got, (v, i) => Math.abs(v - want[i])));
      expect(diff).toBeLessThan(1e-6);
    }
    // A quantized weight really is stepped: uint8 conv1/kernel has at most 256 distinct values.
    const kernel = model.weights.find((w) => w.originalName === 'conv1/kernel')!.read().dataSync();
    expect(new Set(kernel).size).toBeLessThanOrEqual(256);
    model.dispose();
  });
});

it('reads a weight group split over several shards, as the converter writes large models', async () => {
  const dir = path.join(root, 'sharded');
  const model = smallModel();
  await saveModel(model, dir);
  const bin = fs.readFileSync(path.join(dir, 'weights.bin'));
  fs.writeFileSync(path.join(dir, 'group1-shard1of2.bin'), bin.subarray(0, 100));
  fs.writeFileSync(path.join(dir, 'group1-shard2of2.bin'), bin.subarray(100));
  fs.rmSync(path.join(dir, 'weights.bin'));
  const json = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8'));
  json.weightsManifest[0].paths = ['group1-shard1of2.bin', 'group1-shard2of2.bin'];
  fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(json));
  const loaded = await loadModel(dir);
  expect(maxAbsDiff(loaded.getWeights(), model.getWeights())).toBe(0);
  [model, loaded].forEach((m) => m.dispose());
});

describe('save over an existing model', () => {
  it('replaces an existing model, keeps unrelated files, removes superseded shards one save later, leaves no temp dirs', async () => {
    const dir = path.join(root, 'net');
    writeKerasModel(dir);
    fs.writeFileSync(path.join(dir, 'metadata.json'), '{"labels":["a","b"]}');
    const oldShards = fs.readdirSync(dir).filter((n) => n.endsWith('.bin'));
    expect(oldShards.length).toBeGreaterThan(0);
    const model = smallModel();
    await saveModel(model, dir);
    // The replaced model's shards stay, for readers that read its model.json, until the next save.
    const journal = '.tfjs-batchnorm-save-journal.json';
    const shard = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8')).weightsManifest[0].paths[0];
    expect(shard).toMatch(/^weights-[0-9a-f]{16}\.bin$/);
    expect(fs.readdirSync(dir).sort()).toEqual([journal, ...oldShards, 'metadata.json', 'model.json', shard].sort());
    await saveModel(model, dir);
    expect(fs.readdirSync(dir).sort()).toEqual(['metadata.json', 'model.json', shard]);
    expect(fs.readFileSync(path.join(dir, 'metadata.json'), 'utf8')).toBe('{"labels":["a","b"]}');
    expect(fs.readdirSync(root)).toEqual(['net']);
    const loaded = await loadModel(dir);
    expect(loaded.layers.map((l) => l.getClassName())).toEqual(model.layers.map((l) => l.getClassName()));
    model.dispose();
    loaded.dispose();
  });

  it('a save that fails midway leaves the previous model byte-for-byte intact', async () => {
    const dir = path.join(root, 'net');
    const first = smallModel();
    await saveModel(first, dir);
    const before = snapshot(dir);
    const second = smallModel();
    // Writes half of weights.bin, then fails, like a full disk.
    const failing = async (file: string, data: Uint8Array) => {
      fs.writeFileSync(file, data.subarray(0, data.byteLength >> 1));
      throw new Error('ENOSPC: no space left on device');
    };
    await expect(saveModel(second, dir, { writeFile: failing })).rejects.toThrow(
      new RegExp(`Saving the model to ${dir} failed \\(ENOSPC.*left as it was`));
    expect(snapshot(dir)).toEqual(before);
    expect(fs.readdirSync(root)).toEqual(['net']);
    const loaded = await loadModel(dir);
    expect(maxAbsDiff(loaded.getWeights(), first.getWeights())).toBe(0);
    [first, second, loaded].forEach((m) => m.dispose());
  });

  it('a failed first save creates nothing, not even the parent directories', async () => {
    const dir = path.join(root, 'a', 'b', 'net');
    const model = smallModel();
    await expect(saveModel(model, dir, { writeFile: async () => { throw new Error('EIO'); } })).rejects.toThrow(/EIO/);
    expect(fs.readdirSync(root)).toEqual([]);
    model.dispose();
  });

  it('refuses to save over a file, and weight data that does not match its specs', async () => {
    const file = path.join(root, 'taken');
    fs.writeFileSync(file, 'not a directory');
    const model = smallModel();
    await expect(saveModel(model, file)).rejects.toThrow(/taken exists and is not a directory/);
    expect(fs.readFileSync(file, 'utf8')).toBe('not a directory');

    const target = path.join(root, 'net');
    const artifacts: tf.io.ModelArtifacts = {
      modelTopology: model.toJSON(null, false) as {},
      weightSpecs: [{ name: 'w', shape: [4], dtype: 'float32' }],
      weightData: new ArrayBuffer(12),
    };
    await expect(fileSystem(target).save!(artifacts)).rejects.toThrow(/describe 16 bytes but the weight data has 12/);
    expect(fs.existsSync(target)).toBe(false);
    model.dispose();
  });
});

describe('bad model files: clear error naming the file, nothing on disk changed', () => {
  let dir: string;
  let modelJson: string;
  beforeEach(async () => {
    dir = path.join(root, 'net');
    const model = smallModel();
    await saveModel(model, dir);
    model.dispose();
    modelJson = path.join(dir, 'model.json');
  });

  const readJson = () => JSON.parse(fs.readFileSync(modelJson, 'utf8'));
  const writeJson = (json: unknown) => fs.writeFileSync(modelJson, JSON.stringify(json));

  async function expectLoadError(pattern: RegExp): Promise<void> {
    const before = snapshot(root);
    const numTensors = tf.memory().numTensors;
    const error = await loadModel(modelJson).then(() => null, (e: Error) => e);
    expect(error).toBeInstanceOf(ModelFileError);
    expect(error!.message).toMatch(pattern);
    expect(error!.message).toContain(dir);
    expect(tf.memory().numTensors).toBe(numTensors);
    // The file:// route gives the same message (for errors found before tfjs builds the model).
    const viaRouter = await tf.loadLayersModel(`file://${modelJson}`).then(() => null, (e: Error) => e);
    expect(viaRouter!.message).toMatch(pattern);
    expect(snapshot(root)).toEqual(before);
  }

  it('missing model.json', async () => {
    fs.rmSync(modelJson);
    await expectLoadError(new RegExp(`${modelJson}: file not found \\(expected a TensorFlow.js layers model.json\\)`));
  });

  it('missing weight shard', async () => {
    fs.rmSync(path.join(dir, 'weights.bin'));
    await expectLoadError(new RegExp(`weights.bin: file not found \\(expected a weight shard listed in ${modelJson}\\)`));
  });

  it('truncated weight shard', async () => {
    const bin = path.join(dir, 'weights.bin');
    const size = fs.statSync(bin).size;
    fs.truncateSync(bin, size - 8);
    await expectLoadError(new RegExp(`weights.bin: weight data is truncated: the manifest in ${modelJson} ` +
      `describes ${size} bytes \\(7 weights\\), but the file holds ${size - 8} bytes`));
  });

  it('oversized weight shard', async () => {
    const bin = path.join(dir, 'weights.bin');
    const size = fs.statSync(bin).size;
    fs.appendFileSync(bin, Buffer.alloc(4));
    await expectLoadError(new RegExp(`weights.bin: weight data is oversized: .* describes ${size} bytes .* holds ${size + 4} bytes`));
  });

  it('manifest names a weight the model does not have', async () => {
    const json = readJson();
    json.weightsManifest[0].weights[0].name = 'no_such_layer/kernel';
    writeJson(json);
    await expectLoadError(/no_such_layer\/kernel/);
    const error = await loadModel(modelJson).catch((e: Error) => e);
    expect((error as Error).message).toMatch(new RegExp(`^${modelJson}: the weights manifest does not match the model: ` +
      'the manifest has weight "no_such_layer/kernel", which no layer of the model creates; the manifest lacks weight'));
  });

  it('manifest shape that does not match the layer (same byte count)', async () => {
    const json = readJson();
    const kernel = json.weightsManifest[0].weights[0];
    expect(kernel.shape).toEqual([3, 3, 2, 3]);
    kernel.shape = [9, 2, 3];
    writeJson(json);
    await expectLoadError(/[Ss]hape/);
    const error = await loadModel(modelJson).catch((e: Error) => e);
    expect(error).toBeInstanceOf(ModelFileError);
    expect((error as Error).message).toContain(modelJson);
  });

  it('quantized entry without min/scale', async () => {
    const json = readJson();
    json.weightsManifest[0].weights[0].quantization = { dtype: 'uint8' };
    writeJson(json);
    await expectLoadError(/weightsManifest\[0\]\.weights\[0\]: weight ".*" is quantized to uint8 but lacks finite numeric "min" and "scale"/);
  });

  it('not JSON', async () => {
    fs.writeFileSync(modelJson, '{"modelTopology": {');
    await expectLoadError(new RegExp(`${modelJson}: is not valid JSON .*expected a TensorFlow.js layers model.json`));
  });

  it('JSON that is not a layers model', async () => {
    writeJson({ hello: 'world' });
    await expectLoadError(/expected a TensorFlow.js layers model .* but "modelTopology" is missing/);
    writeJson({ format: 'graph-model', modelTopology: { node: [] }, weightsManifest: [] });
    await expectLoadError(/but this is a graph model \(load it with tf.loadGraphModel\)/);
    writeJson({ modelTopology: { class_name: 'Dense', config: {} }, weightsManifest: [] });
    await expectLoadError(/class_name is "Dense" \(expected one of Sequential, Model, Functional/);
  });

  it('manifest paths that leave the model directory', async () => {
    const json = readJson();
    json.weightsManifest[0].paths = ['/etc/passwd'];
    writeJson(json);
    await expectLoadError(/paths has "\/etc\/passwd"; expected a file name relative to model.json/);
  });
});
