/**
 * Router registration against a stand-in for tfjs-node's file:// router (the real one is tested
 * in test/tensorflow/, on the tensorflow backend). Each scenario gets fresh module instances, so
 * registries do not leak.
 */
type Tf = typeof import('@tensorflow/tfjs');
type Router = typeof import('../src/io/router');

/** Fresh tfjs, and a loader that imports `entry` against it and returns the router module. */
function fresh(entry = '../src/io'): { tf: Tf; load: () => Router } {
  let tf!: Tf;
  jest.isolateModules(() => { tf = require('@tensorflow/tfjs'); });
  // The package must see the same tfjs instance, so require it in the same isolated registry.
  let pkg!: Router;
  const load = () => {
    jest.isolateModules(() => {
      jest.doMock('@tensorflow/tfjs', () => tf);
      require(entry);
      pkg = require('../src/io/router');
    });
    return pkg;
  };
  return { tf, load };
}

/** What tfjs-node registers: a router claiming file:// URLs. */
function registerFakeNodeRouter(tf: Tf): { save: Record<string, unknown>; load: Record<string, unknown> } {
  const handlers = { save: { owner: 'tfjs-node-save' }, load: { owner: 'tfjs-node-load' } };
  const route = (kind: 'save' | 'load') => ((url: string | string[]) =>
    (typeof url === 'string' && url.startsWith('file://') ? handlers[kind] : null)) as never;
  tf.io.registerSaveRouter(route('save'));
  tf.io.registerLoadRouter(route('load'));
  return handlers;
}

afterEach(() => { jest.dontMock('@tensorflow/tfjs'); });

it('without tfjs-node, importing tfjs-batchnorm/io registers exactly one file:// handler', () => {
  const { tf, load } = fresh();
  expect(tf.io.getSaveHandlers('file://m')).toHaveLength(0);
  const pkg = load();
  expect(pkg.registerFileSystemRouters()).toBe(true);
  expect(tf.io.getSaveHandlers('file://m')).toHaveLength(1);
  expect(tf.io.getLoadHandlers('file://m/model.json')).toHaveLength(1);
  // Other schemes are left alone: http:// still gets only tfjs's own handler.
  expect(tf.io.getSaveHandlers('http://example.com/m')).toHaveLength(1);
  // Registering twice changes nothing.
  pkg.registerFileSystemRouters();
  expect(tf.io.getSaveHandlers('file://m')).toHaveLength(1);
});

/** What this package's handler is: not one of the stand-in's objects, and it has save and load. */
function expectOurs(handlers: unknown[], node: { save: unknown; load: unknown }): void {
  expect(handlers).toHaveLength(1);
  expect(handlers[0]).not.toBe(node.save);
  expect(handlers[0]).not.toBe(node.load);
  expect(typeof (handlers[0] as { load?: unknown }).load).toBe('function');
  expect(typeof (handlers[0] as { save?: unknown }).save).toBe('function');
}

it("tfjs-node registered first: the package's handler serves file:// and tfjs-node's steps aside", () => {
  const { tf, load } = fresh();
  const node = registerFakeNodeRouter(tf);
  expect(tf.io.getSaveHandlers('file://m')).toEqual([node.save]);
  const pkg = load();
  expect(pkg.registerFileSystemRouters()).toBe(true);
  expectOurs(tf.io.getSaveHandlers('file://m'), node);
  expectOurs(tf.io.getLoadHandlers('file://m/model.json'), node);
});

it('tfjs-node required after the package: ours still serves file://, exactly one handler', () => {
  const { tf, load } = fresh();
  load();
  expect(tf.io.getSaveHandlers('file://m')).toHaveLength(1);
  const node = registerFakeNodeRouter(tf);
  expectOurs(tf.io.getSaveHandlers('file://m'), node);
  expectOurs(tf.io.getLoadHandlers('file://m/model.json'), node);
  // Asked again: still one (nothing wrapped twice, nothing re-registered).
  expectOurs(tf.io.getSaveHandlers('file://m'), node);
});

it('the stepped-aside router still gets every URL that is not a file:// string', () => {
  const { tf, load } = fresh();
  load();
  const seen: unknown[] = [];
  tf.io.registerLoadRouter(((url: string | string[]) => { seen.push(url); return { owner: 'other' }; }) as never);
  expect(tf.io.getLoadHandlers('file://m/model.json')).toHaveLength(1);
  expect(seen).toEqual([]);
  expect(tf.io.getLoadHandlers('grpc://host/m')).toEqual([{ owner: 'other' }]);
  // Arrays of paths are not this package's form: they go on to the other router unchanged.
  expect(tf.io.getLoadHandlers(['file://a/model.json', 'file://a/w.bin'] as never)).toEqual([{ owner: 'other' }]);
  expect(seen).toEqual(['grpc://host/m', ['file://a/model.json', 'file://a/w.bin']]);
});

it('the main entry registers no file:// handler: only tfjs-batchnorm/io does', () => {
  const { tf, load } = fresh('../src');
  load();
  expect(tf.io.getSaveHandlers('file://m')).toHaveLength(0);
  expect(tf.io.getLoadHandlers('file://m/model.json')).toHaveLength(0);
});
