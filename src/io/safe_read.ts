/**
 * Reading model files that may come from someone else: model.json has a size and nesting limit,
 * weight shards must resolve (after ".." and symbolic links) inside model.json's folder, only
 * regular files are read, and no file is read past the byte count the manifest gives for it.
 */
import * as fs from 'fs';
import * as path from 'path';
import { ModelFileError } from './errors';
import { checkJsonDepth } from './json_depth';

// Browser-safe, so that readers without a file system share it.
export { checkJsonDepth, MAX_JSON_DEPTH } from './json_depth';

/** Default limit on model.json's size: far above real topologies (a few MB), far below memory. */
export const DEFAULT_MAX_MODEL_JSON_BYTES = 64 * 1024 * 1024;


// O_NONBLOCK: opening a FIFO must not wait for a writer; regular files ignore the flag.
const OPEN_FLAGS = fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0);

function kindOf(stat: fs.Stats): string {
  if (stat.isDirectory()) return 'a directory';
  if (stat.isFIFO()) return 'a FIFO (named pipe)';
  if (stat.isCharacterDevice() || stat.isBlockDevice()) return 'a device';
  if (stat.isSocket()) return 'a socket';
  return 'not a regular file';
}

/** An open regular file and its size as seen by fstat. */
interface OpenFile {
  handle: fs.promises.FileHandle;
  size: number;
}

/**
 * A weight shard that is not there. When model.json changed since it was read, a save replaced
 * the model meanwhile, and reading again gets the new one.
 */
export class ShardNotFoundError extends ModelFileError {}

async function openRegular(file: string, shown: string, what: string, flags = OPEN_FLAGS,
  NotFound: typeof ModelFileError = ModelFileError): Promise<OpenFile> {
  let handle: fs.promises.FileHandle;
  try {
    handle = await fs.promises.open(file, flags);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new NotFound(shown, `file not found (expected ${what}).`);
    if (code === 'EISDIR') throw new ModelFileError(shown, `is a directory (expected ${what}).`);
    throw new ModelFileError(shown, `cannot be read: ${(e as Error).message}`);
  }
  const stat = await handle.stat();
  if (!stat.isFile()) {
    await handle.close();
    throw new ModelFileError(shown, `is ${kindOf(stat)}; expected ${what} (only regular files are read).`);
  }
  return { handle, size: stat.size };
}

