/**
 * The check for a second copy of `@tensorflow/tfjs` that can run before this package loads tfjs.
 * When this package resolves its own copy (installed from a local folder, which npm links rather
 * than copies, or `npm link`) and the app has loaded its copy already, loading ours would
 * register every tfjs kernel a second time (hundreds of "already registered" warnings) before
 * any check after it could speak. This module imports nothing from tfjs: in Node it compares the
 * tfjs folders already loaded with the one this package would load, and throws first.
 * (A bundle evaluates tfjs before any module of this package; there the check after loading,
 * in src/layer/single_tfjs.ts, is what can be done.)
 */

/** How to fix it, for every message about two copies. */
export const TWO_COPIES_FIX = 'Install tfjs-batchnorm so that it uses your project\'s @tensorflow/tfjs: from a tarball ' +
  '(`npm pack` in its folder, then `npm install /path/to/tfjs-batchnorm-<version>.tgz`) or with ' +
  '`npm install --install-links /path/to/tfjs-batchnorm`; in a bundler, make @tensorflow/tfjs resolve to one ' +
  'folder (e.g. vite `resolve.dedupe`, webpack `resolve.alias`).';

const TFJS_FOLDER = /^(.*[\\/]node_modules[\\/]@tensorflow[\\/]tfjs)[\\/]/;

/**
 * Folders of the `@tensorflow/tfjs` packages Node has loaded (none outside Node / CommonJS).
 *
 * Usage: `loadedTfjsFolders() // ['/app/node_modules/@tensorflow/tfjs']`
 */
export function loadedTfjsFolders(): string[] {
  const cache = typeof require !== 'undefined' ? (require.cache as Record<string, unknown> | undefined) : undefined;
  if (cache == null) return [];
  const folders = new Set<string>();
  for (const file of Object.keys(cache)) {
    const m = TFJS_FOLDER.exec(file);
    if (m != null) folders.add(m[1]);
  }
  return [...folders];
}

/**
 * The folder of the `@tensorflow/tfjs` this package loads, as Node resolves it (null outside
 * Node / CommonJS). Resolving reads package.json files only; nothing is loaded.
 *
 * Usage: `ourTfjsFolder() // '/app/node_modules/@tensorflow/tfjs'`
 */
export function ourTfjsFolder(): string | null {
  try {
    return TFJS_FOLDER.exec(require.resolve('@tensorflow/tfjs'))?.[1] ?? null;
  } catch {
    return null;
  }
}

/**
 * The error for two copies: `ours` is the folder this package imports, `others` the other copies.
 *
 * Usage: `throw twoCopiesError(ourTfjsFolder(), others)`
 */
export function twoCopiesError(ours: string | null, others: string[]): Error {
  const where = ours != null
    ? `this package imports ${ours}, and ${others.length > 0 ? others.join(' and ') : 'another copy'} is loaded too`
    : 'this package\'s copy is not the one loaded first (two copies are bundled)';
  return new Error(`tfjs-batchnorm: two copies of @tensorflow/tfjs are loaded: ${where}. ${TWO_COPIES_FIX}`);
}

/**
 * Throws when Node has loaded `@tensorflow/tfjs` from a folder other than the one this package
 * would load, or from two folders. Does nothing outside Node.
 *
 * Usage: `assertNoOtherTfjsLoaded();` (on import, before anything imports tfjs)
 */
export function assertNoOtherTfjsLoaded(): void {
  const loaded = loadedTfjsFolders();
  if (loaded.length === 0) return;
  const ours = ourTfjsFolder();
  const others = loaded.filter((f) => f !== ours);
  // One folder loaded and it is ours: fine (a test runner reloading the same folder is too).
  if (others.length === 0 || (ours == null && loaded.length === 1)) return;
  throw twoCopiesError(ours, others);
}

assertNoOtherTfjsLoaded();
