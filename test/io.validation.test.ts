/**
 * Model files that tfjs loads into a hang, a leak, a raw error, or a model that cannot predict:
 * each must fail at load with a ModelFileError that names the file, the layer and the field, leak
 * no tensor on any path (loadModel, the file:// router, the CLI), and write nothing.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { batchNormalization } from '../src';
import { loadModel, ModelFileError, saveModel } from '../src/io';
import { run } from '../src/cli/run';
import { DEFAULT_MAX_DEPTH } from '../src/io/topology';
import { bundle, jsonLines, runChild } from './fuzz/bundle';
import { cleanUp, tempDir } from './fixtures/helpers';

let root: string;
beforeEach(() => { root = tempDir('tfjs-bn-valid-'); });
afterEach(() => { cleanUp(root); });

interface LayerJson { name: string; class_name: string; config: Record<string, unknown>; inbound_nodes: unknown[][][] }
interface ModelJson {
  modelTopology: { config: { layers: LayerJson[] } };
  weightsManifest: { paths: string[]; weights: { name: string; shape: number[]; dtype: string }[] }[];
  trainingConfig?: unknown;
}

/** x -> Dense d1 -> BatchNormalization bn -> Dense d2, saved in root/<name>; returns its model.json. */
async function saved(name = 'm'): Promise<string> {
  const input = tf.input({ shape: [3], name: 'x' });
  const h = tf.layers.dense({ units: 4, name: 'd1' }).apply(input) as tf.SymbolicTensor;
  const n = batchNormalization({ name: 'bn' }).apply(h) as tf.SymbolicTensor;
  const y = tf.layers.dense({ units: 2, name: 'd2' }).apply(n) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: y });
  await saveModel(model, path.join(root, name));
  model.dispose();
  return path.join(root, name, 'model.json');
}

const readJson = (file: string): ModelJson => JSON.parse(fs.readFileSync(file, 'utf8'));
const writeJson = (file: string, json: unknown) => fs.writeFileSync(file, JSON.stringify(json));
const layer = (json: ModelJson, name: string) => json.modelTopology.config.layers.find((l) => l.name === name)!;

async function edited(edit: (json: ModelJson) => void): Promise<string> {
  const file = await saved();
  const json = readJson(file);
  edit(json);
  writeJson(file, json);
  return file;
}

/** Renames layer `from` to `to` everywhere: its entry, its config, references to it, its weights. */
function rename(json: ModelJson, from: string, to: string): void {
  for (const l of json.modelTopology.config.layers) {
    if (l.name === from) { l.name = to; l.config['name'] = to; }
    for (const node of l.inbound_nodes) for (const ref of node) if (ref[0] === from) ref[0] = to;
  }
  for (const w of json.weightsManifest[0].weights) w.name = w.name.replace(new RegExp(`^${from}/`), `${to}/`);
}

/** Overwrites the float32 values of weight `name` in the model's single shard. */
function setWeight(file: string, name: string, values: number[]): void {
  const json = readJson(file);
  let offset = 0;
  for (const w of json.weightsManifest[0].weights) {
    if (w.name === name) break;
    offset += 4 * w.shape.reduce((a, b) => a * b, 1);
  }
  const shard = path.join(path.dirname(file), json.weightsManifest[0].paths[0]);
  const bytes = fs.readFileSync(shard);
  Buffer.from(new Float32Array(values).buffer).copy(bytes, offset);
  fs.writeFileSync(shard, bytes);
}

