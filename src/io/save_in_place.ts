/**
 * Crash-safe saving into a model folder, in place. The new weight shard is written under a name
 * the current model.json does not use, model.json is then replaced by one atomic rename, and only
 * then are the old shards removed. A kill at any moment therefore leaves a model.json that
 * names complete shards: the old model or the new one. Everything else in the folder (other
 * files, subfolders, symbolic links, the folder's own permissions, a symlinked folder) is left as
 * it is. A small journal lists the files a save may leave behind; the next save removes them.
 *
 * Steps, in order (each name is a point the fault-injection hook can stop at):
 *   locked, recovered, journal, shard-written, shard-renamed, json-written, json-renamed,
 *   old-removed, done.
 */
import * as fs from 'fs';
import * as path from 'path';
import { randomBytes } from 'crypto';

/** Writes one file completely and flushes it to disk. Injectable so tests can fail a write. */
export type WriteFile = (file: string, data: Uint8Array) => Promise<void>;

export const MODEL_JSON = 'model.json';
/** Names this module uses for its own files; nothing else in a folder starts with it. */
const PREFIX = '.tfjs-batchnorm-';
const JOURNAL = `${PREFIX}save-journal.json`;
const LOCK = `${PREFIX}save.lock`;
const TEMP_SUFFIX = '.tmp';

/**
 * Test hook: when the environment variable names a step, the process kills itself with SIGKILL
 * right after that step, as a crash or `kill -9` would.
 */
export const KILL_AFTER_ENV = 'TFJS_BATCHNORM_SAVE_KILL_AFTER';

function reached(step: string): void {
  if (process.env[KILL_AFTER_ENV] === step) process.kill(process.pid, 'SIGKILL');
}

/**
 * Default WriteFile: create (failing if the file exists), write, fsync, close.
 *
 * Usage: `await writeFileDurably('/tmp/x/model.json', bytes);`
 */
