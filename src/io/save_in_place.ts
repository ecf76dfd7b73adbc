/**
 * Saving into a model folder in place, safely under crashes and under concurrent savers and
 * readers.
 *
 * - One save at a time per folder. The lock is a directory that appears in one atomic rename,
 *   already holding a file whose name says who owns it (process id, host, start time), so nobody
 *   ever sees a lock without its owner. A lock is taken over only when its owner is provably gone:
 *   same host and no process with its id. Taking over removes exactly that owner's file, so it can
 *   never remove a lock someone else has just taken. A save waits for the lock (up to
 *   `lockTimeoutMs`) rather than failing.
 * - The new weight shard is written under a name derived from its content, model.json is then
 *   replaced by one atomic rename, and the shards of the model just replaced are kept until the
 *   next save: a reader that read the old model.json still finds its shards. Older shards are
 *   removed after the commit. (The reader side retries when model.json changed under it; see
 *   safe_read.ts.)
 * - A kill at any moment leaves a model.json that names complete shards: the old model or the
 *   new one. A small journal lists the files the next save may remove.
 * - A failed save removes only what it wrote itself (its temp files, its new shard, folders it
 *   created if they are still empty); cleanup of earlier crashes touches only temp files whose
 *   process is provably gone.
 * - Everything else in the folder (other files, subfolders, symbolic links, permissions, a
 *   symlinked folder) is left as it is.
 *
 * Steps, in order (each name is a point the fault-injection hook can stop at):
 *   locked, recovered, journal, shard-written, shard-renamed, json-written, json-renamed,
 *   old-removed, done.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { createHash, randomBytes } from 'crypto';

/** Writes one file completely and flushes it to disk. Injectable so tests can fail a write. */
export type WriteFile = (file: string, data: Uint8Array) => Promise<void>;

export const MODEL_JSON = 'model.json';
/** Names this module uses for its own files; nothing else in a folder starts with it. */
const PREFIX = '.tfjs-batchnorm-';
/** Files earlier saves wrote or replaced, to be removed once no model.json in reach lists them. */
const JOURNAL = `${PREFIX}save-journal.json`;
/** The lock directory; it holds exactly one `owner-...` file while a save runs. */
const LOCK_DIR = `${PREFIX}save-lock`;
const TEMP_SUFFIX = '.tmp';
const OWNER = 'owner-';

/** Default time a save waits for another save into the same folder to finish. */
export const DEFAULT_LOCK_TIMEOUT_MS = 60_000;

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

/**
 * fsync on a directory makes renames inside it durable; not every platform allows it.
 *
 * Usage: `await fs.promises.rename(temp, file); await syncDirectory(path.dirname(file));`
 */
