/**
 * Saving into a folder that already holds things: what is kept (other files, subfolders, links,
 * permissions, a symlinked folder), concurrent saves, and crash safety: a child process killed
 * with SIGKILL after every step of a save, and at random moments, always leaves a model that
 * loads as the old or the new one, and the next save cleans up what the killed one left.
 */
import { execFileSync, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as ts from 'typescript';
import * as tf from '@tensorflow/tfjs';
import { loadModel, saveModel } from '../src';
import { cleanUp, tempDir } from './fixtures/helpers';

let root: string;
beforeEach(() => { root = tempDir('tfjs-bn-save-'); });
afterEach(() => { cleanUp(root); });

/** A tiny model whose every weight equals `value`, so a load tells which save it came from. */
function modelOf(value: number): tf.LayersModel {
  const model = tf.sequential({ layers: [tf.layers.dense({ units: 2, inputShape: [3] })] });
  model.setWeights(model.getWeights().map((w) => tf.fill(w.shape, value)));
  return model;
}

async function savedValue(dir: string): Promise<number> {
  const model = await loadModel(dir);
  const values = new Set(model.getWeights().flatMap((w) => Array.from(w.dataSync())));
  model.dispose();
  expect(values.size).toBe(1);
  return [...values][0];
}

const entries = (dir: string) => fs.readdirSync(dir).sort();
const ourLeftovers = (dir: string) => entries(dir).filter((n) => n.startsWith('.tfjs-batchnorm-'));

/** A folder with a model of `value`, metadata.json, a subfolder and a relative link. */
async function populated(value: number): Promise<string> {
  const dir = path.join(root, 'net');
  const model = modelOf(value);
  await saveModel(model, dir);
  model.dispose();
  fs.writeFileSync(path.join(dir, 'metadata.json'), '{"labels":["a","b"]}');
  fs.mkdirSync(path.join(dir, 'assets'));
  fs.writeFileSync(path.join(dir, 'assets', 'readme.txt'), 'kept');
  fs.symlinkSync('assets/readme.txt', path.join(dir, 'readme-link'));
  return dir;
}

function expectOthersKept(dir: string): void {
  expect(fs.readFileSync(path.join(dir, 'metadata.json'), 'utf8')).toBe('{"labels":["a","b"]}');
  expect(fs.readFileSync(path.join(dir, 'assets', 'readme.txt'), 'utf8')).toBe('kept');
  expect(fs.readlinkSync(path.join(dir, 'readme-link'))).toBe('assets/readme.txt');
}

describe('saving over a folder', () => {
  it('keeps other entries as they are, swaps the shard name, removes the old shard, leaves nothing of its own', async () => {
    const dir = await populated(1);
    const inode = fs.statSync(path.join(dir, 'assets')).ino;
    for (const value of [2, 3, 4]) {
      const model = modelOf(value);
      await saveModel(model, dir);
      model.dispose();
      const shard = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8')).weightsManifest[0].paths;
      expect(shard).toEqual([value % 2 === 0 ? expect.stringMatching(/^weights-[0-9a-f]{8}\.bin$/) : 'weights.bin']);
      expect(entries(dir)).toEqual(['assets', 'metadata.json', 'model.json', 'readme-link', shard[0]].sort());
      expect(await savedValue(dir)).toBe(value);
    }
    expectOthersKept(dir);
    // The subfolder is the same folder, not a copy.
    expect(fs.statSync(path.join(dir, 'assets')).ino).toBe(inode);
  });

  it('keeps the permissions of the folder and of the model files', async () => {
    const dir = await populated(1);
    fs.chmodSync(dir, 0o700);
    fs.chmodSync(path.join(dir, 'model.json'), 0o600);
    fs.chmodSync(path.join(dir, 'weights.bin'), 0o600);
    const model = modelOf(2);
    await saveModel(model, dir);
    model.dispose();
    const shard = entries(dir).find((n) => /^weights.*\.bin$/.test(n))!;
    expect(fs.statSync(dir).mode & 0o777).toBe(0o700);
    expect(fs.statSync(path.join(dir, 'model.json')).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.join(dir, shard)).mode & 0o777).toBe(0o600);
  });

  it('writes through a symlinked output folder, which stays a link', async () => {
    fs.mkdirSync(path.join(root, 'real'));
    fs.symlinkSync('real', path.join(root, 'out'));
    const model = modelOf(5);
    await saveModel(model, path.join(root, 'out'));
    await saveModel(model, path.join(root, 'out'));
    model.dispose();
    expect(fs.lstatSync(path.join(root, 'out')).isSymbolicLink()).toBe(true);
    expect(fs.readlinkSync(path.join(root, 'out'))).toBe('real');
    expect(entries(path.join(root, 'real'))).toEqual(['model.json', expect.stringMatching(/^weights-[0-9a-f]{8}\.bin$/)]);
    expect(await savedValue(path.join(root, 'real'))).toBe(5);
  });

  it('"." and ".." work as output folders', async () => {
    const sub = path.join(root, 'here', 'sub');
    fs.mkdirSync(sub, { recursive: true });
    const cwd = process.cwd();
    const model = modelOf(6);
    try {
      process.chdir(sub);
      await saveModel(model, '.');
      await saveModel(model, '..');
    } finally {
      process.chdir(cwd);
      model.dispose();
    }
    expect(await savedValue(sub)).toBe(6);
    expect(await savedValue(path.dirname(sub))).toBe(6);
    expect(entries(path.dirname(sub))).toEqual(['model.json', 'sub', 'weights.bin']);
  });

  it('a FIFO named model.json in the output folder does not block the save: it is replaced', async () => {
    const dir = path.join(root, 'out');
    fs.mkdirSync(dir);
    execFileSync('mkfifo', [path.join(dir, 'model.json')]);
    const model = modelOf(8);
    await saveModel(model, dir);
    model.dispose();
    expect(fs.statSync(path.join(dir, 'model.json')).isFile()).toBe(true);
    expect(await savedValue(dir)).toBe(8);
  });

  it('a second save into the same folder while one runs is refused; a lock left by a dead process is taken over', async () => {
    const dir = await populated(1);
    const [a, b] = [modelOf(2), modelOf(3)];
    const results = await Promise.allSettled([saveModel(a, dir), saveModel(b, dir)]);
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    const failed = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(failed.reason.message).toMatch(new RegExp(`another save into ${dir} is running \\(process ${process.pid}\\)`));
    expect([2, 3]).toContain(await savedValue(dir));
    expect(ourLeftovers(dir)).toEqual([]);

    // A lock whose process is gone (a killed save) does not block the next save.
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout;
    fs.writeFileSync(path.join(dir, '.tfjs-batchnorm-save.lock'), dead);
    await saveModel(a, dir);
    expect(await savedValue(dir)).toBe(2);
    expect(ourLeftovers(dir)).toEqual([]);
    [a, b].forEach((m) => m.dispose());
  });
});

