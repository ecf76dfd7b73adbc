/**
 * Router registration against a stand-in for tfjs-node's file:// router (tfjs-node itself cannot
 * be installed here). Each scenario gets fresh module instances, so registries do not leak.
 */
type Tf = typeof import('@tensorflow/tfjs');
type Pkg = typeof import('../src');

function fresh(): { tf: Tf; load: () => Pkg } {
  let tf!: Tf;
  jest.isolateModules(() => { tf = require('@tensorflow/tfjs'); });
  // The package must see the same tfjs instance, so require it in the same isolated registry.
  let pkg!: Pkg;
  const load = () => {
    jest.isolateModules(() => {
      jest.doMock('@tensorflow/tfjs', () => tf);
      pkg = require('../src');
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

it('without tfjs-node, importing the package registers exactly one file:// handler', () => {
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

it('tfjs-node registered first: the package registers nothing and tfjs-node handles file://', () => {
  const { tf, load } = fresh();
  const node = registerFakeNodeRouter(tf);
  const pkg = load();
  expect(pkg.registerFileSystemRouters()).toBe(false);
  expect(tf.io.getSaveHandlers('file://m')).toEqual([node.save]);
  expect(tf.io.getLoadHandlers('file://m/model.json')).toEqual([node.load]);
});

it('tfjs-node required after the package: ours steps aside, so the URL stays unambiguous', () => {
  const { tf, load } = fresh();
  load();
  expect(tf.io.getSaveHandlers('file://m')).toHaveLength(1);
  const node = registerFakeNodeRouter(tf);
  expect(tf.io.getSaveHandlers('file://m')).toEqual([node.save]);
  expect(tf.io.getLoadHandlers('file://m/model.json')).toEqual([node.load]);
});