/** The load error through loadModel, the file:// router and the CLI: the same ModelFileError, no leak, nothing written. */
async function loadError(file: string): Promise<string> {
  const tensors = tf.memory().numTensors;
  const error = await loadModel(file).then(() => null, (e: Error) => e);
  expect(error).toBeInstanceOf(ModelFileError);
  expect(tf.memory().numTensors).toBe(tensors);
  const viaRouter = await tf.loadLayersModel(`file://${file}`).then(() => null, (e: Error) => e);
  expect(viaRouter).toBeInstanceOf(ModelFileError);
  expect(viaRouter!.message).toBe(error!.message);
  expect(tf.memory().numTensors).toBe(tensors);
  let stderr = '';
  const out = path.join(root, 'out');
  const code = await run(['verify', file, file], { stdout: () => undefined, stderr: (t) => { stderr += t; } });
  expect({ code, stderr }).toEqual({ code: 2, stderr: `tfjs-batchnorm: error: ${error!.message}\n` });
  expect(await run(['fold', file, out], { stdout: () => undefined, stderr: () => undefined })).toBe(2);
  expect(fs.existsSync(out)).toBe(false);
  expect(tf.memory().numTensors).toBe(tensors);
  expect(error!.message.startsWith(`${file}: `)).toBe(true);
  return error!.message.slice(file.length + 2);
}

describe('training configs: validated before tfjs sees them, no leak through the router', () => {
  const expected = 'expected {"loss": a loss tfjs knows, "optimizer_config": {"class_name": an optimizer tfjs knows, ' +
    '"config": {...}}}, or no trainingConfig (it is used only to resume training).';
  it.each([
    ['"x"', 'x', `"trainingConfig" is "x"; ${expected}`],
    ['[]', [], `"trainingConfig" is []; ${expected}`],
    ['an optimizer_config without class_name', { loss: 'mse', optimizer_config: {} },
      `"trainingConfig.optimizer_config" is {}; ${expected}`],
    ['a numeric loss', { loss: 3, optimizer_config: { class_name: 'Adam', config: {} } },
      `"trainingConfig.loss" is 3; ${expected}`],
    ['an unknown optimizer', { loss: 'mean_squared_error', optimizer_config: { class_name: 'NoSuchOptimizer', config: {} } },
      `"trainingConfig" (loss "mean_squared_error", optimizer "NoSuchOptimizer") cannot be loaded: unknown optimizer ` +
      `NoSuchOptimizer; ${expected}`],
  ])('%s', async (_, config, message) => {
    expect(await loadError(await edited((json) => { json.trainingConfig = config; }))).toBe(message);
  });

  it('an unknown loss', async () => {
    const file = await edited((json) => {
      json.trainingConfig = { loss: 'no_such_loss', optimizer_config: { class_name: 'Adam', config: {} } };
    });
    expect(await loadError(file)).toMatch(/^"trainingConfig" \(loss "no_such_loss", optimizer "Adam"\) cannot be loaded: /);
  });

  it('a valid training config still compiles the loaded model, both ways', async () => {
    const file = await edited((json) => {
      json.trainingConfig = { loss: 'mean_squared_error', optimizer_config: { class_name: 'SGD', config: { learning_rate: 0.1 } } };
    });
    for (const model of [await loadModel(file), await tf.loadLayersModel(`file://${file}`)]) {
      expect(model.optimizer?.getClassName()).toBe('SGD');
      model.dispose();
    }
  });
});

describe('layer names', () => {
  it('a name tfjs does not accept ("\\u0000"): the layer and the name in the message, no tensor leaked', async () => {
    const file = await edited((json) => rename(json, 'd1', '\u0000'));
    expect(await loadError(file)).toBe('layers[1].name is "\\u0000"; expected a name tfjs accepts: a letter or digit, ' +
      "then letters, digits, '-', '_', '.' or '/'.");
  });

  it.each(['constructor', 'toString', 'hasOwnProperty', 'valueOf'])('%s, a property of every object', async (name) => {
    const file = await edited((json) => rename(json, 'd1', name));
    expect(await loadError(file)).toBe(`layers[1].name is "${name}", the name of a property every JavaScript object ` +
      'has, which tfjs cannot use as a layer name; expected another name.');
  });

  it('__proto__', async () => {
    expect(await loadError(await edited((json) => rename(json, 'd1', '__proto__')))).toMatch(/^layers\[1\]\.name is "__proto__"; expected a name tfjs accepts/);
  });
});