export async function syncDirectory(dir: string): Promise<void> {
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
  return typeof p === 'string' && p !== '' && p !== '.' && p !== '..' && !/[/\\\0]/.test(p);
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

/** The journal's list of file names, or null if there is no readable journal. */
async function readJournal(dir: string): Promise<string[] | null> {
  try {
    const text = await readSmallFile(path.join(dir, JOURNAL));
    if (text == null) return null;
    const parsed: unknown = JSON.parse(text);
    return Array.isArray(parsed) ? parsed.filter(isPlainName) : [];
  } catch {
    // A journal cut short by an older version's crash: nothing in it can be trusted.
    return [];
  }
}

/** Removes `name` from `dir` if it is a regular file (never a folder or a link's target). */
async function removeFile(dir: string, name: string): Promise<void> {
  const stat = await statOrNull(path.join(dir, name), false);
  if (stat?.isFile()) await fs.promises.rm(path.join(dir, name), { force: true });
}

// ---- Owners: who wrote a lock or a temp file, and whether that process is provably gone ----

/** Identifies this host in file names without putting the host name (any characters) into them. */
const HOST_TAG = createHash('sha256').update(os.hostname()).digest('hex').slice(0, 8);
const STARTED = Math.round(Date.now() - process.uptime() * 1000);

/** `<pid>-<host tag>-<start ms>-<random>`: unique per call, parseable by ownerOf. */
function ownerToken(): string {
  return `${process.pid}-${HOST_TAG}-${STARTED}-${randomBytes(6).toString('hex')}`;
}

interface Owner { pid: number; host: string }

/** The owner encoded at the start of `token` (see ownerToken), or null if it is not one. */
function ownerOf(token: string): Owner | null {
  const m = /^(\d+)-([0-9a-f]{8})-\d+-[0-9a-f]{12}$/.exec(token);
  return m == null ? null : { pid: Number(m[1]), host: m[2] };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Only an owner on this host whose process id no longer exists is gone. On another host (a shared
 * network folder) nothing can be proved, so its files are left alone.
 */
function isGone(owner: Owner | null): boolean {
  return owner != null && owner.host === HOST_TAG && owner.pid !== process.pid && !isAlive(owner.pid);
}

function describeOwner(token: string): string {
  const owner = ownerOf(token);
  if (owner == null) return `an unknown owner (${token})`;
  return owner.host === HOST_TAG ? `process ${owner.pid} on this host` : `process ${owner.pid} on another host`;
}

// ---- The lock ----

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function isTaken(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException).code;
  return code === 'ENOTEMPTY' || code === 'EEXIST' || code === 'EPERM' || code === 'ENOTDIR' || code === 'EISDIR';
}

/** The owner files in the lock directory (normally one; none while a takeover is half done). */
async function lockOwners(lockDir: string): Promise<string[]> {
  try {
    return (await fs.promises.readdir(lockDir)).filter((n) => n.startsWith(OWNER));
  } catch {
    return [];
  }
}

/**
 * Takes the folder's save lock, waiting up to `timeoutMs` for a running save to finish. Resolves
 * to the function that releases it and the one that checks it is still held.
 */
async function lock(dir: string, timeoutMs: number): Promise<{ release: () => Promise<void>; held: () => Promise<boolean> }> {
  const lockDir = path.join(dir, LOCK_DIR);
  const token = ownerToken();
  const ownerName = `${OWNER}${token}`;
  // The lock appears with its owner in one rename: a directory holding the owner file replaces
  // nothing but a missing or empty lock directory.
  const staging = path.join(dir, `${PREFIX}lock-${token}${TEMP_SUFFIX}`);
  try {
    await fs.promises.mkdir(staging);
  } catch (e) {
    // A failed first save by another process may just have removed the empty folder it created.
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    await fs.promises.mkdir(dir, { recursive: true });
    await fs.promises.mkdir(staging);
  }
  const ownerFile = path.join(staging, ownerName);
  await fs.promises.writeFile(ownerFile, JSON.stringify({ pid: process.pid, host: os.hostname(), started: STARTED }));
  const deadline = Date.now() + timeoutMs;
  let holder = '';
  try {
    for (;;) {
      try {
        await fs.promises.rename(staging, lockDir);
        break;
      } catch (e) {
        if (!isTaken(e)) throw e;
      }
      const owners = await lockOwners(lockDir);
      const stat = await statOrNull(lockDir, false);
      if (stat != null && !stat.isDirectory()) {
        throw new Error(`${lockDir} is not a directory; expected this package's save lock. Remove it if no save is running.`);
      }
      const gone = owners.filter((o) => isGone(ownerOf(o.slice(OWNER.length))));
      if (owners.length > 0 && gone.length === owners.length) {
        // Removing the dead owner's own file by name: if someone took the lock meanwhile, their
        // directory holds a different name and this fails harmlessly.
        for (const o of gone) await fs.promises.rm(path.join(lockDir, o), { force: true });
        await fs.promises.rmdir(lockDir).catch(() => undefined);
        continue;
      }
      if (owners.length === 0) {
        // Empty: a takeover was cut short. Removing an empty directory cannot remove a lock.
        await fs.promises.rmdir(lockDir).catch(() => undefined);
      } else {
        holder = owners[0].slice(OWNER.length);
      }
      if (Date.now() > deadline) {
        throw new Error(`another save into ${dir} has held its lock for more than ${Math.round(timeoutMs / 1000)} s ` +
          `(${holder === '' ? 'owner unknown' : describeOwner(holder)}); expected one save at a time. ` +
          `If no save is running, remove the folder ${lockDir}.`);
      }
      await sleep(5 + Math.random() * 20);
    }
  } catch (e) {
    await fs.promises.rm(ownerFile, { force: true });
    await fs.promises.rmdir(staging).catch(() => undefined);
    throw e;
  }
  const mine = path.join(lockDir, ownerName);
  return {
    release: async () => {
      await fs.promises.rm(mine, { force: true });
      await fs.promises.rmdir(lockDir).catch(() => undefined);
    },
    held: async () => (await statOrNull(mine, false)) != null,
  };
}

// ---- Recovery of earlier crashes ----

/**
 * Removes temp files and lock staging folders whose writer is provably gone (see isGone), and
 * temp files of earlier versions of this package (`.tfjs-batchnorm-<pid>-<12 hex>.tmp`) whose
 * process id no longer exists. Never touches what a running process wrote.
 */
async function recover(dir: string): Promise<void> {
  for (const name of await fs.promises.readdir(dir)) {
    if (!name.startsWith(PREFIX) || !name.endsWith(TEMP_SUFFIX)) continue;
    const middle = name.slice(PREFIX.length, -TEMP_SUFFIX.length);
    const legacy = /^(\d+)-[0-9a-f]{12}$/.exec(middle);
    const owner = legacy != null ? { pid: Number(legacy[1]), host: HOST_TAG }
      : ownerOf(middle.replace(/^(tmp|lock)-/, ''));
    if (!isGone(owner)) continue;
    const stat = await statOrNull(path.join(dir, name), false);
    if (stat?.isFile()) {
      await fs.promises.rm(path.join(dir, name), { force: true });
    } else if (stat?.isDirectory() && middle.startsWith('lock-')) {
      // A lock staging folder holds only its owner file.
      for (const inner of await lockOwners(path.join(dir, name))) await fs.promises.rm(path.join(dir, name, inner), { force: true });
      await fs.promises.rmdir(path.join(dir, name)).catch(() => undefined);
    }
  }
}

/**
 * Earlier versions of this package saved by renaming whole folders: a kill could leave the old
 * model only in a hidden sibling `.<name>.old-<pid>-<hex>` and a temp folder `.<name>.tmp-<pid>-<hex>`.
 * If the target is missing and exactly one such old folder exists, it is put back; temp folders
 * whose process is gone are removed.
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
  const pattern = (tag: string) => new RegExp(`^\\.${base.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.${tag}-(\\d+)-[0-9a-f]{8}$`);
  const old = names.filter((n) => pattern('old').test(n));
  for (const n of names) {
    const m = pattern('tmp').exec(n);
    if (m != null && !isAlive(Number(m[1]))) await fs.promises.rm(path.join(parent, n), { recursive: true, force: true });
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

export interface InPlaceOptions {
  writeFile?: WriteFile;
  /** Name of the shard of a first save into a folder that has no model yet (default weights.bin). */
  shardName?: string;
  /** How long to wait for another save into the same folder (default DEFAULT_LOCK_TIMEOUT_MS). */
  lockTimeoutMs?: number;
}

