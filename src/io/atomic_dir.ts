/**
 * Replaces a directory's model files all at once: everything is written and fsynced in a sibling
 * temporary directory, then renamed into place, so a failed or interrupted save leaves either
 * the old model or the new one, never a mix of the two.
 */
import * as fs from 'fs';
import * as path from 'path';
import { randomBytes } from 'crypto';

/** Writes one file completely and flushes it to disk. Injectable so tests can fail a write. */
export type WriteFile = (file: string, data: Uint8Array) => Promise<void>;

export interface DirectoryFile {
  name: string;
  data: Uint8Array;
}

export interface ReplaceOptions {
  /** Files of the old directory that the new files supersede (e.g. old weight shards). */
  superseded?: string[];
  writeFile?: WriteFile;
}

/**
 * Default WriteFile: create, write, fsync, close.
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

function siblingName(target: string, tag: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.${tag}-${process.pid}-${randomBytes(4).toString('hex')}`);
}

async function statOrNull(p: string): Promise<fs.Stats | null> {
  try {
    return await fs.promises.stat(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

/** Keeps unrelated files (e.g. Teachable Machine's metadata.json) that live beside the model. */
async function carryOver(oldDir: string, newDir: string, skip: Set<string>): Promise<void> {
  for (const entry of await fs.promises.readdir(oldDir, { withFileTypes: true })) {
    if (skip.has(entry.name)) continue;
    const from = path.join(oldDir, entry.name);
    const to = path.join(newDir, entry.name);
    if (entry.isFile()) {
      try {
        await fs.promises.link(from, to);
        continue;
      } catch {
        // Hard links can fail across devices or on some filesystems; copy instead.
      }
    }
    await fs.promises.cp(from, to, { recursive: true, preserveTimestamps: true });
  }
}

/**
 * Writes `files` as the contents of directory `target`, atomically. Other files already in
 * `target` are kept unless listed in `options.superseded`. On failure `target` is unchanged and
 * the temporary directory is removed.
 *
 * Usage: `await replaceDirectory('models/net', [{ name: 'model.json', data }], { superseded: ['weights.bin'] });`
 */
export async function replaceDirectory(target: string, files: DirectoryFile[], options: ReplaceOptions = {}): Promise<void> {
  const writeFile = options.writeFile ?? writeFileDurably;
  const existing = await statOrNull(target);
  if (existing != null && !existing.isDirectory()) {
    throw new Error(`${target} exists and is not a directory; expected a directory to save the model into.`);
  }
  const parent = path.dirname(target);
  const createdParent = await fs.promises.mkdir(parent, { recursive: true });
  const temp = siblingName(target, 'tmp');
  let committed = false;
  try {
    await fs.promises.mkdir(temp);
    for (const file of files) await writeFile(path.join(temp, file.name), file.data);
    if (existing != null) {
      await carryOver(target, temp, new Set([...files.map((f) => f.name), ...(options.superseded ?? [])]));
    }
    await syncDirectory(temp);
    if (existing == null) {
      await fs.promises.rename(temp, target);
    } else {
      // rename() cannot replace a non-empty directory, so move the old one aside first.
      const aside = siblingName(target, 'old');
      await fs.promises.rename(target, aside);
      try {
        await fs.promises.rename(temp, target);
      } catch (e) {
        await fs.promises.rename(aside, target);
        throw e;
      }
      committed = true;
      await fs.promises.rm(aside, { recursive: true, force: true });
    }
    committed = true;
    await syncDirectory(parent);
  } catch (e) {
    if (!committed) {
      await fs.promises.rm(temp, { recursive: true, force: true });
      if (createdParent != null) await fs.promises.rm(createdParent, { recursive: true, force: true });
    }
    throw e;
  }
}
