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
import { loadModel, saveModel } from '../src/io';
import { createHash } from 'crypto';
import * as os from 'os';
import { cleanUp, snapshot, tempDir } from './fixtures/helpers';

/** How the save lock names this host (the first 8 hex digits of the SHA-256 of its name). */
const hostTag = () => createHash('sha256').update(os.hostname()).digest('hex').slice(0, 8);

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

const JOURNAL = '.tfjs-batchnorm-save-journal.json';
const entries = (dir: string) => fs.readdirSync(dir).sort();
/** Files of this package's own other than the journal a save keeps (temp files, locks). */
const ourLeftovers = (dir: string) => entries(dir).filter((n) => n.startsWith('.tfjs-batchnorm-') && n !== JOURNAL);
const shardOf = (dir: string): string => JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8')).weightsManifest[0].paths[0];
const HASHED = /^weights-[0-9a-f]{16}\.bin$/;

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
  it('keeps other entries, names each new shard by its content, keeps the previous model\'s shard until the next save', async () => {
    const dir = await populated(1);
    const inode = fs.statSync(path.join(dir, 'assets')).ino;
    let previous = 'weights.bin';
    for (const value of [2, 3, 4]) {
      const model = modelOf(value);
      await saveModel(model, dir);
      model.dispose();
      const shard = shardOf(dir);
      expect(shard).toMatch(HASHED);
      // Two shards: the new model's, and the one a reader of the model just replaced may still open.
      expect(entries(dir)).toEqual([JOURNAL, 'assets', 'metadata.json', 'model.json', 'readme-link', shard, previous].sort());
      expect(await savedValue(dir)).toBe(value);
      previous = shard;
    }
    // Equal weights, equal name: saving the same model again adds no shard.
    const again = modelOf(4);
    await saveModel(again, dir);
    again.dispose();
    expect(shardOf(dir)).toBe(previous);
    expect(entries(dir).filter((n) => n.endsWith('.bin'))).toEqual([previous]);
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
    // The second save writes under the content name and keeps weights.bin, the replaced model's shard.
    expect(entries(path.join(root, 'real'))).toEqual([JOURNAL, 'model.json', expect.stringMatching(HASHED), 'weights.bin']);
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

  it('a second save into the same folder while one runs waits for it; a lock whose process is gone is taken over', async () => {
    const dir = await populated(1);
    const [a, b] = [modelOf(2), modelOf(3)];
    await Promise.all([saveModel(a, dir), saveModel(b, dir)]);
    // Both saved, one after the other (either may take the lock first): the folder holds the
    // later one, and the earlier one's shard for readers that read its model.json.
    const last = await savedValue(dir);
    expect([2, 3]).toContain(last);
    expect(fs.readdirSync(dir).filter((n) => /^weights-[0-9a-f]{16}\.bin$/.test(n))).toHaveLength(2);
    expect(ourLeftovers(dir)).toEqual([]);

    // A lock whose process is gone (a killed save) does not block the next save.
    const dead = Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout);
    const lockDir = path.join(dir, '.tfjs-batchnorm-save-lock');
    fs.mkdirSync(lockDir);
    fs.writeFileSync(path.join(lockDir, `owner-${dead}-${hostTag()}-1700000000000-0123456789ab`), '');
    await saveModel(a, dir, { lockTimeoutMs: 2000 });
    expect(await savedValue(dir)).toBe(2);
    expect(ourLeftovers(dir)).toEqual([]);
    [a, b].forEach((m) => m.dispose());
  });

  it('a lock held by a live process, or by one on another host, is never taken over: the save times out and writes nothing', async () => {
    const dir = await populated(1);
    const model = modelOf(2);
    const dead = Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout);
    const lockDir = path.join(dir, '.tfjs-batchnorm-save-lock');
    for (const [owner, who] of [[`${process.ppid}-${hostTag()}`, `process ${process.ppid} on this host`],
      [`${dead}-00000000`, `process ${dead} on another host`]]) {
      fs.mkdirSync(lockDir);
      const ownerFile = path.join(lockDir, `owner-${owner}-1700000000000-0123456789ab`);
      fs.writeFileSync(ownerFile, '');
      const before = snapshot(dir);
      const error = await saveModel(model, dir, { lockTimeoutMs: 300 }).catch((e: Error) => e);
      expect((error as Error).message).toBe(`Saving the model to ${dir} failed (another save into ${dir} has held its lock ` +
        `for more than 0 s (${who}); expected one save at a time. If no save is running, remove the folder ${lockDir}.); ` +
        `${dir} was left as it was.`);
      expect(snapshot(dir)).toEqual(before);
      fs.rmSync(lockDir, { recursive: true });
    }
    model.dispose();
  });

  it('a failed first save removes only its own files: a folder another process has written into stays', async () => {
    const dir = path.join(root, 'new', 'net');
    const model = modelOf(2);
    const full = async (file: string, data: Uint8Array) => {
      // Meanwhile another process puts its file into the folder this save created.
      fs.writeFileSync(path.join(dir, 'theirs.txt'), 'theirs');
      fs.writeFileSync(file, data.subarray(0, 1));
      throw new Error('ENOSPC: no space left on device');
    };
    await expect(saveModel(model, dir, { writeFile: full })).rejects.toThrow(/ENOSPC/);
    expect(entries(dir)).toEqual(['theirs.txt']);
    // Alone, a failed first save leaves nothing: not even the folders it made.
    const other = path.join(root, 'alone', 'net');
    await expect(saveModel(model, other, { writeFile: async () => { throw new Error('EIO'); } })).rejects.toThrow(/EIO/);
    expect(fs.existsSync(path.join(root, 'alone'))).toBe(false);
    model.dispose();
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
  await Promise.all([saveModel(model, dir), saveModel(model, dir)]);
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

  /**
   * After a kill: the model loads as `allowed`, other entries are intact, the next save cleans up
   * (it keeps only its own shard and the one of the model it replaced).
   */
  async function checkAfterKill(dir: string, allowed: number[]): Promise<number> {
    const value = await savedValue(dir);
    expect(allowed).toContain(value);
    expectOthersKept(dir);
    const replaced = shardOf(dir);
    const model = modelOf(7);
    await saveModel(model, dir);
    model.dispose();
    expect(await savedValue(dir)).toBe(7);
    const shard = shardOf(dir);
    // The journal names the replaced model's shard for the save after this one to remove.
    const journal = replaced === shard ? [] : [JOURNAL];
    expect(entries(dir)).toEqual([...new Set([...journal, 'assets', 'metadata.json', 'model.json', 'readme-link', shard, replaced])].sort());
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
        // Twice: the second save removes weights.bin, the shard of the model before the first.
        await saveModel(m, dir);
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
