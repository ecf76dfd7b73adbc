/**
 * The fuzz suite's child process: generates seeded cases with fast-check and runs each through
 * loadModel, the file:// router and the CLI under one oracle (see `oracle` below). Run as
 *
 *   node fuzz_worker.js <work dir> <family> <seed> <cases>
 *
 * where family is mutation | shards | paths | layers. Prints `{"start": i, "case": ...}` before
 * each case (so a parent that kills a hung child knows which case hung), `{"done": i}` after it,
 * and a final `{"result": ...}` line: fast-check's verdict with the failing case and its seed.
 */
import '../setup/quiet_tfjs';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as fc from 'fast-check';
import * as tf from '@tensorflow/tfjs';
import { batchNormalization, groupNormalization, layerNormalization } from '../../src';
import { loadModel, saveModel } from '../../src/io';
import { run } from '../../src/cli/run';

const print = (line: unknown) => process.stdout.write(`${JSON.stringify(line)}\n`);

// ---- What the code under test opens ----

const opened: string[] = [];
function record(p: unknown): void {
  if (typeof p === 'string') opened.push(path.resolve(p));
  else if (Buffer.isBuffer(p)) opened.push(path.resolve(p.toString('utf8')));
  else if (p instanceof URL) opened.push(p.pathname);
}
type AnyFn = (...args: unknown[]) => unknown;
function spy(target: Record<string, unknown>, names: string[]): void {
  for (const name of names) {
    const original = target[name] as AnyFn;
    if (typeof original !== 'function') continue;
    target[name] = function recorded(this: unknown, ...args: unknown[]) {
      record(args[0]);
      return original.apply(this, args);
    };
  }
}
// The module object itself: bundled imports read its properties through getters, so they see these.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const nodeFs = require('fs') as Record<string, unknown>;
spy(nodeFs, ['open', 'openSync', 'readFile', 'readFileSync', 'createReadStream',
  'readdir', 'readdirSync', 'copyFile', 'copyFileSync', 'opendir', 'opendirSync']);
spy(nodeFs['promises'] as Record<string, unknown>, ['open', 'readFile', 'readdir', 'copyFile', 'opendir']);

// ---- The oracle ----

/** Every file and folder under `dir` with its size and kind, to tell whether anything was written. */
function listing(dir: string): string {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      const st = fs.lstatSync(p);
      out.push(`${path.relative(dir, p)}:${st.size}:${st.mode}:${st.mtimeMs}`);
      if (e.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out.sort().join('\n');
}

const protoKeys = () => Object.getOwnPropertyNames(Object.prototype).sort().join(',');
const PROTO = protoKeys();
const PROTO_VALUES = Object.getOwnPropertyNames(Object.prototype).map((k) => (Object.prototype as Record<string, unknown>)[k]);

/** Messages that mean a raw JavaScript error or a tfjs internal reached the user unexplained. */
const UNCLEAR = [/\[object Object\]/, /Cannot read propert/, /is not a function/, /is not iterable/,
  /Maximum call stack/, /undefined or null to object/, /Array buffer allocation failed/, /Invalid typed array length/,
  /Invalid array length/, /^\s*at /m];

type Outcome = { ok: true } | { ok: false; name: string; message: string };

function fail(problem: string): never {
  throw new Error(problem);
}

function checkError(how: string, o: Outcome, file: string): void {
  if (o.ok) return;
  if (o.name !== 'ModelFileError') fail(`${how}: ${o.name} instead of ModelFileError: ${o.message.slice(0, 300)}`);
  if (!o.message.includes(file) && !o.message.startsWith(path.dirname(file))) {
    fail(`${how}: the message names neither model.json nor a file in its folder: ${o.message.slice(0, 300)}`);
  }
  // tfjs's own words are fine when the message says which layer they are about.
  const namesLayer = /: layer "[^"]*" \(\S+\) cannot be built from its config: /.test(o.message);
  const unclear = UNCLEAR.find((re) => re.test(o.message) && (!namesLayer || /\[object Object\]|^\s*at /m.test(o.message)));
  if (unclear != null) fail(`${how}: unclear message (${unclear}): ${o.message.slice(0, 300)}`);
}