/** Reads `length` bytes into `target` at `offset`; returns how many bytes the file really had. */
async function readInto(handle: fs.promises.FileHandle, target: Uint8Array, offset: number, length: number): Promise<number> {
  let done = 0;
  while (done < length) {
    const { bytesRead } = await handle.read(target, offset + done, length - done, done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return done;
}


/**
 * Reads model.json as text: a regular file of at most `maxBytes` bytes, nested at most
 * MAX_JSON_DEPTH levels deep.
 *
 * Usage: `const text = await readModelJsonText('m/model.json', DEFAULT_MAX_MODEL_JSON_BYTES);`
 */
export async function readModelJsonText(file: string, maxBytes: number): Promise<string> {
  const { handle, size } = await openRegular(file, file, 'a TensorFlow.js layers model.json');
  try {
    if (size > maxBytes) {
      throw new ModelFileError(file, `is ${size} bytes, more than the limit of ${maxBytes} bytes for a model.json ` +
        '(raise it with the maxModelJsonBytes option, or --max-model-json-mb on the command line).');
    }
    const bytes = new Uint8Array(size);
    const got = await readInto(handle, bytes, 0, size);
    const content = bytes.subarray(0, got);
    checkJsonDepth(content, file);
    return Buffer.from(content.buffer, 0, got).toString('utf8');
  } finally {
    await handle.close();
  }
}

function isInside(dir: string, p: string): boolean {
  const rel = path.relative(dir, p);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}

/** Whether any existing component of `rel` below `dir` is a symbolic link. */
async function passesThroughSymlink(dir: string, rel: string): Promise<boolean> {
  let p = dir;
  for (const part of rel.split(/[/\\]+/)) {
    p = path.join(p, part);
    try {
      if ((await fs.promises.lstat(p)).isSymbolicLink()) return true;
    } catch {
      return false;
    }
  }
  return false;
}

/** One weight shard as listed in the manifest. */
export interface ShardRef {
  /** The path as written in the manifest, relative to model.json's folder. */
  relative: string;
  /** How the shard is named in messages: model.json's folder joined with `relative`. */
  shown: string;
}

/**
 * Resolves a manifest path to a real file path inside `realDir` (model.json's folder, symbolic
 * links resolved). Every way out of the folder gets the same message, whether or not the outside
 * file exists, so the error tells nothing about files outside.
 */
async function confine(realDir: string, shard: ShardRef, modelJson: string, what: string): Promise<string> {
  const outside = () => new ModelFileError(shard.shown, `is listed in ${modelJson} but does not resolve to a file ` +
    'inside the folder that holds model.json (after resolving ".." and symbolic links); only files inside it are read.');
  const lexical = path.resolve(realDir, shard.relative);
  if (!isInside(realDir, lexical)) throw outside();
  let real: string;
  try {
    real = await fs.promises.realpath(lexical);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if ((code === 'ENOENT' || code === 'ENOTDIR') && !(await passesThroughSymlink(realDir, shard.relative))) {
      throw new ShardNotFoundError(shard.shown, `file not found (expected ${what}).`);
    }
    throw outside();
  }
  if (!isInside(realDir, real)) throw outside();
  return real;
}

/**
 * Reads weight shards into one buffer: each shard must resolve inside model.json's folder and be
 * a regular file, and each group's shards must together hold exactly `groupBytes[g]` bytes (checked
 * with fstat before anything is read; nothing beyond that count is ever read).
 *
 * Usage: `const data = await readShards('m/model.json', [[{ relative: 'weights.bin', shown }]], [1024]);`
 */
export async function readShards(modelJson: string, groups: ShardRef[][], groupBytes: number[],
  groupWeights: number[]): Promise<ArrayBuffer> {
  const realDir = await fs.promises.realpath(path.dirname(modelJson));
  const what = `a weight shard listed in ${modelJson}`;
  const opened: OpenFile[][] = [];
  try {
    for (const [g, shards] of groups.entries()) {
      const files: OpenFile[] = [];
      opened.push(files);
      for (const shard of shards) {
        const real = await confine(realDir, shard, modelJson, what);
        // O_NOFOLLOW: the path was resolved above; a link swapped in since is refused, not followed.
        files.push(await openRegular(real, shard.shown, what, OPEN_FLAGS | (fs.constants.O_NOFOLLOW ?? 0),
          ShardNotFoundError));
      }
      const actual = files.reduce((sum, f) => sum + f.size, 0);
      if (actual !== groupBytes[g]) throw sizeMismatch(modelJson, shards, groupBytes[g], actual, groupWeights[g]);
    }
    const total = groupBytes.reduce((a, b) => a + b, 0);
    let data: Uint8Array;
    try {
      data = new Uint8Array(total);
    } catch (e) {
      throw new ModelFileError(modelJson, `its weight shards hold ${total} bytes, more than this process can allocate ` +
        `(${(e as Error).message}).`);
    }
    let offset = 0;
    for (const [g, files] of opened.entries()) {
      const start = offset;
      for (const f of files) offset += await readInto(f.handle, data, offset, f.size);
      // A shard that shrank between fstat and read.
      if (offset - start !== groupBytes[g]) {
        throw sizeMismatch(modelJson, groups[g], groupBytes[g], offset - start, groupWeights[g]);
      }
    }
    return data.buffer as ArrayBuffer;
  } finally {
    await Promise.all(opened.flat().map((f) => f.handle.close()));
  }
}

function sizeMismatch(modelJson: string, shards: ShardRef[], expected: number, actual: number, weights: number): ModelFileError {
  const kind = actual < expected ? 'truncated' : 'oversized';
  return new ModelFileError(shards.map((s) => s.shown).join(', '), `weight data is ${kind}: the manifest in ${modelJson} ` +
    `describes ${expected} bytes (${weights} weights), but the file${shards.length > 1 ? 's hold' : ' holds'} ${actual} bytes.`);
}

/**
 * Reads a whole regular file of at most `maxBytes` bytes (checked with fstat before reading).
 * `what` names the expected content in messages; `hint` says how to raise the limit.
 *
 * Usage: `const bytes = await readRegularFile('m.keras', 1 << 30, 'a Keras model file', '(raise it with ...)');`
 */
export async function readRegularFile(file: string, maxBytes: number, what: string, hint: string): Promise<Uint8Array> {
  const { handle, size } = await openRegular(file, file, what);
  try {
    if (size > maxBytes) throw new ModelFileError(file, `is ${size} bytes, more than the limit of ${maxBytes} bytes ${hint}.`);
    const bytes = new Uint8Array(size);
    const got = await readInto(handle, bytes, 0, size);
    return bytes.subarray(0, got);
  } finally {
    await handle.close();
  }
}