it('a failed save (disk full, or a concurrent save) leaks no tensors and leaves no files of its own', async () => {
  const dir = await populated(1);
  const model = modelOf(2);
  const tensors = tf.memory().numTensors;
  const full = async (file: string, data: Uint8Array) => {
    fs.writeFileSync(file, data.subarray(0, data.byteLength >> 1));
    throw new Error('ENOSPC: no space left on device');
  };
  await expect(saveModel(model, dir, { writeFile: full })).rejects.toThrow(/ENOSPC.*was left as it was/);
  await model.save(`file://${dir}`);
  const both = await Promise.allSettled([saveModel(model, dir), saveModel(model, dir)]);
  expect(both.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
  expect(tf.memory().numTensors).toBe(tensors);
  expect(ourLeftovers(dir)).toEqual([]);
  expect(await savedValue(dir)).toBe(2);
  model.dispose();
});

it('puts back a model that an earlier version\'s killed save left in a hidden .<name>.old-* folder, and removes its temp folders', async () => {
  const dir = await populated(1);
  const old = path.join(root, '.net.old-4242-0123abcd');
  fs.renameSync(dir, old);
  fs.mkdirSync(path.join(root, '.net.tmp-4242-89abcdef'));
  fs.writeFileSync(path.join(root, '.net.tmp-4242-89abcdef', 'weights.bin'), Buffer.alloc(64));
  fs.mkdirSync(path.join(root, '.other.tmp-4242-89abcdef'));
  const model = modelOf(2);
  await saveModel(model, dir);
  model.dispose();
  expect(entries(root)).toEqual(['.other.tmp-4242-89abcdef', 'net']);
  expectOthersKept(dir);
  expect(await savedValue(dir)).toBe(2);
});

describe('crash safety: SIGKILL during a save', () => {
  // The child runs saveInPlace compiled to plain JavaScript (no tfjs, no ts-node), so each trial
  // costs tens of milliseconds and 40 trials stay well under the time of one model load.
  let work: string;
  let childScript: string;
  let artifacts: Record<number, { bin: string; json: string }>;

  beforeAll(async () => {
    work = tempDir('tfjs-bn-kill-');
    const source = fs.readFileSync(path.join(__dirname, '..', 'src', 'io', 'save_in_place.ts'), 'utf8');
    const js = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2020 } });
    fs.writeFileSync(path.join(work, 'save_in_place.js'), js.outputText);
    childScript = path.join(work, 'child.js');
    fs.writeFileSync(childScript, `
      const fs = require('fs');
      const { saveInPlace } = require('./save_in_place.js');
      const [dir, loop, ...sources] = process.argv.slice(2);
      const models = sources.map((s) => ({ bin: fs.readFileSync(s + '.bin'), json: fs.readFileSync(s + '.json', 'utf8') }));
      (async () => {
        process.stdout.write('ready\\n');
        for (let i = 0; ; i++) {
          const m = models[i % models.length];
          await saveInPlace(dir, m.bin, (shard) => Buffer.from(m.json.replace('__SHARD__', shard)), { shardName: 'weights.bin' });
          if (loop !== 'loop') break;
        }
      })().catch((e) => { console.error(e); process.exit(3); });`);
    artifacts = {};
    for (const value of [1, 2]) {
      const model = modelOf(value);
      await model.save(tf.io.withSaveHandler(async (a) => {
        const base = path.join(work, `model${value}`);
        fs.writeFileSync(`${base}.bin`, Buffer.from(a.weightData as ArrayBuffer));
        fs.writeFileSync(`${base}.json`, JSON.stringify({ modelTopology: a.modelTopology, format: 'layers-model',
          weightsManifest: [{ paths: ['__SHARD__'], weights: a.weightSpecs }] }));
        artifacts[value] = { bin: `${base}.bin`, json: `${base}.json` };
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }));
      model.dispose();
    }
  });
  afterAll(() => { cleanUp(work); });

  /** After a kill: the model loads as `allowed`, other entries are intact, the next save cleans up. */
  async function checkAfterKill(dir: string, allowed: number[]): Promise<number> {
    const value = await savedValue(dir);
    expect(allowed).toContain(value);
    expectOthersKept(dir);
    const model = modelOf(7);
    await saveModel(model, dir);
    model.dispose();
    expect(await savedValue(dir)).toBe(7);
    const shard = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8')).weightsManifest[0].paths[0];
    expect(entries(dir)).toEqual(['assets', 'metadata.json', 'model.json', 'readme-link', shard].sort());
    return value;
  }

  const STEPS = ['locked', 'recovered', 'journal', 'shard-written', 'shard-renamed', 'json-written', 'json-renamed',
    'old-removed', 'done'];

  it.each(STEPS.map((s, i) => [s, i]))('killed right after step "%s": the old model before the rename of model.json, the new one after',
    async (step, index) => {
      const dir = await populated(1);
      // Every other step over a model whose shard has a fresh name rather than weights.bin.
      if ((index as number) % 2 === 1) {
        const m = modelOf(1);
        await saveModel(m, dir);
        m.dispose();
        expect(fs.existsSync(path.join(dir, 'weights.bin'))).toBe(false);
      }
      const child = spawnSync(process.execPath, [childScript, dir, 'once', artifacts[2].bin.replace(/\.bin$/, '')],
        { env: { ...process.env, TFJS_BATCHNORM_SAVE_KILL_AFTER: step as string }, encoding: 'utf8' });
      expect({ signal: child.signal, stderr: child.stderr }).toEqual({ signal: 'SIGKILL', stderr: '' });
      const committed = STEPS.indexOf(step as string) >= STEPS.indexOf('json-renamed');
      expect(await checkAfterKill(dir, [committed ? 2 : 1])).toBe(committed ? 2 : 1);
    });

  it('killed at 32 random moments of repeated saves: always the old or the new model, cleaned by the next save', async () => {
    const dir = await populated(1);
    const seen = new Set<number>();
    let seed = 12345;
    const random = () => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648; };
    for (let trial = 0; trial < 32; trial++) {
      const child = spawn(process.execPath, [childScript, dir, 'loop', artifacts[1].bin.replace(/\.bin$/, ''),
        artifacts[2].bin.replace(/\.bin$/, '')], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d) => { stderr += d; });
      await new Promise((resolve) => child.stdout.once('data', resolve));
      await new Promise((resolve) => setTimeout(resolve, 2 + random() * 60));
      const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
      child.kill('SIGKILL');
      expect(await exited).toEqual({ code: null, signal: 'SIGKILL' });
      expect(stderr).toBe('');
      seen.add(await checkAfterKill(dir, [1, 2, 7]));
    }
    // The kills landed in both kinds of state (the last model saved was 1 or 2, not only the cleanup save's 7).
    expect([...seen].filter((v) => v !== 7).length).toBeGreaterThan(0);
  });
});
