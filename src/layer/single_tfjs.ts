/**
 * Guards against a second copy of `@tensorflow/tfjs`. When this package resolves its own copy
 * (installed from a local folder, which npm links rather than copies, or `npm link`), the two
 * copies share tfjs's global engine but not its classes: kernels get registered twice and
 * training fails later inside a kernel with an unrelated-looking TypeError. This check turns that
 * into one clear error at import.
 */
import * as tf from '@tensorflow/tfjs';

const FIX = 'Install tfjs-batchnorm so that it uses your project\'s @tensorflow/tfjs: from a tarball ' +
  '(`npm pack` in its folder, then `npm install /path/to/tfjs-batchnorm-<version>.tgz`) or with ' +
  '`npm install --install-links /path/to/tfjs-batchnorm`; in a bundler, make @tensorflow/tfjs resolve to one ' +
  'folder (e.g. vite `resolve.dedupe`, webpack `resolve.alias`).';

/** Folders of the `@tensorflow/tfjs` packages Node has loaded (none outside Node / CommonJS). */
function loadedTfjsFolders(): string[] {
  const cache = typeof require !== 'undefined' ? (require.cache as Record<string, unknown> | undefined) : undefined;
  if (cache == null) return [];
  const folders = new Set<string>();
  for (const file of Object.keys(cache)) {
    const m = /^(.*[\\/]node_modules[\\/]@tensorflow[\\/]tfjs)[\\/]/.exec(file);
    if (m != null) folders.add(m[1]);
  }
  return [...folders];
}

function isNode(): boolean {
  return typeof process !== 'undefined' && process.versions?.node != null;
}

/** This package's copy, as Node resolves it (null outside Node / CommonJS). */
function ourTfjsFolder(): string | null {
  try {
    const main = require.resolve('@tensorflow/tfjs');
    return /^(.*[\\/]node_modules[\\/]@tensorflow[\\/]tfjs)[\\/]/.exec(main)?.[1] ?? null;
  } catch {
    return null;
  }
}

/**
 * Throws when the `@tensorflow/tfjs` this package imports is not the one that created tfjs's
 * global engine (another copy was loaded first), or when Node has loaded tfjs from two folders,
 * naming both folders where Node knows them.
 *
 * Usage: `assertSingleTfjs();` (on import, and when the first layer is made)
 */
export function assertSingleTfjs(): void {
  const loaded = loadedTfjsFolders();
  if (isNode()) {
    // Node knows the folders: two of them is the failure (a test runner's fresh module registry
    // reloading the same folder is not).
    if (loaded.length <= 1) return;
  } else if (tf.env() instanceof tf.Environment) {
    // tfjs keeps one engine and environment per page (in globalThis), made by the copy loaded
    // first; the environment is an instance of that copy's Environment class only.
    return;
  }
  const ours = ourTfjsFolder();
  const others = loaded.filter((f) => f !== ours);
  const where = ours != null
    ? `this package imports ${ours}, and ${others.length > 0 ? others.join(' and ') : 'another copy'} is loaded too`
    : 'this package\'s copy is not the one loaded first (two copies are bundled)';
  throw new Error(`tfjs-batchnorm: two copies of @tensorflow/tfjs are loaded: ${where}. ${FIX}`);
}

let checkedAtFirstLayer = false;

/**
 * assertSingleTfjs once more when the first layer is made: a copy loaded after this package
 * (the app imports it first, then tfjs) is only visible then.
 *
 * Usage: `assertSingleTfjsOnce();` (layer constructors)
 */
export function assertSingleTfjsOnce(): void {
  if (checkedAtFirstLayer) return;
  assertSingleTfjs();
  checkedAtFirstLayer = true;
}

// On import, before this package registers anything with tfjs (src/index.ts imports this first).
assertSingleTfjs();