/**
 * `weights-<16 hex digits of the SHA-256 of the bytes>.bin`: saves of equal weights share a
 * shard, and a new model never reuses the name of a shard with other content.
 *
 * Usage: `shardNameFor(bytes) // 'weights-3f2a9c0d11e4b7a8.bin'`
 */
export function shardNameFor(weights: Uint8Array): string {
  return `weights-${createHash('sha256').update(weights).digest('hex').slice(0, 16)}.bin`;
}

/**
 * Makes `dir` (and missing parents) and returns the folders it created, deepest first.
 */
async function makeFolders(dir: string): Promise<string[]> {
  const first = await fs.promises.mkdir(dir, { recursive: true });
  if (first == null) return [];
  const made: string[] = [];
  for (let p = path.resolve(dir); ; p = path.dirname(p)) {
    made.push(p);
    if (p === path.resolve(first) || p === path.dirname(p)) break;
  }
  return made;
}

/**
 * Saves a model into folder `target`: `weights` as one shard and the model.json that
 * `modelJsonFor(shardName)` returns, safely under crashes and concurrent saves and loads (see the
 * module comment). Creates `target` (and missing parents) if needed; a failed save removes only
 * what it wrote itself, and folders it created only if they are still empty.
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
  const createdFolders = existing == null ? await makeFolders(target) : [];
  let theLock: Awaited<ReturnType<typeof lock>> | null = null;
  const temps: string[] = [];
  let newShard: string | null = null;
  let shardIsNew = false;
  let shardRenamed = false;
  let journalBefore: string[] | null | undefined;
  let committed = false;
  const tempPath = () => path.join(target, `${PREFIX}tmp-${ownerToken()}${TEMP_SUFFIX}`);
  /** Writes a file under a temp name, then renames it into place. */
  const writeReplacing = async (name: string, data: Uint8Array, mode: number | null) => {
    const temp = tempPath();
    temps.push(temp);
    await writeFile(temp, data);
    if (mode != null) await fs.promises.chmod(temp, mode);
    return async () => { await fs.promises.rename(temp, path.join(target, name)); };
  };
  try {
    theLock = await lock(target, options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS);
    reached('locked');
    await recover(target);
    reached('recovered');
    const current = await referencedShards(target);
    journalBefore = await readJournal(target);
    const preferred = options.shardName ?? 'weights.bin';
    const fresh = current.length === 0 && (await statOrNull(path.join(target, MODEL_JSON), false)) == null &&
      (await statOrNull(path.join(target, preferred), false)) == null;
    newShard = fresh ? preferred : shardNameFor(weights);
    shardIsNew = (await statOrNull(path.join(target, newShard), false)) == null;
    const jsonMode = await modeOf(target, MODEL_JSON);
    const shardMode = (await modeOf(target, current[0])) ?? jsonMode;
    // Listed before they exist: whatever of these a later save finds unreferenced is a leftover.
    const listed = [...new Set([...(journalBefore ?? []), ...current, newShard])];
    await (await writeReplacing(JOURNAL, Buffer.from(JSON.stringify(listed)), null))();
    reached('journal');

    const renameShard = await writeReplacing(newShard, weights, shardMode);
    reached('shard-written');
    await renameShard();
    shardRenamed = true;
    reached('shard-renamed');

    const renameJson = await writeReplacing(MODEL_JSON, modelJsonFor(newShard), jsonMode);
    reached('json-written');
    // The shard's rename must be on disk before model.json points at it.
    await syncDirectory(target);
    if (!(await theLock.held())) {
      throw new Error(`the save lock ${path.join(target, LOCK_DIR)} was removed while this save held it; ` +
        'nothing was committed.');
    }
    await renameJson();
    committed = true;
    await finish(target, listed, new Set([...current, newShard]), newShard, tempPath);
  } catch (e) {
    if (!committed) await undo();
    throw e;
  } finally {
    await theLock?.release();
    for (const folder of committed ? [] : createdFolders) await fs.promises.rmdir(folder).catch(() => undefined);
  }

  /** Removes what this save wrote, and only that; puts back the journal it replaced. */
  async function undo(): Promise<void> {
    await Promise.all(temps.map((t) => fs.promises.rm(t, { force: true })));
    if (shardRenamed && shardIsNew && newShard != null) await removeFile(target, newShard);
    if (journalBefore === undefined) return;
    if (journalBefore === null) {
      await fs.promises.rm(path.join(target, JOURNAL), { force: true });
    } else {
      const temp = tempPath();
      try {
        await fs.promises.writeFile(temp, JSON.stringify(journalBefore));
        await fs.promises.rename(temp, path.join(target, JOURNAL));
      } catch {
        // The journal written by this save lists more, which the next save handles the same way.
        await fs.promises.rm(temp, { force: true });
      }
    }
  }
}

