/**
 * What importing each entry point changes in tfjs (README, "What importing changes in tfjs"):
 * the main entry registers its classes and kernels and wraps the stock BatchNormalization
 * loader, and nothing else; the `trainable` setter is installed by the first BatchNormalization
 * made; the `file://` routers and the Keras 3 translation of tfjs's own loaders come with
 * `tfjs-batchnorm/io` only. Each scenario imports into a fresh tfjs, so registries do not leak.
 */
import type * as tfjs from '@tensorflow/tfjs';

type Tf = typeof tfjs;

/** A fresh tfjs with `entries` (paths under src/) imported against it, and require for more. */
function freshTfjs(...entries: string[]): { tf: Tf; load: (entry: string) => Record<string, unknown> } {
  let tf!: Tf;
  jest.isolateModules(() => { tf = require('@tensorflow/tfjs'); });
  const load = (entry: string) => {
    let mod!: Record<string, unknown>;
    jest.isolateModules(() => {
      jest.doMock('@tensorflow/tfjs', () => tf);
      mod = require(entry);
    });
    return mod;
  };
  entries.forEach(load);
  return { tf, load };
}

afterEach(() => { jest.dontMock('@tensorflow/tfjs'); });

const fileHandlers = (tf: Tf) => tf.io.getSaveHandlers('file://m').length + tf.io.getLoadHandlers('file://m/model.json').length;
const httpLoadWrapped = (tf: Tf) => {
  const handler = tf.io.http('http://localhost/model.json', { fetchFunc: () => Promise.reject(new Error('not used')) });
  return (Object.getPrototypeOf(handler) as Record<symbol, unknown>)[Symbol.for('tfjs-batchnorm.keras3Load')] === true;
};
const trainableSetter = (tf: Tf) => Object.getOwnPropertyDescriptor(tf.LayersModel.prototype, 'trainable')?.set;
const stockLoaderWrapped = (tf: Tf) => {
  const entry = tf.serialization.SerializationMap.getMap().classNameMap['BatchNormalization'];
  return (entry[1] as unknown as Record<symbol, unknown>)[Symbol.for('tfjs-batchnorm.stockBatchNormLoader')] === true;
};

it('the main entry registers its layers and wraps the stock BatchNormalization loader, and patches nothing else', () => {
  const { tf, load } = freshTfjs();
  const untouched = { files: fileHandlers(tf), http: httpLoadWrapped(tf), setter: trainableSetter(tf), stock: stockLoaderWrapped(tf) };
  expect(untouched).toEqual({ files: 0, http: false, setter: undefined, stock: false });
  const pkg = load('../src');
  const classes = tf.serialization.SerializationMap.getMap().classNameMap;
  expect(Object.keys(classes)).toEqual(expect.arrayContaining(['TfjsBatchNormalization', 'BatchNormalizationV2', 'GroupNormalization']));
  expect({ files: fileHandlers(tf), http: httpLoadWrapped(tf), setter: trainableSetter(tf), stock: stockLoaderWrapped(tf) })
    .toEqual({ files: 0, http: false, setter: undefined, stock: true });
  // The model classes' loaders are wrapped too: they rebuild a model whose stock BatchNormalization
  // turns out (once built) to normalize a non-last axis, with this package's layer there.
  for (const cls of ['Sequential', 'Model', 'Functional']) {
    const entry = classes[cls] as unknown as [unknown, Record<symbol, unknown>];
    expect([cls, entry[1][Symbol.for('tfjs-batchnorm.stockBatchNormLoader')]]).toEqual([cls, true]);
  }
  // The first BatchNormalization made installs the setter that lets a frozen model freeze it.
  (pkg.batchNormalization as () => unknown)();
  expect(trainableSetter(tf)).toEqual(expect.any(Function));
});

it('tfjs-batchnorm/io adds the file:// routers and the Keras 3 translation of tfjs\'s own loaders', () => {
  const { tf } = freshTfjs('../src/io');
  expect({ files: fileHandlers(tf), http: httpLoadWrapped(tf), stock: stockLoaderWrapped(tf) }).toEqual({ files: 2, http: true, stock: true });
});

it('tfjs-batchnorm/keras adds the Keras 3 translation of tfjs\'s own loaders and no router', () => {
  const { tf } = freshTfjs('../src/io/keras3/browser');
  expect({ files: fileHandlers(tf), http: httpLoadWrapped(tf) }).toEqual({ files: 0, http: true });
});

it('tfjs-batchnorm/convert adds no router and wraps no loader of tfjs', () => {
  const { tf } = freshTfjs('../src/convert');
  expect({ files: fileHandlers(tf), http: httpLoadWrapped(tf) }).toEqual({ files: 0, http: false });
});
