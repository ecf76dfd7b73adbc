/**
 * Model files written by someone else: paths out of the folder, special files, bad topologies,
 * nesting bombs and huge declared shapes. Each must end in a ModelFileError naming the file
 * (exit 2 on the command line), reading nothing outside the folder, in bounded time and memory,
 * without leaking tensors.
 */
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { batchNormalization } from '../src';
import { loadModel, ModelFileError, saveModel } from '../src/io';
import { cli } from './support/cli';
import { cleanUp, maxAbsDiff, tempDir } from './fixtures/helpers';

let root: string;
beforeEach(() => { root = tempDir('tfjs-bn-hostile-'); });
afterEach(() => { cleanUp(root); });

function functionalModel(): tf.LayersModel {
  const input = tf.input({ shape: [3], name: 'x' });
  const h = tf.layers.dense({ units: 4, name: 'd1' }).apply(input) as tf.SymbolicTensor;
  const n = batchNormalization({ name: 'bn' }).apply(h) as tf.SymbolicTensor;
  const y = tf.layers.dense({ units: 2, name: 'd2' }).apply(n) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: y });
}

/** Saves the small functional model into root/<name> and returns its model.json path. */
async function savedModel(name: string): Promise<string> {
  const model = functionalModel();
  await saveModel(model, path.join(root, name));
  model.dispose();
  return path.join(root, name, 'model.json');
}

const readJson = (file: string) => JSON.parse(fs.readFileSync(file, 'utf8'));
const writeJson = (file: string, json: unknown) => fs.writeFileSync(file, JSON.stringify(json));

async function loadError(modelJson: string): Promise<Error> {
  const tensors = tf.memory().numTensors;
  const error = await loadModel(modelJson).then(() => null, (e: Error) => e);
  expect(error).toBeInstanceOf(ModelFileError);
  const viaRouter = await tf.loadLayersModel(`file://${modelJson}`).then(() => null, (e: Error) => e);
  expect(viaRouter).toBeInstanceOf(ModelFileError);
  expect(viaRouter!.message).toBe(error!.message);
  expect(tf.memory().numTensors).toBe(tensors);
  return error!;
}

describe('weight paths are confined to the model folder', () => {
  const outsideMessage = /does not resolve to a file inside the folder that holds model.json \(after resolving "\.\." and symbolic links\); only files inside it are read\./;

  it('"../" paths: the same error whether the outside file exists or not, and nothing about it', async () => {
    const modelJson = await savedModel('m');
    const size = fs.statSync(path.join(root, 'm', 'weights.bin')).size;
    fs.mkdirSync(path.join(root, 'outside'));
    // The secret has exactly the size the manifest expects: the old reader returned its bytes.
    fs.writeFileSync(path.join(root, 'outside', 'secret.bin'), Buffer.alloc(size, 7));
    fs.writeFileSync(path.join(root, 'outside', 'other.bin'), Buffer.alloc(1221, 7));
    const messages: string[] = [];
    for (const target of ['secret.bin', 'other.bin', 'missing.bin']) {
      const json = readJson(modelJson);
      json.weightsManifest[0].paths = [`../outside/${target}`];
      writeJson(modelJson, json);
      const error = await loadError(modelJson);
      expect(error.message).toMatch(outsideMessage);
      messages.push(error.message.replace(target, 'X'));
      const out = path.join(root, 'out');
      const r = await cli('convert', modelJson, out, '--to', 'stock');
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(outsideMessage);
      expect(fs.existsSync(out)).toBe(false);
    }
    expect(new Set(messages).size).toBe(1);
    expect(messages[0]).not.toMatch(/1221|bytes|not found/);
  });

  it('symbolic links out of the folder (to a file, a folder, a missing file) get that same error', async () => {
    const modelJson = await savedModel('m');
    const dir = path.dirname(modelJson);
    const bin = path.join(dir, 'weights.bin');
    fs.mkdirSync(path.join(root, 'outside'));
    fs.copyFileSync(bin, path.join(root, 'outside', 'weights.bin'));
    const messages: string[] = [];
    const tryLink = async (target: string, manifestPath: string) => {
      const link = path.join(dir, manifestPath.split('/')[0]);
      fs.rmSync(link, { force: true, recursive: true });
      fs.symlinkSync(target, link);
      const json = readJson(modelJson);
      json.weightsManifest[0].paths = [manifestPath];
      writeJson(modelJson, json);
      const error = await loadError(modelJson);
      expect(error.message).toMatch(outsideMessage);
      messages.push(error.message.replace(manifestPath, 'X'));
    };
    await tryLink(path.join(root, 'outside', 'weights.bin'), 'link.bin');
    await tryLink('../outside/weights.bin', 'link.bin');
    await tryLink(path.join(root, 'outside', 'nothing.bin'), 'link.bin');
    await tryLink(path.join(root, 'outside'), 'sub/weights.bin');
    await tryLink(path.join(root, 'outside'), 'sub/nothing.bin');
    expect(new Set(messages).size).toBe(1);
  });

  it('symbolic links that stay inside the folder, and a model folder reached through a link, still load', async () => {
    const modelJson = await savedModel('m');
    const dir = path.dirname(modelJson);
    fs.mkdirSync(path.join(dir, 'shards'));
    fs.renameSync(path.join(dir, 'weights.bin'), path.join(dir, 'shards', 'real.bin'));
    fs.symlinkSync('shards/real.bin', path.join(dir, 'weights.bin'));
    fs.symlinkSync(dir, path.join(root, 'alias'));
    const a = await loadModel(modelJson);
    const b = await loadModel(path.join(root, 'alias', 'model.json'));
    expect(maxAbsDiff(a.getWeights(), b.getWeights())).toBe(0);
    [a, b].forEach((m) => m.dispose());
  });

  it('absolute paths are refused without looking at the file', async () => {
    const modelJson = await savedModel('m');
    const json = readJson(modelJson);
    json.weightsManifest[0].paths = ['/etc/passwd'];
    writeJson(modelJson, json);
    expect((await loadError(modelJson)).message).toMatch(/paths has "\/etc\/passwd"; expected a file name relative to model.json/);
  });
});