it('an initializer or constraint field naming a layer class (tfjs would construct the layer and call it)', async () => {
  let file = await edited((json) => { layer(json, 'd2').config['kernel_initializer'] = 'GroupNormalization'; });
  expect(await loadError(file)).toBe('layer "d2" (Dense): config.kernel_initializer is "GroupNormalization"; expected an ' +
    'initializer tfjs has (a name such as "glorot_uniform", or {"class_name", "config"}).');
  cleanUp(path.dirname(file));
  file = await edited((json) => { layer(json, 'd2').config['bias_constraint'] = { class_name: 'GroupNormalization', config: {} }; });
  expect(await loadError(file)).toBe('layer "d2" (Dense): config.bias_constraint is {"class_name":"GroupNormalization",' +
    '"config":{}}; expected a constraint tfjs has (a name such as "non_neg", or {"class_name", "config"}).');
});

it('extra inbound inputs: the layer and the field, no [object Object]', async () => {
  const file = await edited((json) => { layer(json, 'bn').inbound_nodes[0].push(['x', 0, 0, {}]); });
  expect(await loadError(file)).toBe("is not a loadable layers model: layer 'bn' takes 1 input(s), but its inbound_nodes " +
    'entry in the file connects 2; expected as many references as the layer takes inputs.');
});

describe('weights validated on load', () => {
  it('a negative moving_variance: the layer, the field, how many and the first', async () => {
    const file = await saved();
    setWeight(file, 'bn/moving_variance', [1, -0.5, 2, -3]);
    expect(await loadError(file)).toBe("layer 'bn' (TfjsBatchNormalization): weight 'moving_variance' has 2 of 4 values " +
      'below 0 (the first at index 1: -0.5); expected values >= 0, as a variance or standard deviation is.');
  });

  it.each([['gamma', NaN, 'NaN'], ['moving_mean', Infinity, 'Infinity'], ['beta', -Infinity, '-Infinity']])(
    'a normalization weight with %s = %s is refused even with allowNonFiniteWeights', async (field, value, shown) => {
      const file = await saved();
      setWeight(file, `bn/${field}`, [0, 0, value as number, 0]);
      const message = `layer 'bn' (TfjsBatchNormalization): weight '${field}' has 1 of 4 values NaN or infinite (the first ` +
        `at index 2: ${shown}); expected finite numbers.`;
      expect(await loadError(file)).toBe(message);
      await expect(loadModel(file, { allowNonFiniteWeights: true })).rejects.toThrow(message);
    });

  it('another layer\'s NaN is refused by default, accepted with allowNonFiniteWeights', async () => {
    const file = await saved();
    setWeight(file, 'd2/bias', [NaN, 1]);
    expect(await loadError(file)).toBe("layer 'd2' (Dense): weight 'bias' has 1 of 2 values NaN or infinite (the first at " +
      'index 0: NaN); expected finite numbers (loadModel and fileSystem accept them with the allowNonFiniteWeights option).');
    const model = await loadModel(file, { allowNonFiniteWeights: true });
    expect(Array.from(model.getLayer('d2').getWeights()[1].dataSync())).toEqual([NaN, 1]);
    model.dispose();
  });

  it('a manifest dtype other than the one the layer creates', async () => {
    const file = await edited((json) => { json.weightsManifest[0].weights.find((w) => w.name === 'd2/bias')!.dtype = 'int32'; });
    expect(await loadError(file)).toBe('the weights manifest does not match the model: weight "d2/bias" has dtype int32 ' +
      'in the manifest, but the layer creates it as float32.');
  });

  it('a shard listed twice in one group is refused before anything is read', async () => {
    const file = await edited((json) => { json.weightsManifest[0].paths.push(`./${json.weightsManifest[0].paths[0]}`); });
    expect(await loadError(file)).toBe('weightsManifest[0].paths[1] lists the shard "./weights.bin" again (as ' +
      'weightsManifest[0].paths[0] does); expected each shard listed once.');
  });
});