/**
 * After the commit: removes the listed files that neither the new model nor the one it replaced
 * uses, and leaves a journal of what the next save may remove (none if that is nothing). The new model is in place whatever
 * happens here, so a failure only leaves files that the next save removes.
 */
async function finish(target: string, listed: string[], keep: Set<string>, newShard: string,
  tempPath: () => string): Promise<void> {
  try {
    await syncDirectory(target);
    reached('json-renamed');
    // The next save learns the new model's shards from model.json; what it must be told is which
    // files were the replaced model's (and any this save failed to remove).
    const left = [...keep].filter((name) => name !== newShard);
    for (const name of listed) {
      if (keep.has(name) || name === MODEL_JSON) continue;
      await removeFile(target, name).catch(() => { left.push(name); });
    }
    reached('old-removed');
    if (left.length === 0) {
      await fs.promises.rm(path.join(target, JOURNAL), { force: true });
    } else {
      const temp = tempPath();
      await fs.promises.writeFile(temp, JSON.stringify(left));
      await fs.promises.rename(temp, path.join(target, JOURNAL)).catch(async (e) => {
        await fs.promises.rm(temp, { force: true });
        throw e;
      });
    }
    await syncDirectory(target);
    reached('done');
  } catch {
    // Leftovers only; see above.
  }
}
