/**
 * Makes `tf.loadLayersModel(url)` read Keras 3 models. tfjs picks the handler for a URL itself
 * (its own http:// router; a second router for the same URL would make it refuse the URL as
 * ambiguous), so instead of registering a router this wraps the `load` of tfjs's own handler
 * classes: HTTP requests (`tf.io.http`, also what a plain http(s) URL gets), browser files
 * (`tf.io.browserFiles`) and in-memory artifacts (`tf.io.fromMemory`). The wrapped load passes
 * what the original returns through fromKeras3, which gives anything but a Keras 3 model back
 * unchanged (the same object), and keeps the original's sync or async return.
 */
import * as tf from '@tensorflow/tfjs';
import { fromKeras3 } from './translate';

// Marks a wrapped prototype, so registering twice (or from a second copy of this package) wraps once.
const WRAPPED = Symbol.for('tfjs-batchnorm.keras3Load');

type Loader = { load?: (...args: unknown[]) => unknown } & Record<symbol, boolean>;

function translated(result: unknown): unknown {
  if (typeof result !== 'object' || result == null || !('modelTopology' in result)) return result;
  return fromKeras3(result as tf.io.ModelArtifacts);
}

function wrap(proto: Loader | null): boolean {
  if (proto == null || typeof proto.load !== 'function') return false;
  if (proto[WRAPPED]) return true;
  const original = proto.load;
  proto.load = function loadTranslatingKeras3(this: unknown, ...args: unknown[]): unknown {
    const result = original.apply(this, args);
    // A thenable check, not instanceof: the promise may come from another realm's Promise.
    const then = (result as { then?: unknown } | null)?.then;
    return typeof then === 'function' ? (result as Promise<unknown>).then(translated) : translated(result);
  };
  proto[WRAPPED] = true;
  return true;
}

/** A handler of each wrapped class, made without reading anything (their constructors only store arguments). */
const SAMPLES: Array<() => unknown> = [
  () => tf.io.http('http://localhost/model.json', { fetchFunc: () => Promise.reject(new Error('not used')) }),
  () => tf.io.browserFiles([{} as File]),
  // fromMemory's async handler calls this synchronous one's load.
  () => tf.io.fromMemorySync({ modelTopology: {} }),
];

/**
 * Wraps the load of tfjs's HTTP, browser-file and in-memory handlers so that a Keras 3 model
 * they load is translated (see fromKeras3); idempotent. The package's IO entry calls it. Returns
 * how many handler classes are wrapped.
 *
 * Usage: `registerKeras3Loading(); const model = await tf.loadLayersModel('https://host/keras3/model.json');`
 */
export function registerKeras3Loading(): number {
  let count = 0;
  for (const sample of SAMPLES) {
    try {
      if (wrap(Object.getPrototypeOf(sample()) as Loader)) count++;
    } catch {
      // A handler this platform cannot construct is one it cannot load with either.
    }
  }
  return count;
}
