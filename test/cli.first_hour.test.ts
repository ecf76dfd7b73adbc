/**
 * What a new user meets in the CLI's first hour: progress while a synchronous backend computes,
 * `verify` comparing logits rather than saturated softmax outputs, no silent overwrite, output
 * paths that cannot be made failing at once, `--version`, `inspect`, `--json` everywhere, install
 * hints, and exit codes that mean what they say (non-zero: nothing written).
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { foldSpeedHint } from '../src/cli/run';
import { saveModel } from '../src/io';
import { batchNormalization } from '../src/layer/batch_normalization';
import { cleanUp, snapshot, tempDir, TM_DIR, TM_JSON } from './fixtures/helpers';
import { cli, cliWith } from './support/cli';

let root: string;
beforeAll(async () => {
  await tf.setBackend('cpu');
  root = tempDir('tfjs-bn-cli-hour-');
});
afterAll(() => cleanUp(root));

/**
 * A classifier shaped like Teachable Machine's (a nested base, then a nested head) whose output
 * saturates: hidden values in [1, 9] times head weights of +-100 give logits hundreds apart.
 * `nudge` changes one head weight of the class that never wins: its logit moves, its
 * probability stays 0.
 */
async function classifier(name: string, ending: 'softmax' | 'sigmoid-layer', nudge = 0): Promise<string> {
  const hidden = tf.layers.dense({ units: 8, inputShape: [4], name: 'features', kernelInitializer: 'ones', biasInitializer: tf.initializers.constant({ value: 5 }) });
  const base = tf.sequential({ name: 'base', layers: [hidden, tf.layers.reLU()] });
  const head = ending === 'softmax'
    ? tf.sequential({ name: 'head', layers: [tf.layers.dense({ units: 3, inputShape: [8], activation: 'softmax', name: 'scores' })] })
    : tf.sequential({ name: 'head', layers: [tf.layers.dense({ units: 3, inputShape: [8], name: 'scores' }), tf.layers.activation({ activation: 'sigmoid' })] });
  const model = tf.sequential({ layers: [base, head] });
  const kernel = Array.from({ length: 8 }, () => [100, -100, -100]);
  kernel[0][2] += nudge;
  head.layers[0].setWeights([tf.tensor2d(kernel), tf.zeros([3])]);
  const dir = path.join(root, name);
  await saveModel(model, dir);
  model.dispose();
  return path.join(dir, 'model.json');
}

async function bnModel(name: string): Promise<string> {
  const model = tf.sequential({ layers: [
    tf.layers.dense({ units: 6, useBias: false, inputShape: [5] }), batchNormalization(), tf.layers.dense({ units: 2 }),
  ] });
  const dir = path.join(root, name);
  await saveModel(model, dir);
  model.dispose();
  return path.join(dir, 'model.json');
}