describe('model.json size limit', () => {
  it('refuses a model.json over the limit before reading it; the limit can be raised', async () => {
    const modelJson = await savedModel('m');
    const size = fs.statSync(modelJson).size;
    const error = await loadModel(modelJson, { maxModelJsonBytes: size - 1 }).catch((e: Error) => e);
    expect(error).toBeInstanceOf(ModelFileError);
    expect((error as Error).message).toBe(`${modelJson}: is ${size} bytes, more than the limit of ${size - 1} bytes for a ` +
      'model.json (raise it with the maxModelJsonBytes option, or --max-model-json-mb on the command line).');
    (await loadModel(modelJson, { maxModelJsonBytes: size })).dispose();

    // A sparse 100 MB file: refused by its size (default limit 64 MiB), never read.
    const big = path.join(root, 'big', 'model.json');
    fs.mkdirSync(path.dirname(big));
    fs.writeFileSync(big, '');
    fs.truncateSync(big, 100 * 1024 * 1024);
    expect((await loadError(big)).message).toMatch(/is 104857600 bytes, more than the limit of 67108864 bytes/);
    const r = await cli('fold', big, path.join(root, 'out'));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/more than the limit of 67108864 bytes/);
    const raised = await cli('fold', big, path.join(root, 'out'), '--max-model-json-mb', '200');
    expect(raised.code).toBe(2);
    expect(raised.stderr).toMatch(/is not valid JSON/);
  });
});

it('the nesting limit counts only real brackets: brackets and escaped quotes inside strings are text', async () => {
  const modelJson = await savedModel('m');
  const json = readJson(modelJson);
  json.userDefinedMetadata = { note: `say \\"${'['.repeat(500)}\\" ${'{'.repeat(500)}` };
  writeJson(modelJson, json);
  const model = await loadModel(modelJson);
  expect((model.getUserDefinedMetadata() as { note: string }).note).toHaveLength(1009);
  model.dispose();
  // 129 real levels: refused, with the byte where the limit was passed.
  fs.writeFileSync(modelJson, `${'['.repeat(129)}${']'.repeat(129)}`);
  expect((await loadError(modelJson)).message).toBe(`${modelJson}: nests arrays/objects more than 128 levels deep (at byte 128); ` +
    'expected a TensorFlow.js layers model.json.');
});

it('a model.json with a list of 150000 objects in a layer config loads (the topology walk does not recurse or spread)', async () => {
  const modelJson = await savedModel('m');
  const json = readJson(modelJson);
  json.modelTopology.config.layers[1].config.note = Array.from({ length: 150000 }, () => ({}));
  writeJson(modelJson, json);
  const model = await loadModel(modelJson);
  expect(model.layers.map((l) => l.name)).toEqual(['x', 'd1', 'bn', 'd2']);
  model.dispose();
});

