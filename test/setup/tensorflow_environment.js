/**
 * Jest environment for the suites run on tfjs-node's `tensorflow` backend.
 *
 * Jest gives every test file its own global object (a fresh V8 context), with its own
 * Float32Array, ArrayBuffer and so on. tfjs-node's native addon creates typed arrays in Node's
 * main context, and tfjs-core checks them with `instanceof Float32Array` against the test file's
 * constructors, which fails across contexts ("Unsupported TypedArray subtype", weights that will
 * not encode). Plain Node has one context, so there the same code works.
 *
 * This environment is jest's node environment with the binary-data constructors replaced by
 * Node's own: then arrays made by the test, by tfjs and by the addon share one set of
 * constructors, as in a plain Node process. Everything else stays per file.
 */
const { TestEnvironment } = require('jest-environment-node');

const SHARED = [
  'ArrayBuffer', 'SharedArrayBuffer', 'DataView',
  'Int8Array', 'Uint8Array', 'Uint8ClampedArray', 'Int16Array', 'Uint16Array',
  'Int32Array', 'Uint32Array', 'Float32Array', 'Float64Array', 'BigInt64Array', 'BigUint64Array',
];

class TensorflowEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    for (const name of SHARED) {
      if (globalThis[name] !== undefined) this.global[name] = globalThis[name];
    }
  }
}

module.exports = TensorflowEnvironment;