/** Zeros of each input's shape: a batch of 1 unless the model fixes it, 2 for every other unknown size. */
function sampleInput(model: tf.LayersModel): tf.Tensor[] {
  return model.inputs.map((i) => tf.zeros(i.shape.map((d, k) => d ?? (k === 0 ? 1 : 2)), i.dtype));
}

/**
 * The oracle for one model folder: loadModel, tf.loadLayersModel('file://') and `fold` either all
 * succeed (and the model predicts) or all fail with the same clear ModelFileError (exit code 2,
 * no output folder); nothing outside the folder is opened, nothing in it changes, no tensor
 * leaks, Object.prototype is untouched.
 */
async function oracle(dir: string): Promise<string> {
  const file = path.join(dir, 'model.json');
  const out = path.join(path.dirname(dir), `${path.basename(dir)}-out`);
  const before = listing(dir);
  const tensors = tf.memory().numTensors;
  tfjsLeaked = 0;
  const realDir = fs.realpathSync(dir);
  opened.length = 0;
  const outcome = async (load: () => Promise<tf.LayersModel>): Promise<Outcome> => {
    let model: tf.LayersModel;
    try {
      model = await load();
    } catch (e) {
      return { ok: false, name: (e as Error).name ?? typeof e, message: (e as Error).message ?? String(e) };
    }
    try {
      // Weights a model can predict with: finite, and no negative variance (refused at load otherwise).
      for (const w of model.weights) {
        const values = w.read().dataSync();
        if (values.some((v) => !Number.isFinite(v))) fail(`the model loaded with a non-finite value in ${w.originalName}`);
        if (/moving_variance|moving_stddev|renorm_stddev/.test(w.originalName) && values.some((v) => v < 0)) {
          fail(`the model loaded with a negative value in ${w.originalName}`);
        }
      }
      const xs = sampleInput(model);
      const beforePredict = tf.memory().numTensors;
      try {
        tf.dispose(model.predict(xs) as tf.Tensor | tf.Tensor[]);
      } catch (e) {
        // What tfjs's predict leaves behind when it throws is tfjs's (the loader is done by then).
        tfjsLeaked += tf.memory().numTensors - beforePredict;
        // A model whose layers fail only when run (tfjs's Softmax on a non-last axis, say) fails
        // in tfjs too; only a model tfjs itself runs must run once loaded.
        if (await tfjsRuns(file)) fail(`the model loaded but predict threw: ${(e as Error).message.slice(0, 300)}`);
        predictFailsAsInTfjs = true;
      } finally {
        tf.dispose(xs);
      }
    } finally {
      model.dispose();
    }
    return { ok: true };
  };
  let predictFailsAsInTfjs = false;
  const direct = await outcome(() => loadModel(file));
  checkError('loadModel', direct, file);
  const routed = await outcome(() => tf.loadLayersModel(`file://${file}`));
  checkError('tf.loadLayersModel', routed, file);
  // The same outcome; a layer without a name gets a fresh generated one (dense_7, dense_8) in each build.
  const same = (o: Outcome) => JSON.stringify(o).replace(/\d+/g, 'N');
  if (same(direct) !== same(routed)) {
    fail(`loadModel and tf.loadLayersModel disagree: ${JSON.stringify(direct).slice(0, 200)} vs ${JSON.stringify(routed).slice(0, 200)}`);
  }
  let stderr = '';
  const code = await run(['fold', file, out], { stdout: () => undefined, stderr: (t) => { stderr += t; } });
  if (code !== 0 && code !== 2) fail(`fold exited ${code}: ${stderr.slice(0, 300)}`);
  if ((code === 0) !== direct.ok) fail(`fold exited ${code} but loadModel ${direct.ok ? 'succeeded' : 'failed'}: ${stderr.slice(0, 300)}`);
  if (/^\s+at /m.test(stderr)) fail(`fold printed a stack trace: ${stderr.slice(0, 300)}`);
  if (code === 2 && fs.existsSync(out)) fail('fold failed but wrote its output folder');
  fs.rmSync(out, { recursive: true, force: true });
  const leaked = tf.memory().numTensors - tensors - tfjsLeaked;
  // tfjs's dispose() keeps the weights of a layer called more than once (each call counts a
  // reference, dispose releases one): a leak that tfjs's own build-and-dispose shows too is tfjs's.
  let sharedLeak = false;
  if (leaked !== 0) {
    sharedLeak = direct.ok && (await tfjsDisposeLeaks(file));
    if (!sharedLeak) fail(`${leaked} tensors leaked`);
  }
  if (protoKeys() !== PROTO || Object.getOwnPropertyNames(Object.prototype).some((k, i) =>
    (Object.prototype as Record<string, unknown>)[k] !== PROTO_VALUES[i])) fail('Object.prototype changed');
  const outside = opened.filter((p) => {
    const real = (() => { try { return fs.realpathSync(p); } catch { return p; } })();
    return !(real === realDir || real.startsWith(`${realDir}${path.sep}`) || p === dir || p.startsWith(`${dir}${path.sep}`) ||
      p === out || p.startsWith(`${out}${path.sep}`) || p === path.dirname(dir));
  });
  if (outside.length > 0) fail(`opened outside the model folder: ${outside.slice(0, 3).join(', ')}`);
  if (listing(dir) !== before) fail('the model folder changed');
  if (!direct.ok) return `refused: ${direct.message.slice(file.length + 2, file.length + 120)}`;
  if (sharedLeak) return 'loaded; dispose leaks shared layers as in tfjs';
  return predictFailsAsInTfjs ? 'loaded; predict fails as in tfjs' : 'loaded';
}

