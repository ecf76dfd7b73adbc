import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { Progress } from '../src/cli/progress';
import { cli } from './support/cli';
import { saveModel } from '../src/io';
import { batchNormalization } from '../src/layer/batch_normalization';
import { writeKerasModel } from './fixtures/keras_format';
import { cleanUp, snapshot, tempDir, TM_JSON } from './fixtures/helpers';


const classNames = (modelJson: string) =>
  [...fs.readFileSync(modelJson, 'utf8').matchAll(/"class_name":\s*"(\w+)"/g)].map((m) => m[1]);
const count = (names: string[], cls: string) => names.filter((n) => n === cls).length;

let root: string;
let keras: string;
beforeEach(() => {
  root = tempDir('tfjs-bn-cli-');
  keras = path.join(root, 'keras', 'model.json');
  writeKerasModel(path.dirname(keras));
});
afterEach(() => { cleanUp(root); });

describe('usage', () => {
  it('prints help for the program and each command, exit 0', async () => {
    const main = await cli('--help');
    expect(main.code).toBe(0);
    expect(main.stdout).toMatch(/Usage: tfjs-batchnorm[\s\S]*convert[\s\S]*fold[\s\S]*verify/);
    for (const command of ['convert', 'fold', 'verify']) {
      const r = await cli(command, '--help');
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`Usage: tfjs-batchnorm ${command} `));
      expect(r.stdout).toMatch(/Example:/);
    }
  });

  it.each([
    [[], /Usage: tfjs-batchnorm/],
    [['bogus'], /unknown command 'bogus'/],
    [['convert', 'a/model.json', 'out'], /required option '--to <kind>' not specified/],
    [['convert', 'a/model.json', 'out', '--to', 'keras'], /argument 'keras' is invalid. Allowed choices are custom, stock/],
    [['fold', 'a/model.json'], /missing required argument 'outDir'/],
    [['verify', 'a', 'b', '--batch', '0'], /--batch <n>' argument '0' is invalid. expected an integer from 1 to 1024/],
    [['verify', 'a', 'b', '--batch', '2000'], /--batch <n>' argument '2000' is invalid. expected an integer from 1 to 1024/],
    [['verify', 'a', 'b', '--runs', '1e9'], /--runs <n>' argument '1e9' is invalid. expected an integer from 1 to 1000/],
    [['verify', 'a', 'b', 'c'], /too many arguments for 'verify'. Expected 2 arguments but got 3/],
    [['fold', 'a', 'b', 'c'], /too many arguments for 'fold'. Expected 2 arguments but got 3/],
    [['convert', 'a', 'b', 'c', '--to', 'stock'], /too many arguments for 'convert'. Expected 2 arguments but got 3/],
    [['fold', 'a', 'b', '--max-model-json-mb', '0'], /expected a number of megabytes > 0/],
    [['verify', 'a', 'b', '--backend', 'constructor'], /unknown backend 'constructor'; expected cpu, wasm, tensorflow/],
    [['verify', 'a', 'b', '--backend', '__proto__'], /unknown backend '__proto__'; expected cpu, wasm, tensorflow/],
    [['verify', 'a', 'b', '--backend', 'toString'], /unknown backend 'toString'; expected cpu, wasm, tensorflow/],
    [['verify', 'a', 'b', '--tol', 'x'], /expected a number >= 0/],
    [['verify', 'a', 'b', '--range', '1,-1'], /expected "min,max" with min < max/],
    [['verify', 'a', 'b', '--backend', 'webgpu'], /unknown backend 'webgpu'/],
  ])('bad usage %j: exit 2, message on stderr', async (argv, message) => {
    const r = await cli(...(argv as string[]));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stdout).toBe('');
  });
});