describe('inputs and activations the model could not run', () => {
  it('a rank-7 batch_input_shape', async () => {
    const file = await edited((json) => { layer(json, 'x').config['batch_input_shape'] = [null, 1, 1, 1, 1, 1, 3]; });
    expect(await loadError(file)).toBe('layer "x" (InputLayer): config.batch_input_shape [null,1,1,1,1,1,3] gives inputs of ' +
      'rank 7 (batch included); tfjs runs models on inputs of rank 1 to 6.');
  });

  it('a rank-6 input still loads and predicts', async () => {
    const model = tf.sequential({ layers: [tf.layers.dense({ units: 2, inputShape: [1, 1, 1, 1, 3] })] });
    await saveModel(model, path.join(root, 'r6'));
    model.dispose();
    const loaded = await loadModel(path.join(root, 'r6'));
    const y = loaded.predict(tf.ones([2, 1, 1, 1, 1, 3])) as tf.Tensor;
    expect(y.shape).toEqual([2, 1, 1, 1, 1, 2]);
    tf.dispose(y);
    loaded.dispose();
  });

  it('a RepeatVector of n = 3e8: the layer, its output shape and the size in words', async () => {
    const dir = path.join(root, 'rv');
    fs.mkdirSync(dir);
    const file = path.join(dir, 'model.json');
    writeJson(file, { modelTopology: { class_name: 'Sequential', config: { name: 's', layers: [
      { class_name: 'RepeatVector', config: { name: 'rv', n: 3e8, batch_input_shape: [null, 4] } }] } }, weightsManifest: [] });
    expect(await loadError(file)).toBe("layer 'rv' (RepeatVector) outputs shape [null,300000000,4]: 1200000000 values " +
      '(4.5 GiB as float32) per sample, more than the limit of 268435456 (raise it with the maxActivationValues option); ' +
      'there would not be memory to run it.');
  });
});

describe('hangs: each in a child process with a time limit', () => {
  it('two layers with one config.name under different outer names; an empty inbound node; an initializer scale that is a list', async () => {
    const dupe = await edited((json) => { layer(json, 'd2').config['name'] = 'd1'; });
    fs.renameSync(path.dirname(dupe), path.join(root, 'dupe'));
    const empty = await edited((json) => { layer(json, 'bn').inbound_nodes = [[]]; });
    fs.renameSync(path.dirname(empty), path.join(root, 'empty'));
    // The loader runs no initializer, but fold rebuilds the model, and tfjs's truncated normal loops on NaN.
    const scale = await edited((json) => {
      (layer(json, 'd2').config['kernel_initializer'] as { config: Record<string, unknown> }).config['scale'] = [1, 1];
    });
    const files = [path.join(root, 'dupe', 'model.json'), path.join(root, 'empty', 'model.json'), scale];
    const script = bundle(path.join(__dirname, 'helpers', 'hostile_child.ts'));
    try {
      const child = await runChild(script, files, 60_000);
      expect({ code: child.code, signal: child.signal }).toEqual({ code: 0, signal: null });
      const lines = jsonLines<{ load: { name: string; message: string }; router: unknown; cli: { code: number }; leaked: number }>(child.stdout);
      expect(lines[0].load).toEqual({ name: 'ModelFileError', message: expect.stringMatching(new RegExp(`^${files[0]}: ` +
        "model '\\w+': layers\\[3\\] is named 'd2' but its config names it \"d1\"; expected the same name in both\\.$")) });
      expect(lines[1].load).toEqual({ name: 'ModelFileError', message: expect.stringMatching(new RegExp(`^${files[1]}: ` +
        "model '\\w+': layer 'bn': inbound node 0 is empty; expected at least one reference \\[layer_name, node_index, " +
        'tensor_index\\]\\.$')) });
      expect(lines[2].load).toEqual({ name: 'ModelFileError', message: `${files[2]}: layer "d2" (Dense): kernel_initializer ` +
        'is a VarianceScaling initializer with scale [1,1]; expected a positive number.' });
      for (const line of lines.slice(0, 3)) {
        expect(line.router).toEqual(line.load);
        expect(line.cli.code).toBe(2);
        expect(line.leaked).toBe(0);
      }
    } finally {
      cleanUp(path.dirname(script));
    }
  });
});