it('a model with more layers than the limit (default 20000) is refused before tfjs builds it', async () => {
  const dir = path.join(root, 'many');
  fs.mkdirSync(dir);
  const layers: unknown[] = [{ class_name: 'InputLayer', config: { name: 'in', batch_input_shape: [null, 2] } }];
  for (let i = 0; i < 20000; i++) layers.push({ class_name: 'Activation', config: { name: `a${i}`, activation: 'linear' } });
  const modelJson = path.join(dir, 'model.json');
  writeJson(modelJson, { modelTopology: { class_name: 'Sequential', config: { name: 's', layers } }, weightsManifest: [] });
  // The message comes from the topology check, which runs before tfjs builds any layer.
  expect((await loadError(modelJson)).message).toBe(`${modelJson}: has more than 20000 layers (nested models included), ` +
    'the limit for one model (raise it with the maxLayers option); tfjs takes minutes to build that many.');
  const small = await savedModel('m');
  await expect(loadModel(small, { maxLayers: 3 })).rejects.toThrow(/has more than 3 layers/);
  (await loadModel(small, { maxLayers: 4 })).dispose();
});

describe('failed loads leak nothing', () => {
  it('an unknown class name in a later layer: ModelFileError, no tensors left', async () => {
    const modelJson = await savedModel('m');
    const json = readJson(modelJson);
    const layers = json.modelTopology.config.layers;
    layers[layers.length - 1].class_name = 'NoSuchLayer';
    writeJson(modelJson, json);
    for (let i = 0; i < 3; i++) expect((await loadError(modelJson)).message).toMatch(/Unknown layer: NoSuchLayer/);
  });

  it('tf.loadLayersModel through the router: a manifest that does not match the model is a ModelFileError', async () => {
    const modelJson = await savedModel('m');
    const json = readJson(modelJson);
    json.weightsManifest[0].weights[0].name = 'ghost/kernel';
    writeJson(modelJson, json);
    const error = await loadError(modelJson);
    expect(error.message).toMatch(new RegExp(`^${modelJson}: the weights manifest does not match the model: ` +
      'the manifest has weight "ghost/kernel", which no layer of the model creates; the manifest lacks weight "d1/kernel"\\.$'));
  });

  it('a manifest shape that disagrees with the layer config names the weight and both shapes', async () => {
    const modelJson = await savedModel('m');
    const json = readJson(modelJson);
    const entry = json.weightsManifest[0].weights.find((w: { name: string }) => w.name === 'd1/kernel');
    entry.shape = [4, 3];
    writeJson(modelJson, json);
    expect((await loadError(modelJson)).message).toMatch(
      /weight "d1\/kernel" has shape \[4,3\] in the manifest, but the layer config gives \[3,4\]/);
  });
});

it('loading runs no initializer for weights the file provides', async () => {
  const model = tf.sequential({ layers: [tf.layers.dense({ units: 3, inputShape: [2], kernelInitializer: 'glorotUniform' })] });
  await saveModel(model, path.join(root, 'm'));
  // The class that owns GlorotUniform's apply (VarianceScaling), spied on while loading.
  let proto = Object.getPrototypeOf(tf.initializers.glorotUniform({}));
  while (!Object.prototype.hasOwnProperty.call(proto, 'apply')) proto = Object.getPrototypeOf(proto);
  const apply = jest.spyOn(proto, 'apply');
  try {
    const loaded = await loadModel(path.join(root, 'm'));
    const viaRouter = await tf.loadLayersModel(`file://${root}/m/model.json`);
    expect(apply).not.toHaveBeenCalled();
    expect(maxAbsDiff(loaded.getWeights(), model.getWeights())).toBe(0);
    expect(maxAbsDiff(viaRouter.getWeights(), model.getWeights())).toBe(0);
    [loaded, viaRouter].forEach((m) => m.dispose());
    // The spy does see initializers when they do run.
    tf.sequential({ layers: [tf.layers.dense({ units: 3, inputShape: [2], kernelInitializer: 'glorotUniform' })] }).dispose();
    expect(apply).toHaveBeenCalledTimes(1);
  } finally {
    apply.mockRestore();
    model.dispose();
  }
});