describe('verify compares what matters', () => {
  it.each(['softmax', 'sigmoid-layer'] as const)('a %s classifier: saturated outputs agree, the logits do not: MISMATCH, with a warning', async (ending) => {
    const a = await classifier(`${ending}-a`, ending);
    const b = await classifier(`${ending}-b`, ending, 1e-3);
    const r = await cli('verify', a, b, '--runs', '1', '--json');
    expect(r.code).toBe(1);
    const result = JSON.parse(r.stdout);
    const activation = ending === 'softmax' ? 'softmax' : 'sigmoid';
    expect(result.compared).toHaveLength(1);
    expect(result.compared[0].name).toBe(`${result.outputs[0].name} (logits, before ${activation})`);
    // Hidden values are at least 1, so the nudged logit moves by at least 1e-3.
    expect(result.compared[0].maxAbsDiff).toBeGreaterThanOrEqual(1e-3 * 0.999);
    expect(result.outputs[0].maxAbsDiff).toBeLessThan(1e-6);
    expect(result.ok).toBe(false);
    expect(r.stderr).toMatch(new RegExp(`warning: output '${result.outputs[0].name}' of a is saturated in 2 of 2 sample\\(s\\) .*; the logits were compared`));

    const text = await cli('verify', a, b, '--runs', '1', '--quiet');
    expect(text.stdout).toMatch(/compared \(rel diff = abs diff \/ max \|a\|\):\n {2}\S+ \(logits, before \w+\): max abs diff \d\.\d{3}e-\d+, max rel diff \S+\noutputs:\n {2}\S+: max abs diff/);
    expect(text.stdout).toMatch(/MISMATCH/);
  });

  it('--layer compares a named layer (nested models included); an unknown name suggests the close ones', async () => {
    const a = path.join(root, 'softmax-a', 'model.json');
    const b = path.join(root, 'softmax-b', 'model.json');
    const r = await cli('verify', a, b, '--layer', 'features', '--runs', '1', '--json');
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result.compared).toEqual([{ name: "layer 'features'", shape: [2, 8], maxAbsDiff: 0, maxRelDiff: 0 }]);
    const typo = await cli('verify', a, b, '--layer', 'featurs');
    expect(typo.code).toBe(2);
    expect(typo.stderr).toBe("tfjs-batchnorm: error: model a has no layer named 'featurs' (did you mean `features`?)\n");
  });

  it('a model that predicts NaN is an error (exit 2), not a mismatch', async () => {
    const model = tf.sequential({ layers: [tf.layers.dense({ units: 2, inputShape: [3] })] });
    model.layers[0].setWeights([tf.tensor2d([[NaN, 1], [1, 1], [1, 1]]), tf.zeros([2])]);
    const dir = path.join(root, 'nan');
    await saveModel(model, dir);
    model.dispose();
    const file = path.join(dir, 'model.json');
    const r = await cli('verify', file, file, '--runs', '1');
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    // Refused when the weights are read, or else when the predictions are checked: never a mismatch.
    expect(r.stderr).toMatch(/^tfjs-batchnorm: error: (model a's output '\w+' holds NaN or Infinity on the seeded input|.*weight 'kernel' has 1 of 6 values NaN)/);
  });

  it('progress advances while the model runs synchronously on cpu, a line at most every 2 s; --quiet silences it', async () => {
    const a = await bnModel('progress-a');
    let clock = 0;
    const now = () => (clock += 1000); // every reading is a second later: each layer run is "slow"
    const r = await cliWith({ progress: { now } }, 'verify', a, a, '--runs', '2');
    expect(r.code).toBe(0);
    const lines = r.stderr.trim().split('\n');
    const counts = lines.map((l) => /^tfjs-batchnorm: comparing and timing \(batch 2, 2 run\(s\)\): (\d+)\/(\d+) layer runs \(\d+\.\d s\)\.\.\.$/.exec(l));
    expect(counts.every((m) => m != null)).toBe(true);
    // 3 layers per model, 2 models, 1 comparison + 2 timed runs: 18 layer runs, drawn while they happen.
    expect(counts.map((m) => Number(m![2]))).toEqual(counts.map(() => 18));
    const done = counts.map((m) => Number(m![1]));
    expect(done.some((n) => n > 0 && n < 18)).toBe(true);
    expect(done).toEqual([...done].sort((x, y) => x - y));
    const quiet = await cliWith({ progress: { now } }, 'verify', a, a, '--runs', '2', '--quiet');
    expect(quiet.code).toBe(0);
    expect(quiet.stderr).toBe('');
  });
});

describe('no silent overwrite; impossible outputs fail at once; non-zero exit means nothing written', () => {
  it('fold and convert refuse the input\'s own folder and an existing model, unless --force', async () => {
    const input = await bnModel('keep-me');
    const dir = path.dirname(input);
    const before = snapshot(dir);
    for (const args of [['fold', input, dir], ['convert', input, dir, '--to', 'stock'], ['fold', input, path.join(dir, '.')]]) {
      const r = await cli(...args);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/^tfjs-batchnorm: error: refusing to write into .*: it is the input model's folder, and the new model would replace .* for good; give another folder, or --force to replace it\n$/);
      expect(snapshot(dir)).toEqual(before);
    }
    const out = path.join(root, 'keep-me-folded');
    expect((await cli('fold', input, out, '--no-timing')).code).toBe(0);
    const folded = snapshot(out);
    const again = await cli('convert', input, out, '--to', 'stock');
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/refusing to overwrite the model in .* \(it holds a model\.json\); give a new folder, or --force to replace it/);
    expect(snapshot(out)).toEqual(folded);
    const forced = await cli('convert', input, out, '--to', 'stock', '--force');
    expect(forced.code).toBe(0);
    expect(snapshot(out)).not.toEqual(folded);
  });

  it.each([
    ['/proc/tfjs-bn-nope', /cannot create \/proc\/tfjs-bn-nope: \/proc is on the proc file system, where no folder can be created/],
    ['/sys/tfjs-bn-nope/deeper', /cannot create \/sys\/tfjs-bn-nope\/deeper: \/sys is on the sysfs file system/],
    ['FILE/sub', /cannot create .*\/weights\.bin\/sub: .*\/weights\.bin is not a folder/],
    ['FILE', /cannot write the model into .*weights\.bin: it exists and is not a folder/],
  ])('an output %s that cannot be made fails within seconds, naming why, with nothing written', async (target, message) => {
    const input = path.join(root, 'keep-me', 'model.json');
    const out = target.replace('FILE', path.join(root, 'keep-me', 'weights.bin'));
    const before = snapshot(root);
    const start = Date.now();
    const r = await cli('fold', input, out, '--no-timing');
    expect(Date.now() - start).toBeLessThan(5000);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(message);
    expect(snapshot(root)).toEqual(before);
  });

  it('a failed load creates no output folder', async () => {
    const out = path.join(root, 'never', 'made');
    const r = await cli('fold', path.join(root, 'missing', 'model.json'), out);
    expect(r.code).toBe(2);
    expect(fs.existsSync(path.join(root, 'never'))).toBe(false);
  });

  it('a dangling metadata.json link in the output is kept with a warning; the command succeeds (exit 0 = written)', async () => {
    const out = path.join(root, 'dangling');
    fs.mkdirSync(out);
    fs.symlinkSync(path.join(root, 'nowhere.json'), path.join(out, 'metadata.json'));
    const r = await cli('convert', TM_JSON, out, '--to', 'custom', '--json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ copied: ['LICENSE', 'SOURCE.md'], skipped: [{ name: 'metadata.json' }], notCopied: [] });
    expect(r.stderr).toBe('tfjs-batchnorm: warning: did not copy metadata.json from beside the input model: the output folder has its own, which is kept\n');
    expect(fs.readlinkSync(path.join(out, 'metadata.json'))).toBe(path.join(root, 'nowhere.json'));
    expect(fs.existsSync(path.join(out, 'model.json'))).toBe(true);
  });
});

describe('a CLI that feels finished', () => {
  it('--version names this package\'s version and tfjs\'s', async () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8'));
    const r = await cli('--version');
    expect(r).toEqual({ code: 0, stdout: `tfjs-batchnorm ${pkg.version} (@tensorflow/tfjs ${tf.version.tfjs})\n`, stderr: '' });
  });

  it('inspect says what the Teachable Machine model holds, as text and as JSON', async () => {
    const r = await cli('inspect', TM_JSON);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('format:         TF.js layers model (model.json + 1 weight shard(s))\n');
    expect(r.stdout).toContain('written by:     tfjs-layers 1.7.4 (backend tensor_flow.js)\n');
    expect(r.stdout).toContain('normalization:  52 layer(s), 52 of them fold\n');
    expect(r.stdout).toMatch(/\n {2}\S+\/bn_Conv1 {2}BatchNormalization {2}axis -?\d {2}folds into Conv1 \(Conv2D\)\n/);
    expect(r.stdout).toContain('labels:         Battery, biological, brown-glass');
    const json = JSON.parse((await cli('inspect', TM_JSON, '--json')).stdout);
    expect(json.normalization).toHaveLength(52);
    expect(json.normalization.every((n: { folds: boolean; className: string }) => n.folds && n.className === 'BatchNormalization')).toBe(true);
    expect(json.weightBytes).toBe(fs.statSync(path.join(TM_DIR, 'weights.bin')).size);
    expect(json.parameters).toBeGreaterThan(100000);
    expect(json.layerClasses.BatchNormalization).toBe(52);
  });

  it('--json on every command gives one JSON object on stdout', async () => {
    const input = await bnModel('json-in');
    const fold = JSON.parse((await cli('fold', input, path.join(root, 'json-fold'), '--json', '--runs', '1')).stdout);
    expect(fold).toMatchObject({ command: 'fold', folded: 1, kept: [], timing: { backend: 'cpu', batch: 1, runs: 1 } });
    expect(fold.timing.msPerBatchOriginal).toBeGreaterThan(0);
    const convert = JSON.parse((await cli('convert', input, path.join(root, 'json-convert'), '--to', 'stock', '--json')).stdout);
    expect(convert).toMatchObject({ command: 'convert', to: 'stock', converted: { batchNormalization: 1 } });
    const inspect = JSON.parse((await cli('inspect', input, '--json')).stdout);
    expect(inspect.normalization).toEqual([expect.objectContaining({ className: 'TfjsBatchNormalization', folds: true })]);
  });

  // npm test runs this file before test:tensorflow installs tfjs-node; a clone where an earlier run
  // installed it gets the other branch, which checks that the backend is then used.
  it('a missing backend names the exact npm command', async () => {
    const input = path.join(root, 'json-in', 'model.json');
    const r = await cli('inspect', input, '--backend', 'tensorflow');
    if (tfjsNodeResolves()) {
      expect(r.stderr).not.toContain('needs the package');
      expect(r.code).toBe(0);
      return;
    }
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`backend 'tensorflow' needs the package @tensorflow/tfjs-node, which is not installed; install it with \`npm i @tensorflow/tfjs-node@${tf.version_core}\``);
  });

  it('fold hints when the folded model ran slower on the backend measured, and only then', () => {
    expect(foldSpeedHint(1050, 1465, 'cpu', 2)).toMatch(/^hint: on cpu the folded model ran slower here \(1050\.0 -> 1465\.0 ms per batch of 2\).*--backend wasm\)\.$/);
    expect(foldSpeedHint(69, 40, 'wasm', 2)).toBeNull();
    expect(foldSpeedHint(100, 104, 'cpu', 1)).toBeNull(); // within the timing's noise
  });
});