describe('the depth limit is what loads and predicts', () => {
  function chain(kind: 'functional' | 'sequential', n: number): string {
    const dir = path.join(root, `${kind}-${n}`);
    fs.mkdirSync(dir);
    let topology: unknown;
    if (kind === 'functional') {
      const layers: unknown[] = [{ class_name: 'InputLayer', name: 'in', config: { name: 'in', batch_input_shape: [null, 2] }, inbound_nodes: [] }];
      for (let i = 0; i < n; i++) {
        layers.push({ class_name: 'Activation', name: `a${i}`, config: { name: `a${i}`, activation: 'relu' },
          inbound_nodes: [[[i === 0 ? 'in' : `a${i - 1}`, 0, 0, {}]]] });
      }
      topology = { class_name: 'Model', config: { name: 'f', layers, input_layers: [['in', 0, 0]], output_layers: [[`a${n - 1}`, 0, 0]] } };
    } else {
      const layers = Array.from({ length: n }, (_, i) => ({ class_name: 'ReLU',
        config: { name: `r${i}`, ...(i === 0 ? { batch_input_shape: [null, 2] } : {}) } }));
      topology = { class_name: 'Sequential', config: { name: 's', layers } };
    }
    writeJson(path.join(dir, 'model.json'), { modelTopology: topology, weightsManifest: [] });
    return path.join(dir, 'model.json');
  }

  it.each(['functional', 'sequential'] as const)('a %s chain at the limit loads and predicts; one more layer is refused', async (kind) => {
    const tensors = tf.memory().numTensors;
    const model = await loadModel(chain(kind, DEFAULT_MAX_DEPTH));
    const x = tf.tensor2d([[-1, 2]]);
    const y = model.predict(x) as tf.Tensor;
    expect(Array.from(y.dataSync())).toEqual([0, 2]);
    tf.dispose([x, y]);
    model.dispose();
    expect(tf.memory().numTensors).toBe(tensors);
    const over = chain(kind, DEFAULT_MAX_DEPTH + 1);
    const message = `${over}: has a chain of more than ${DEFAULT_MAX_DEPTH} layers one after another (nested models ` +
      'included), the limit for one model (raise it with the maxDepth option); tfjs recurses along such chains and ' +
      'would overflow the call stack when building or running the model.';
    await expect(loadModel(over)).rejects.toThrow(message);
    await expect(tf.loadLayersModel(`file://${over}`)).rejects.toThrow(message);
    expect(tf.memory().numTensors).toBe(tensors);
  });
});

it('a nested model called twice (shared weights) loads and predicts as saved: its second call is not taken for a cycle', async () => {
  const inner = tf.sequential({ name: 'inner', layers: [tf.layers.dense({ inputShape: [3], units: 3, name: 'id' })] });
  const input = tf.input({ shape: [3], name: 'outer_in' });
  const twice = inner.apply(inner.apply(input)) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: twice, name: 'outer' });
  await saveModel(model, path.join(root, 'shared'));
  const x = tf.tensor2d([[1, -2, 3]]);
  for (const loaded of [await loadModel(path.join(root, 'shared')), await tf.loadLayersModel(`file://${root}/shared/model.json`)]) {
    const [want, got] = [model.predict(x) as tf.Tensor, loaded.predict(x) as tf.Tensor];
    expect(Array.from(got.dataSync())).toEqual(Array.from(want.dataSync()));
    tf.dispose([want, got]);
    loaded.dispose();
  }
  x.dispose();
  model.dispose();
});
