/**
 * Guards against a second copy of `@tensorflow/tfjs`. When this package resolves its own copy
 * (installed from a local folder, which npm links rather than copies, or `npm link`), the two
 * copies share tfjs's global engine but not its classes: kernels get registered twice and
 * training fails later inside a kernel with an unrelated-looking TypeError. This check turns that
 * into one clear error at import.
 */
// Before tfjs loads: a copy loaded earlier by the app is refused before ours registers anything.
import { loadedTfjsFolders, ourTfjsFolder, twoCopiesError } from '../core/single_tfjs';
import * as tf from '@tensorflow/tfjs';

function isNode(): boolean {
  return typeof process !== 'undefined' && process.versions?.node != null;
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
  throw twoCopiesError(ours, loaded.filter((f) => f !== ours));
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