export async function writeFileDurably(file: string, data: Uint8Array): Promise<void> {
  const handle = await fs.promises.open(file, 'wx');
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** fsync on a directory makes renames inside it durable; not every platform allows it. */
async function syncDirectory(dir: string): Promise<void> {
  let handle: fs.promises.FileHandle | undefined;
  try {
    handle = await fs.promises.open(dir, 'r');
    await handle.sync();
  } catch {
    // Windows cannot open directories; the rename is still atomic there, just not flushed.
  } finally {
    await handle?.close();
  }
}

async function statOrNull(p: string, follow = true): Promise<fs.Stats | null> {
  try {
    return follow ? await fs.promises.stat(p) : await fs.promises.lstat(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

/** A plain file name in the folder itself: the only kind of shard a save creates or removes. */
function isPlainName(p: unknown): p is string {
  return typeof p === 'string' && p !== '' && p !== '.' && p !== '..' && !/[/\\]/.test(p);
}

/** Largest model.json or journal a save reads from the target folder. */
const MAX_READ_BYTES = 64 * 1024 * 1024;

/**
 * The text of `file` if it is a regular file of at most MAX_READ_BYTES (a FIFO or device placed
 * in the output folder must not block or flood the save), else null.
 */
async function readSmallFile(file: string): Promise<string | null> {
  const stat = await statOrNull(file);
  if (stat == null || !stat.isFile() || stat.size > MAX_READ_BYTES) return null;
  return fs.promises.readFile(file, 'utf8');
}

/** The shards the folder's model.json lists (plain names only), or [] if there is none. */
async function referencedShards(dir: string): Promise<string[]> {
  try {
    const json = JSON.parse((await readSmallFile(path.join(dir, MODEL_JSON))) ?? '{}') as
      { weightsManifest?: { paths?: unknown[] }[] };
    return (json.weightsManifest ?? []).flatMap((g) => g.paths ?? []).filter(isPlainName);
  } catch {
    return [];
  }
}

/** Removes `name` from `dir` if it is a regular file (never a folder or a link's target). */
async function removeFile(dir: string, name: string): Promise<void> {
  const stat = await statOrNull(path.join(dir, name), false);
  if (stat?.isFile()) await fs.promises.rm(path.join(dir, name), { force: true });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes the folder's save lock; a lock left by a process that no longer runs is taken over. */
async function lock(dir: string): Promise<() => Promise<void>> {
  const file = path.join(dir, LOCK);
  for (let attempt = 0; ; attempt++) {
    try {
      await fs.promises.writeFile(file, String(process.pid), { flag: 'wx' });
      return () => fs.promises.rm(file, { force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw e;
    }
    const pid = Number(await fs.promises.readFile(file, 'utf8').catch(() => ''));
    if (Number.isInteger(pid) && pid > 0 && isAlive(pid)) {
      throw new Error(`another save into ${dir} is running (process ${pid}); expected one save at a time. ` +
        `If no save is running, remove ${file}.`);
    }
    await fs.promises.rm(file, { force: true });
  }
}

/**
 * Removes what an interrupted save left: temp files, and every file the journal lists that the
 * current model.json does not reference.
 */
async function recover(dir: string): Promise<void> {
  const journal = path.join(dir, JOURNAL);
  let listed: unknown[] = [];
  try {
    const parsed: unknown = JSON.parse((await readSmallFile(journal)) ?? '[]');
    if (Array.isArray(parsed)) listed = parsed;
  } catch {
    // No journal, or one cut short before any new file existed: nothing to remove.
  }
  if (listed.length > 0) {
    const keep = new Set(await referencedShards(dir));
    for (const name of listed.filter(isPlainName)) {
      if (!keep.has(name) && name !== MODEL_JSON) await removeFile(dir, name);
    }
  }
  for (const name of await fs.promises.readdir(dir)) {
    if (name.startsWith(PREFIX) && name.endsWith(TEMP_SUFFIX)) await removeFile(dir, name);
  }
  await fs.promises.rm(journal, { force: true });
}

/**
 * Earlier versions of this package saved by renaming whole folders: a kill could leave the old
 * model only in a hidden sibling `.<name>.old-<pid>-<hex>` and a temp folder `.<name>.tmp-<pid>-<hex>`.
 * If the target is missing and exactly one such old folder exists, it is put back; temp folders
 * are removed.
 */
async function recoverFolderRenames(target: string): Promise<void> {
  const parent = path.dirname(path.resolve(target));
  const base = path.basename(path.resolve(target));
  let names: string[];
  try {
    names = await fs.promises.readdir(parent);
  } catch {
    return;
  }
  const pattern = (tag: string) => new RegExp(`^\\.${base.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.${tag}-\\d+-[0-9a-f]{8}$`);
  const old = names.filter((n) => pattern('old').test(n));
  for (const n of names.filter((x) => pattern('tmp').test(x))) {
    await fs.promises.rm(path.join(parent, n), { recursive: true, force: true });
  }
  if (old.length === 1 && (await statOrNull(target, false)) == null) {
    await fs.promises.rename(path.join(parent, old[0]), target);
  }
}

/** The permission bits of `name` in `dir`, or null if it does not exist. */
async function modeOf(dir: string, name: string | undefined): Promise<number | null> {
  if (name == null) return null;
  const stat = await statOrNull(path.join(dir, name));
  return stat?.isFile() ? stat.mode & 0o7777 : null;
}

/**
 * After the commit: removes the old shards and the journal. The new model is in place whatever
 * happens here, so a failure only leaves files that the next save removes (they are in the journal).
 */
async function finish(target: string, oldShards: string[]): Promise<void> {
  try {
    await syncDirectory(target);
    reached('json-renamed');
    for (const name of oldShards) await removeFile(target, name);
    reached('old-removed');
    await fs.promises.rm(path.join(target, JOURNAL), { force: true });
    await syncDirectory(target);
    reached('done');
  } catch {
    // Leftovers only; see above.
  }
}

export interface InPlaceOptions {
  writeFile?: WriteFile;
  /** Name of the single shard the new model uses when the current one does not use it. */
  shardName?: string;
}

/**
 * Saves a model into folder `target`: `weights` as one shard and the model.json that
 * `modelJsonFor(shardName)` returns, crash-safely (see the module comment). Creates `target`
 * (and missing parents) if needed; a failed first save removes what it created.
 *
 * Usage: `await saveInPlace('models/net', weightBytes, (shard) => jsonBytesListing(shard));`
 */
export async function saveInPlace(target: string, weights: Uint8Array, modelJsonFor: (shard: string) => Uint8Array,
  options: InPlaceOptions = {}): Promise<void> {
  const writeFile = options.writeFile ?? writeFileDurably;
  await recoverFolderRenames(target);
  const existing = await statOrNull(target);
  if (existing != null && !existing.isDirectory()) {
    throw new Error(`${target} exists and is not a directory; expected a directory to save the model into.`);
  }
  const created = existing == null ? await fs.promises.mkdir(target, { recursive: true }) : undefined;
  let unlock: (() => Promise<void>) | null = null;
  const temps: string[] = [];
  let newShard: string | null = null;
  let shardRenamed = false;
  let committed = false;
  try {
    unlock = await lock(target);
    reached('locked');
    await recover(target);
    reached('recovered');
    const old = await referencedShards(target);
    const preferred = options.shardName ?? 'weights.bin';
    newShard = old.includes(preferred) ? `${path.parse(preferred).name}-${randomBytes(4).toString('hex')}.bin` : preferred;
    const jsonMode = await modeOf(target, MODEL_JSON);
    const shardMode = (await modeOf(target, old[0])) ?? jsonMode;
    // Listed before they exist: whatever of these the next save finds unreferenced is a leftover.
    await writeFile(path.join(target, JOURNAL), Buffer.from(JSON.stringify([...old, newShard])));
    reached('journal');

    const tempName = () => `${PREFIX}${process.pid}-${randomBytes(6).toString('hex')}${TEMP_SUFFIX}`;
    const shardTemp = path.join(target, tempName());
    temps.push(shardTemp);
    await writeFile(shardTemp, weights);
    if (shardMode != null) await fs.promises.chmod(shardTemp, shardMode);
    reached('shard-written');
    await fs.promises.rename(shardTemp, path.join(target, newShard));
    shardRenamed = true;
    reached('shard-renamed');

    const jsonTemp = path.join(target, tempName());
    temps.push(jsonTemp);
    await writeFile(jsonTemp, modelJsonFor(newShard));
    if (jsonMode != null) await fs.promises.chmod(jsonTemp, jsonMode);
    reached('json-written');
    // The shard's rename must be on disk before model.json points at it.
    await syncDirectory(target);
    await fs.promises.rename(jsonTemp, path.join(target, MODEL_JSON));
    committed = true;
    await finish(target, old.filter((name) => name !== newShard && name !== MODEL_JSON));
  } catch (e) {
    if (!committed) {
      await Promise.all(temps.map((t) => fs.promises.rm(t, { force: true })));
      if (shardRenamed && newShard != null) await removeFile(target, newShard);
      if (unlock != null) await fs.promises.rm(path.join(target, JOURNAL), { force: true });
    }
    await unlock?.();
    unlock = null;
    if (created != null && !committed) await fs.promises.rm(created, { recursive: true, force: true });
    throw e;
  } finally {
    await unlock?.();
  }
}
