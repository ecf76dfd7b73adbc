/**
 * Where `convert` and `fold` write, decided before anything is loaded or written: an output that
 * would replace the input model or another model is refused unless `--force`, and an output
 * folder that cannot be created fails at once with the reason. The folders are created only right
 * before the save, one level at a time (Node's recursive mkdir never settles under /proc), and
 * removed again if the command fails.
 */
import * as fs from 'fs';
import * as path from 'path';

/** The output (a folder, or a `.keras` file) and the folders that must be made for it, outermost first. */
export interface OutputPlan {
  /** The output folder, or the `.keras` file. */
  dir: string;
  /** True when the output is one `.keras` file rather than a folder. */
  kerasFile: boolean;
  missing: string[];
}

/** Longest wait for creating one folder before giving up with an error. */
const MKDIR_TIMEOUT_MS = 10000;

// statfs(2) magic numbers of kernel file systems where no user folder can be made (linux/magic.h).
const VIRTUAL_FILE_SYSTEMS: Record<number, string> = {
  0x9fa0: 'proc', 0x62656572: 'sysfs', 0x1cd1: 'devpts', 0x27e0eb: 'cgroup', 0x63677270: 'cgroup2',
  0x64626720: 'debugfs', 0x73636673: 'securityfs', 0x74726163: 'tracefs', 0x6165676c: 'pstore', 0xcafe4a11: 'bpf',
  0x62656570: 'configfs', 0xde5e81e4: 'efivarfs',
};

function lstat(p: string): fs.Stats | null {
  try {
    return fs.lstatSync(p);
  } catch {
    return null;
  }
}

function realpath(p: string): string {
  try {
    return fs.realpathSync(p);
  } catch {
    return path.resolve(p);
  }
}

function virtualFileSystem(dir: string): string | null {
  if (typeof fs.statfsSync !== 'function') return null; // Node before 18.15: mkdir itself will say
  try {
    return VIRTUAL_FILE_SYSTEMS[fs.statfsSync(dir).type] ?? null;
  } catch {
    return null;
  }
}

function writable(dir: string): boolean {
  try {
    fs.accessSync(dir, fs.constants.W_OK | fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Checks that `outDir` can take the model written from `input`, without writing anything.
 * Throws when it is the input's own folder or already holds a model.json (unless `force`), when
 * it exists and is not a folder, or when it cannot be created or written.
 *
 * Usage: `const plan = planOutput('m/model.json', 'm-folded', false);`
 */
export function planOutput(input: string, outDir: string, force: boolean): OutputPlan {
  if (outDir.endsWith('.keras')) return planKerasFile(input, outDir, force);
  const dir = path.resolve(outDir);
  const stat = fs.existsSync(dir) ? fs.statSync(dir) : null;
  if (stat != null) {
    if (!stat.isDirectory()) throw new Error(`cannot write the model into ${outDir}: it exists and is not a folder`);
    // (A missing input is the loader's to report.)
    if (!force && fs.existsSync(input) && realpath(dir) === realpath(path.dirname(path.resolve(input)))) {
      throw new Error(`refusing to write into ${outDir}: it is the input model's folder, and the new model would ` +
        `replace ${input} for good; give another folder, or --force to replace it`);
    }
    if (!force && lstat(path.join(dir, 'model.json')) != null) {
      throw new Error(`refusing to overwrite the model in ${outDir} (it holds a model.json); give a new folder, ` +
        'or --force to replace it');
    }
    if (!writable(dir)) throw new Error(`cannot write the model into ${outDir}: no permission to write into that folder`);
    return { dir, kerasFile: false, missing: [] };
  }
  return { dir, kerasFile: false, missing: missingFolders(dir, outDir) };
}

/** The folders above `dir` to create, outermost first; throws when they cannot be. */
function missingFolders(dir: string, outDir: string): string[] {
  const missing: string[] = [];
  let parent = dir;
  while (!fs.existsSync(parent)) {
    if (lstat(parent) != null) {
      throw new Error(`cannot create ${outDir}: ${parent} is a symbolic link to something that does not exist`);
    }
    missing.unshift(parent);
    const up = path.dirname(parent);
    if (up === parent) break;
    parent = up;
  }
  if (!fs.statSync(parent).isDirectory()) throw new Error(`cannot create ${outDir}: ${parent} is not a folder`);
  const kind = virtualFileSystem(parent);
  if (kind != null) {
    throw new Error(`cannot create ${outDir}: ${parent} is on the ${kind} file system, where no folder can be created`);
  }
  if (!writable(parent)) throw new Error(`cannot create ${outDir}: no permission to write into ${parent}`);
  return missing;
}

/** planOutput for a `.keras` archive: one file, written beside nothing else of the model. */
function planKerasFile(input: string, file: string, force: boolean): OutputPlan {
  const target = path.resolve(file);
  const stat = lstat(target);
  if (stat != null) {
    if (stat.isDirectory()) throw new Error(`cannot write the Keras archive ${file}: it is a folder`);
    if (!force) {
      const same = fs.existsSync(input) && realpath(target) === realpath(input);
      throw new Error(same ? `refusing to write over the input model ${file}; give another file name, or --force to replace it`
        : `refusing to overwrite ${file}; give a new file name, or --force to replace it`);
    }
  }
  const dir = path.dirname(target);
  if (fs.existsSync(dir)) {
    if (!fs.statSync(dir).isDirectory()) throw new Error(`cannot write ${file}: ${dir} is not a folder`);
    if (!writable(dir)) throw new Error(`cannot write ${file}: no permission to write into ${dir}`);
    return { dir: target, kerasFile: true, missing: [] };
  }
  return { dir: target, kerasFile: true, missing: missingFolders(dir, file) };
}

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(message)), ms); });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Creates the folders `plan` found missing, one level at a time, each within 10 s.
 *
 * Usage: `await createOutput(plan); try { await saveModel(model, plan.dir); } catch (e) { removeCreated(plan); throw e; }`
 */
export async function createOutput(plan: OutputPlan, timeoutMs = MKDIR_TIMEOUT_MS): Promise<void> {
  for (const dir of plan.missing) {
    await withTimeout(fs.promises.mkdir(dir), timeoutMs, `cannot create ${dir}: no answer from the file system in ` +
      `${timeoutMs / 1000} s`);
  }
}

/**
 * Removes the folders `createOutput` made, innermost first, where they are still empty.
 *
 * Usage: `removeCreated(plan)` (after a failed save)
 */
export function removeCreated(plan: OutputPlan): void {
  for (const dir of [...plan.missing].reverse()) {
    try {
      fs.rmdirSync(dir);
    } catch {
      return; // not empty (or gone): what is in it is not this command's to remove
    }
  }
}