/** Whether tfjs itself, building the file's topology and disposing the model, leaves tensors behind. */
async function tfjsDisposeLeaks(file: string): Promise<boolean> {
  const before = tf.memory().numTensors;
  try {
    const json = JSON.parse(fs.readFileSync(file, 'utf8'));
    (await tf.models.modelFromJSON({ modelTopology: json.modelTopology })).dispose();
  } catch {
    return false;
  }
  return tf.memory().numTensors > before;
}

/** Tensors that tfjs's own build in tfjsRuns left behind (not the loader's to answer for). */
let tfjsLeaked = 0;

/** Whether tfjs itself, from the file's topology with fresh weights, builds the model and runs predict. */
async function tfjsRuns(file: string): Promise<boolean> {
  const before = tf.memory().numTensors;
  let model: tf.LayersModel | null = null;
  try {
    const json = JSON.parse(fs.readFileSync(file, 'utf8'));
    model = await tf.models.modelFromJSON({ modelTopology: json.modelTopology });
    const xs = sampleInput(model);
    try {
      tf.dispose(model.predict(xs) as tf.Tensor | tf.Tensor[]);
    } finally {
      tf.dispose(xs);
    }
    return true;
  } catch {
    return false;
  } finally {
    model?.dispose();
    tfjsLeaked += tf.memory().numTensors - before;
  }
}

// ---- Seed models ----

interface Seed { json: Record<string, unknown>; shards: Map<string, Buffer> }

async function seedModels(work: string): Promise<Seed[]> {
  const models: tf.LayersModel[] = [];
  {
    const input = tf.input({ shape: [3], name: 'x' });
    const h = tf.layers.dense({ units: 4, name: 'd1' }).apply(input) as tf.SymbolicTensor;
    const n = batchNormalization({ name: 'bn' }).apply(h) as tf.SymbolicTensor;
    const y = tf.layers.dense({ units: 2, name: 'd2' }).apply(n) as tf.SymbolicTensor;
    models.push(tf.model({ inputs: input, outputs: y }));
  }
  models.push(tf.sequential({ layers: [
    tf.layers.conv2d({ inputShape: [4, 4, 2], filters: 2, kernelSize: 3, name: 'c' }),
    tf.layers.batchNormalization({ name: 'stock_bn' }),
    tf.layers.flatten({ name: 'f' }),
    tf.layers.dense({ units: 2, name: 'out' }),
  ] }));
  models.push(tf.sequential({ layers: [
    tf.layers.dense({ inputShape: [4], units: 4, name: 'd' }),
    layerNormalization({ name: 'ln' }),
    tf.layers.reshape({ targetShape: [2, 2], name: 'r' }),
    groupNormalization({ groups: 2, name: 'gn' }),
  ] }));
  {
    const inner = tf.sequential({ name: 'inner', layers: [tf.layers.dense({ inputShape: [3], units: 3, name: 'id' }),
      batchNormalization({ name: 'ibn' })] });
    const input = tf.input({ shape: [3], name: 'outer_in' });
    const a = inner.apply(input) as tf.SymbolicTensor;
    const b = tf.layers.add({ name: 'sum' }).apply([a, input]) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: b, name: 'outer' });
    model.compile({ loss: 'meanSquaredError', optimizer: 'sgd' });
    models.push(model);
  }
  const seeds: Seed[] = [];
  for (const [i, model] of models.entries()) {
    const dir = path.join(work, `seed-${i}`);
    await saveModel(model, dir);
    model.dispose();
    const json = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8'));
    const shards = new Map<string, Buffer>();
    for (const g of json.weightsManifest) for (const p of g.paths) shards.set(p, fs.readFileSync(path.join(dir, p)));
    seeds.push({ json, shards });
  }
  return seeds;
}