it('the CLI registers every class the package entry registers (Group/InstanceNormalization, Addons> names, ...)', () => {
  // Its own process: nothing else of this package loaded before the CLI.
  const out = execFileSync(process.execPath, ['-r', 'ts-node/register/transpile-only', '-e', `
    const tf = require('@tensorflow/tfjs');
    const names = () => Object.keys(tf.serialization.SerializationMap.getMap().classNameMap);
    const before = names();
    require('./src/cli/run');
    const cli = names();
    require('./src/index');
    console.log(JSON.stringify({ cli: cli.filter((n) => !before.includes(n)), missing: names().filter((n) => !cli.includes(n)) }));`],
  { cwd: path.join(__dirname, '..'), encoding: 'utf8', env: { ...process.env, TS_NODE_TRANSPILE_ONLY: '1' } });
  const { cli: registered, missing } = JSON.parse(out.trim().split('\n').pop()!);
  expect(missing).toEqual([]);
  expect(registered).toEqual(expect.arrayContaining(['TfjsBatchNormalization', 'GroupNormalization', 'Addons>GroupNormalization',
    'InstanceNormalization', 'Addons>InstanceNormalization', 'TfjsLayerNormalization', 'BatchNormalizationV2']));
});

function tfjsNodeResolves(): boolean {
  try {
    require.resolve('@tensorflow/tfjs-node');
    return true;
  } catch {
    return false;
  }
}