describe('bad input: exit 2, the file named on stderr, nothing written', () => {
  it.each([
    ['a missing model.json', () => path.join(root, 'nope', 'model.json'), /nope\/model.json: file not found/],
    ['a truncated shard', () => {
      const shard = path.join(root, 'keras', 'group1-shard1of1.bin');
      fs.truncateSync(shard, fs.statSync(shard).size - 3);
      return keras;
    }, /group1-shard1of1.bin: weight data is truncated/],
    ['a graph model', () => {
      fs.writeFileSync(keras, JSON.stringify({ format: 'graph-model', modelTopology: { node: [] }, weightsManifest: [] }));
      return keras;
    }, /model.json: .*graph model/],
  ])('%s', async (_name, makeInput, message) => {
    const input = makeInput();
    const out = path.join(root, 'out');
    fs.mkdirSync(out);
    fs.writeFileSync(path.join(out, 'keep.txt'), 'previous contents');
    const before = snapshot(root);
    for (const argv of [['convert', input, out, '--to', 'stock'], ['fold', input, out], ['verify', input, keras]]) {
      const r = await cli(...argv);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/^tfjs-batchnorm: error: /);
      expect(r.stderr).toMatch(message);
      expect(snapshot(root)).toEqual(before);
    }
  });
});

describe('commands on a Keras-converter model (quantized, axis lists, trainable false, ReLU max_value)', () => {
  it('convert --to custom, then --to stock', async () => {
    const custom = path.join(root, 'custom');
    const r = await cli('convert', keras, custom, '--to', 'custom');
    expect(r).toEqual({ code: 0, stdout: `Converted 3 BatchNormalization layer(s) to custom; wrote ${custom}/model.json\n`, stderr: '' });
    expect(count(classNames(path.join(custom, 'model.json')), 'TfjsBatchNormalization')).toBe(3);
    const stock = path.join(root, 'stock');
    expect((await cli('convert', path.join(custom, 'model.json'), stock, '--to', 'stock')).code).toBe(0);
    const names = classNames(path.join(stock, 'model.json'));
    expect(count(names, 'BatchNormalization')).toBe(3);
    expect(count(names, 'TfjsBatchNormalization')).toBe(0);
    const v = await cli('verify', keras, path.join(stock, 'model.json'), '--json', '--runs', '1');
    expect(v.code).toBe(0);
    expect(JSON.parse(v.stdout).maxAbsDiff).toBeLessThan(1e-5);
  });

  it('fold, then verify: exit 0 within --tol, 1 outside', async () => {
    const folded = path.join(root, 'folded');
    const r = await cli('fold', keras, folded, '--runs', '1');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^Folded 3 of 3 BatchNormalization layer\\(s\\); wrote ${folded}/model.json\\n` +
      'time per batch: +original \\d+\\.\\d ms, folded \\d+\\.\\d ms \\(cpu, batch 1, median of 1\\)\\n$'));
    const names = classNames(path.join(folded, 'model.json'));
    expect(names.filter((n) => /BatchNormalization/.test(n))).toEqual([]);
    expect(count(names, 'Add')).toBe(1);

    const v = await cli('verify', keras, path.join(folded, 'model.json'), '--batch', '3', '--seed', '5', '--range', '-4,4',
      '--runs', '1', '--json');
    expect(v.code).toBe(0);
    const result = JSON.parse(v.stdout);
    expect(result).toMatchObject({ ok: true, batch: 3, seed: 5, tol: 1e-4, inputShapes: [[3, 8, 8, 3]], backend: 'cpu' });
    expect(result.maxAbsDiff).toBeLessThan(1e-5);
    expect(result.msPerBatchA).toBeGreaterThan(0);
    expect(result.msPerBatchB).toBeGreaterThan(0);

    // A tolerance below the float32 rounding of folding fails: verify really compares.
    const strict = await cli('verify', keras, path.join(folded, 'model.json'), '--tol', '0', '--runs', '1');
    expect(strict.code).toBe(1);
    expect(strict.stdout).toMatch(/max abs diff: +\d\.\d{3}e-\d+[\s\S]*MISMATCH: max abs diff exceeds tolerance 0/);
  });

  it('verify exits 1 for a model whose weights differ, 2 for models with different inputs', async () => {
    const changed = path.join(root, 'changed');
    fs.cpSync(path.dirname(keras), changed, { recursive: true });
    const shard = path.join(changed, 'group1-shard1of1.bin');
    const bytes = fs.readFileSync(shard);
    bytes[0] ^= 0xff; // a different uint8 level for one conv kernel weight
    fs.writeFileSync(shard, bytes);
    const r = await cli('verify', keras, path.join(changed, 'model.json'), '--runs', '1');
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/time per batch: +a \d+\.\d ms, b \d+\.\d ms \(cpu, median of 1\)/);
    expect(r.stdout).toMatch(/MISMATCH/);

    const other = path.join(root, 'other');
    const model = tf.sequential({ layers: [tf.layers.dense({ units: 5, inputShape: [7] })] });
    await saveModel(model, other);
    model.dispose();
    const mismatch = await cli('verify', keras, path.join(other, 'model.json'));
    expect(mismatch.code).toBe(2);
    expect(mismatch.stderr).toMatch(/the models take different inputs: \[\[2,8,8,3\]\] vs \[\[2,7\]\]/);
  });
});

it('convert --to stock warns on stderr about a BN on a non-last axis', async () => {
  const model = tf.sequential({ layers: [
    tf.layers.conv2d({ filters: 3, kernelSize: 1, dataFormat: 'channelsFirst', inputShape: [2, 4, 4] }), batchNormalization({ axis: 1 }),
  ] });
  const input = path.join(root, 'cf');
  await saveModel(model, input);
  model.dispose();
  const r = await cli('convert', path.join(input, 'model.json'), path.join(root, 'cf-stock'), '--to', 'stock');
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/^Converted 1 BatchNormalization layer/);
  expect(r.stderr).toMatch(/^tfjs-batchnorm: warning: .*normalizes axis 1 of a rank-4 input/);
});

it('fold + verify on the Teachable Machine model', async () => {
  const folded = path.join(root, 'tm-folded');
  const r = await cli('fold', TM_JSON, folded, '--no-timing');
  expect(r.stdout).toMatch(/^Folded 52 of 52 BatchNormalization layer\(s\)/);
  const v = await cli('verify', TM_JSON, path.join(folded, 'model.json'), '--batch', '1', '--runs', '1', '--json');
  expect(v.code).toBe(0);
  expect(JSON.parse(v.stdout).maxAbsDiff).toBeLessThan(1e-4);
});

it('the bin wrapper sets the process exit code and writes errors to stderr', () => {
  const main = path.join(__dirname, '..', 'src', 'cli', 'main.ts');
  const p = spawnSync(process.execPath, ['-r', 'ts-node/register/transpile-only', main, 'fold', path.join(root, 'none.json'), root],
    { cwd: path.join(__dirname, '..'), encoding: 'utf8' });
  expect(p.status).toBe(2);
  expect(p.stdout).toBe('');
  expect(p.stderr).toMatch(/none.json: file not found/);
});

it('a slow async step says what it is doing on stderr every 2 s while it runs, and nothing once it is done', async () => {
  // Fake timers (and clock): the test does not depend on how busy the machine is.
  jest.useFakeTimers();
  try {
    let stderr = '';
    const progress = new Progress({ stderr: (t: string) => { stderr += t; } }, { everyMs: 100 });
    let finish!: (v: number) => void;
    const pending = progress.during('loading m/model.json', () => new Promise<number>((r) => { finish = r; }));
    jest.advanceTimersByTime(250);
    finish(42);
    expect(await pending).toBe(42);
    jest.advanceTimersByTime(1000);
    expect(stderr).toBe('tfjs-batchnorm: loading m/model.json (0.1 s)...\ntfjs-batchnorm: loading m/model.json (0.2 s)...\n');
    stderr = '';
    await progress.during('quick', async () => 1);
    jest.advanceTimersByTime(1000);
    expect(stderr).toBe('');
  } finally {
    jest.useRealTimers();
  }
});
