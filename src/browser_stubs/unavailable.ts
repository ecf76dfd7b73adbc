/**
 * Stand-ins for Node's fs, path and crypto in browser bundles (package.json's `browser` field
 * maps the built-ins here). Importing them costs nothing and reading constants works, so the
 * package loads in a page; calling any function throws one clear error, since only the file://
 * IO uses them and a page has no file system.
 */

/**
 * A function that throws, naming what was called.
 *
 * Usage: `export const join = unavailable('path.join');`
 */
export function unavailable(what: string): (...args: unknown[]) => never {
  return () => {
    throw new Error(`tfjs-batchnorm: ${what} needs Node's file system, which a browser does not have; in a page, ` +
      'load and save models through http(s):// or indexeddb:// URLs with tf.loadLayersModel and model.save.');
  };
}

/**
 * An object whose every property is such a function (for `fs.promises`).
 *
 * Usage: `export const promises = unavailableObject('fs.promises');`
 */
export function unavailableObject(prefix: string): Record<string, (...args: unknown[]) => never> {
  return new Proxy({}, { get: (_target, name) => unavailable(`${prefix}.${String(name)}`) });
}