function writeCase(dir: string, seed: Seed, json: unknown): void {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  for (const [name, bytes] of seed.shards) fs.writeFileSync(path.join(dir, name), bytes);
  fs.writeFileSync(path.join(dir, 'model.json'), typeof json === 'string' ? json : JSON.stringify(json));
}

// ---- Mutations of model.json ----

type JsonPath = (string | number)[];

/** Every path in a JSON value, parents before children. */
function paths(value: unknown, at: JsonPath = [], out: JsonPath[] = []): JsonPath[] {
  out.push(at);
  if (Array.isArray(value)) value.forEach((v, i) => paths(v, [...at, i], out));
  else if (typeof value === 'object' && value != null) for (const [k, v] of Object.entries(value)) paths(v, [...at, k], out);
  return out;
}

function parentOf(root: unknown, p: JsonPath): Record<string | number, unknown> {
  let node = root as Record<string | number, unknown>;
  for (const k of p.slice(0, -1)) node = node[k] as Record<string | number, unknown>;
  return node;
}

const tricky = fc.constantFrom<unknown>(null, -1, 0, 1, 2, 7, 3e8, 1e300, -1e-300, 1.5, '', 'constructor', '__proto__',
  'toString', 'hasOwnProperty', '\u0000', 'a/b', '../x', 'x'.repeat(300), 'float16', 'int32', 'bool', 'uint8', 'complex64',
  'Dense', 'Sequential', 'Model', 'InputLayer', 'NoSuchLayer', 'GroupNormalization', 'TfjsBatchNormalization', true, false,
  [], {}, [[]], [[[]]], [null], [null, 3], [null, 1, 1, 1, 1, 1, 3], [1e9, 1e9], [-1], [0], ['d1', 0, 0], ['d1', 5, 0],
  ['nope', 0, 0], [['x', 0, 0, {}], ['x', 0, 0, {}]], { class_name: 'Dense', config: { units: 2 } },
  { loss: 'no_such_loss', optimizer_config: { class_name: 'Adam', config: {} } }, 'NaN', 'Infinity');

const mutation = fc.record({
  at: fc.nat(),
  op: fc.constantFrom('replace', 'delete', 'duplicate', 'retype', 'swap-with-random', 'rename-layer'),
  value: fc.oneof({ weight: 3, arbitrary: tricky }, { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) }),
});

/** Applies one mutation to a parsed model.json; returns a description. */
function mutate(json: Record<string, unknown>, m: { at: number; op: string; value: unknown }): string {
  const all = paths(json).slice(1);
  const p = all[m.at % all.length];
  const parent = parentOf(json, p);
  const key = p[p.length - 1];
  const where = p.join('.');
  switch (m.op) {
    case 'delete':
      if (Array.isArray(parent)) parent.splice(key as number, 1);
      else delete parent[key];
      return `delete ${where}`;
    case 'duplicate':
      if (Array.isArray(parent)) parent.splice(key as number, 0, structuredClone(parent[key]));
      else parent[key] = [parent[key], parent[key]];
      return `duplicate ${where}`;
    case 'retype': {
      const v = parent[key];
      parent[key] = typeof v === 'number' ? String(v) : typeof v === 'string' ? Number(v.length) : Array.isArray(v) ? { ...v }
        : v != null && typeof v === 'object' ? Object.values(v) : [v];
      return `retype ${where}`;
    }
    case 'rename-layer': {
      // One layer's name, consistently in its entry and config (so the topology stays connected).
      const names = paths(json).filter((q) => q[q.length - 1] === 'name' && typeof parentOf(json, q)['name'] === 'string');
      if (names.length === 0) return 'no names';
      const q = names[m.at % names.length];
      const old = parentOf(json, q)['name'] as string;
      const to = typeof m.value === 'string' ? m.value : JSON.stringify(m.value);
      const text = JSON.stringify(json).split(JSON.stringify(old)).join(JSON.stringify(to));
      Object.assign(json, JSON.parse(text));
      return `rename ${JSON.stringify(old)} to ${JSON.stringify(to)}`;
    }
    default:
      parent[key] = structuredClone(m.value);
      return `set ${where} = ${JSON.stringify(m.value)?.slice(0, 60)}`;
  }
}