describe('attacks that used to hang or exhaust memory, run in a child process with bounded time and memory', () => {
  it('missing references, cycles, bad node indices, nesting bombs, huge shapes, /dev/zero, FIFOs', async () => {
    const cases: { dir: string; pattern: RegExp }[] = [];
    const add = async (name: string, pattern: RegExp, change: (modelJson: string) => void) => {
      const modelJson = await savedModel(name);
      change(modelJson);
      cases.push({ dir: path.dirname(modelJson), pattern });
    };
    const editLayers = (edit: (layers: { name: string; inbound_nodes: unknown[][][] }[]) => void) => (modelJson: string) => {
      const json = readJson(modelJson);
      edit(json.modelTopology.config.layers);
      writeJson(modelJson, json);
    };
    const byName = (layers: { name: string }[], name: string) => layers.find((l) => l.name === name) as unknown as { inbound_nodes: unknown[][][] };
    await add('missing-ref', /model '.*': layer 'bn' inbound node 0 input 0 refers to layer 'ghost', which does not exist/,
      editLayers((layers) => { byName(layers, 'bn').inbound_nodes[0][0][0] = 'ghost'; }));
    await add('cycle', /the layer graph has a cycle \(d1 -> d2 -> bn -> d1\)|has a cycle/,
      editLayers((layers) => { byName(layers, 'd1').inbound_nodes[0][0][0] = 'd2'; }));
    await add('node-index', /refers to node 3 of layer 'd1', which has only 1 node\(s\)/,
      editLayers((layers) => { byName(layers, 'bn').inbound_nodes[0][0][1] = 3; }));
    await add('nesting-bomb', /nests arrays\/objects more than 128 levels deep/,
      (modelJson) => fs.writeFileSync(modelJson, '['.repeat(20_000_000)));
    await add('huge-shape', /layer 'd1' creates weight 'kernel' of shape \[20000,20000\] \(400000000 values\) from its config, more than the weights manifest provides \(42 values/,
      editLayers((layers) => {
        const [input, d1] = layers as unknown as { config: Record<string, unknown> }[];
        input.config['batch_input_shape'] = [null, 20000];
        d1.config['units'] = 20000;
      }));
    await add('dev-zero-link', /weights.bin: is listed in .* but does not resolve to a file inside/, (modelJson) => {
      fs.rmSync(path.join(path.dirname(modelJson), 'weights.bin'));
      fs.symlinkSync('/dev/zero', path.join(path.dirname(modelJson), 'weights.bin'));
    });
    await add('dev-zero-path', /does not resolve to a file inside/, (modelJson) => {
      const json = readJson(modelJson);
      json.weightsManifest[0].paths = ['../'.repeat(30) + 'dev/zero'];
      writeJson(modelJson, json);
    });
    await add('fifo-shard', /weights.bin: is a FIFO \(named pipe\); expected a weight shard listed in .* \(only regular files are read\)/,
      (modelJson) => {
        fs.rmSync(path.join(path.dirname(modelJson), 'weights.bin'));
        execFileSync('mkfifo', [path.join(path.dirname(modelJson), 'weights.bin')]);
      });
    await add('fifo-model-json', /model.json: is a FIFO \(named pipe\); expected a TensorFlow.js layers model.json/, (modelJson) => {
      fs.rmSync(modelJson);
      execFileSync('mkfifo', [modelJson]);
    });
    const child = spawnSync(process.execPath, ['--max-old-space-size=300', '-r', 'ts-node/register/transpile-only',
      path.join(__dirname, 'helpers', 'hostile_child.ts'), ...cases.map((c) => path.join(c.dir, 'model.json'))],
    { cwd: path.join(__dirname, '..'), encoding: 'utf8', timeout: 90_000, env: { ...process.env, TS_NODE_PROJECT: 'tsconfig.json' } });
    const lines = child.stdout.trim().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
    expect({ status: child.status, signal: child.signal, stderr: child.stderr.slice(-2000), done: lines.length })
      .toEqual({ status: 0, signal: null, stderr: expect.anything(), done: cases.length + 1 });
    for (const [i, c] of cases.entries()) {
      const r = lines[i];
      expect(r.load).toEqual({ name: 'ModelFileError', message: expect.stringMatching(c.pattern) });
      expect(r.router).toEqual(r.load);
      expect(r.cli.code).toBe(2);
      expect(r.cli.stderr).toMatch(c.pattern);
      expect(r.leaked).toBe(0);
      // Each attack fails within seconds (generous for a shared machine).
      expect(r.ms).toBeLessThan(5000);
      expect(fs.existsSync(path.join(c.dir, 'out'))).toBe(false);
    }
    // tfjs and ts-node take ~200-300 MB; the huge shape alone used to allocate 1.6 GB.
    expect(lines[cases.length].maxRssMB).toBeLessThan(700);
  });
});