// ---- Families ----

interface Case {
  describe: () => string;
  /** Writes the case's model folder; resolves to true when tfjs itself built and ran the model. */
  setUp: (dir: string, seeds: Seed[]) => void | Promise<boolean>;
}

function mutationCases(): fc.Arbitrary<Case> {
  return fc.record({ seed: fc.nat(), mutations: fc.array(mutation, { minLength: 1, maxLength: 3 }) }).map(({ seed, mutations }) => {
    const done: string[] = [];
    return {
      describe: () => `mutation of seed model ${seed % 4}: ${done.join('; ') || JSON.stringify(mutations)}`,
      setUp: (dir, seeds) => {
        const s = seeds[seed % seeds.length];
        const json = structuredClone(s.json);
        done.length = 0;
        for (const m of mutations) done.push(mutate(json, m));
        writeCase(dir, s, json);
      },
    };
  });
}

const OUTSIDE = 'outside.bin';

function shardCases(): fc.Arbitrary<Case> {
  const fault = fc.oneof(
    fc.record({ kind: fc.constant('truncate'), n: fc.nat() }),
    fc.record({ kind: fc.constant('append'), n: fc.integer({ min: 1, max: 64 }) }),
    fc.record({ kind: fc.constant('poke'), n: fc.nat(), value: fc.constantFrom(NaN, Infinity, -Infinity, -1, 1e38, -0) }),
    fc.record({ kind: fc.constantFrom('delete', 'directory', 'fifo', 'link-outside', 'link-dev-zero', 'link-loop',
      'empty', 'split', 'split-missing', 'twice'), n: fc.nat() }),
  );
  return fc.record({ seed: fc.nat(), fault }).map(({ seed, fault: f }) => ({
    describe: () => `shard fault on seed model ${seed % 4}: ${JSON.stringify(f)}`,
    setUp: (dir, seeds) => {
      const s = seeds[seed % seeds.length];
      const json = structuredClone(s.json) as { weightsManifest: { paths: string[] }[] };
      writeCase(dir, s, json);
      const shard = path.join(dir, json.weightsManifest[0].paths[0]);
      const bytes = fs.readFileSync(shard);
      const n = (f as { n: number }).n;
      switch (f.kind) {
        case 'truncate': fs.truncateSync(shard, n % Math.max(1, bytes.length)); break;
        case 'append': fs.appendFileSync(shard, Buffer.alloc(n, 1)); break;
        case 'poke': {
          const at = 4 * (n % Math.floor(bytes.length / 4));
          bytes.writeFloatLE((f as { value: number }).value, at);
          fs.writeFileSync(shard, bytes);
          break;
        }
        case 'delete': fs.rmSync(shard); break;
        case 'empty': fs.writeFileSync(shard, ''); break;
        case 'directory': fs.rmSync(shard); fs.mkdirSync(shard); break;
        case 'fifo': fs.rmSync(shard); execFileSync('mkfifo', [shard]); break;
        case 'link-outside': fs.rmSync(shard); fs.symlinkSync(path.join(path.dirname(dir), OUTSIDE), shard); break;
        case 'link-dev-zero': fs.rmSync(shard); fs.symlinkSync('/dev/zero', shard); break;
        case 'link-loop': fs.rmSync(shard); fs.symlinkSync(path.basename(shard), shard); break;
        case 'twice': json.weightsManifest[0].paths.push(json.weightsManifest[0].paths[0]);
          fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(json)); break;
        default: {
          // Split the shard in two at a random byte; 'split-missing' lists a second part that is not there.
          const cut = n % (bytes.length + 1);
          fs.writeFileSync(shard, bytes.subarray(0, cut));
          fs.writeFileSync(`${shard}.2`, bytes.subarray(cut));
          json.weightsManifest[0].paths.push(`${json.weightsManifest[0].paths[0]}.2`);
          if (f.kind === 'split-missing') fs.rmSync(`${shard}.2`);
          fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(json));
        }
      }
    },
  }));
}

const TRICKS = ['\u0000weights.bin', 'weights.bin\u0000.txt', '%2e%2e/outside.bin', '%2E%2E%2Foutside.bin', '..\\outside.bin',
  'C:\\outside.bin', 'C:/outside.bin', '/proc/self/fd/0', '/proc/self/environ', '../outside.bin', './../outside.bin',
  'sub/../../outside.bin', 'file:///etc/passwd', '//etc/passwd', 'weights.bin/', '.', '..', '', ' ', '%00', '\\\\server\\share\\x',
  '~/outside.bin', '$HOME/outside.bin', 'weights.bin?x=1', 'weights.bin#x', 'http://localhost/x.bin', '../'.repeat(40) + 'dev/zero'];

function pathCases(): fc.Arbitrary<Case> {
  return fc.record({ seed: fc.nat(), trick: fc.constantFrom(...TRICKS), where: fc.constantFrom('replace', 'append', 'prefix') })
    .map(({ seed, trick, where }) => ({
      describe: () => `path trick on seed model ${seed % 4}: ${where} ${JSON.stringify(trick)}`,
      setUp: (dir, seeds) => {
        const s = seeds[seed % seeds.length];
        const json = structuredClone(s.json) as { weightsManifest: { paths: string[] }[] };
        const p = json.weightsManifest[0].paths;
        if (where === 'replace') p[0] = trick;
        else if (where === 'append') p.push(trick);
        else p[0] = `${trick}${p[0]}`;
        writeCase(dir, s, json);
      },
    }));
}

/** A random small Sequential model: built and saved by tfjs when tfjs can build it, else written as JSON. */
function layerCases(): fc.Arbitrary<Case> {
  const dim = fc.oneof({ weight: 6, arbitrary: fc.integer({ min: 1, max: 5 }) }, { weight: 1, arbitrary: fc.constantFrom(0, -1, 1e9, 3e8) });
  const layerConfig = fc.oneof(
    fc.record({ class_name: fc.constant('Dense'), config: fc.record({ units: dim, activation: fc.constantFrom('relu', 'linear', 'softmax', 'nope'), use_bias: fc.boolean() }) }),
    fc.record({ class_name: fc.constantFrom('BatchNormalization', 'TfjsBatchNormalization', 'BatchNormalizationV2', 'SyncBatchNormalization'),
      config: fc.record({ axis: fc.constantFrom(-1, 1, 2, 3, -5, [1, 2], 'x'), momentum: fc.constantFrom(0.99, 0, 1, -1, 2),
        epsilon: fc.constantFrom(0.001, 0, -1, 1e-30), center: fc.boolean(), scale: fc.boolean() }, { requiredKeys: ['axis'] }) }),
    fc.record({ class_name: fc.constantFrom('LayerNormalization', 'TfjsLayerNormalization'),
      config: fc.record({ axis: fc.constantFrom(-1, 1, 2, [1, 2], [], 9), epsilon: fc.constantFrom(0.001, 0, -1) }) }),
    fc.record({ class_name: fc.constantFrom('GroupNormalization', 'InstanceNormalization', 'Addons>GroupNormalization'),
      config: fc.record({ groups: fc.constantFrom(1, 2, 3, 0, -1), axis: fc.constantFrom(-1, 1, 2) }) }),
    fc.record({ class_name: fc.constant('Conv2D'), config: fc.record({ filters: dim, kernel_size: fc.constantFrom(1, 2, 3, [1, 2], 0),
      padding: fc.constantFrom('same', 'valid', 'bogus') }) }),
    fc.record({ class_name: fc.constant('Reshape'), config: fc.record({ target_shape: fc.array(fc.constantFrom(-1, 1, 2, 4, 0), { minLength: 1, maxLength: 7 }) }) }),
    fc.record({ class_name: fc.constant('RepeatVector'), config: fc.record({ n: dim }) }),
    fc.record({ class_name: fc.constantFrom('Flatten', 'ReLU', 'Softmax'), config: fc.constant({}) }),
    fc.record({ class_name: fc.constant('Dropout'), config: fc.record({ rate: fc.constantFrom(0.5, 0, 1, -1) }) }),
  );
  return fc.record({
    input: fc.array(fc.oneof({ weight: 8, arbitrary: fc.integer({ min: 1, max: 4 }) }, { weight: 1, arbitrary: fc.constantFrom(null, 0) }), { minLength: 1, maxLength: 6 }),
    layers: fc.array(layerConfig, { minLength: 1, maxLength: 4 }),
  }).map(({ input, layers }) => {
    let how = '';
    return {
      describe: () => `random layers (${how}): input ${JSON.stringify(input)}, ${JSON.stringify(layers).slice(0, 600)}`,
      setUp: async (dir) => {
        const named = layers.map((l, i) => ({ class_name: l.class_name, config: { ...l.config, name: `l${i}`,
          ...(i === 0 ? { batch_input_shape: [null, ...input] } : {}) } }));
        const topology = { class_name: 'Sequential', config: { name: 'random', layers: named } };
        fs.rmSync(dir, { recursive: true, force: true });
        let model: tf.LayersModel | null = null;
        try {
          // tfjs would allocate (and initialize) whatever the config asks for: only small ones are built.
          if (/\d{5,}/.test(JSON.stringify(layers))) throw new Error('too big to build here');
          model = await tf.models.modelFromJSON({ modelTopology: topology } as never);
          const xs = sampleInput(model);
          try {
            tf.dispose(model.predict(xs) as tf.Tensor);
          } finally {
            tf.dispose(xs);
          }
          await saveModel(model, dir);
          how = 'built, run and saved by tfjs';
          return true;
        } catch {
          // tfjs cannot build or run it: the file still has to fail cleanly.
          fs.rmSync(dir, { recursive: true, force: true });
          fs.mkdirSync(dir, { recursive: true });
          fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify({ modelTopology: topology, format: 'layers-model',
            weightsManifest: [] }));
          how = 'as JSON';
          return false;
        } finally {
          model?.dispose();
        }
      },
    };
  });
}

// ---- Main ----

async function main(): Promise<void> {
  const [work, family, seedText, countText] = process.argv.slice(2);
  const seed = Number(seedText);
  const numRuns = Number(countText);
  tf.enableProdMode();
  const seeds = await seedModels(work);
  // A file the right size outside every case folder: reading it would let a load succeed.
  fs.writeFileSync(path.join(work, OUTSIDE), Buffer.alloc(4096, 0));
  const families: Record<string, () => fc.Arbitrary<Case>> = { mutation: mutationCases, shards: shardCases, paths: pathCases,
    layers: layerCases };
  const arbitrary = families[family]?.();
  if (arbitrary == null) throw new Error(`unknown family ${family}`);
  let index = 0;
  const verdicts = new Map<string, number>();
  const property = fc.asyncProperty(arbitrary, async (c: Case) => {
    const i = index++;
    const dir = path.join(work, 'case');
    print({ start: i, case: c.describe().slice(0, 2000) });
    const runnable = await c.setUp(dir, seeds);
    // What tfjs builds and runs from a file, the loader must load (and the model run).
    const verdict = await oracle(dir);
    const kind = verdict.startsWith('refused') ? 'refused' : verdict;
    if (runnable === true && verdict !== 'loaded') fail(`tfjs builds and runs this model, but the load ${verdict}`);
    verdicts.set(kind, (verdicts.get(kind) ?? 0) + 1);
    print({ done: i });
  });
  const result = await fc.check(property, { seed, numRuns, endOnFailure: true });
  print({ result: { failed: result.failed, numRuns: result.numRuns, seed: result.seed, path: result.counterexamplePath,
    error: result.errorInstance instanceof Error ? result.errorInstance.message : result.errorInstance == null ? null : String(result.errorInstance),
    counterexample: result.counterexample?.[0] != null ? (result.counterexample[0] as Case).describe() : null,
    verdicts: Object.fromEntries(verdicts) } });
}

main().catch((e) => { process.stderr.write(`${(e as Error).stack}\n`); process.exitCode = 3; });
