/**
 * The built package: `npm run build` writes dist/, which works through CommonJS `require` and
 * ESM `import`, ships type declarations, and registers the layer with tfjs once.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

const root = path.join(__dirname, '..');
const node = (args: string[]) => execFileSync(process.execPath, args, { cwd: root, encoding: 'utf8' });

beforeAll(() => {
  execFileSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: 'pipe' });
}, 180000);

test('require() gives the layer and its factory, and a model with it trains', () => {
  const out = node(['-e', `
    const tf = require('@tensorflow/tfjs');
    const { BatchNormalization, batchNormalization } = require('./dist/cjs/index.js');
    tf.setBackend('cpu').then(async () => {
      const m = tf.sequential({ layers: [tf.layers.dense({ units: 3, inputShape: [2] }), batchNormalization({ axis: -1 })] });
      m.compile({ optimizer: 'sgd', loss: 'meanSquaredError' });
      const h = await m.fit(tf.ones([4, 2]), tf.zeros([4, 3]), { epochs: 1, verbose: 0 });
      console.log(JSON.stringify({ cls: BatchNormalization.className, isLayer: m.layers[1] instanceof tf.layers.Layer, loss: h.history.loss.length }));
    });`]);
  expect(JSON.parse(out.trim().split('\n').pop()!)).toEqual({ cls: 'TfjsBatchNormalization', isLayer: true, loss: 1 });
});

test('import gives the same module as require, through the exports map', () => {
  const out = node(['--input-type=module', '-e', `
    import { createRequire } from 'module';
    import { BatchNormalization } from 'tfjs-batchnorm';
    const cjs = createRequire(process.cwd() + '/')('tfjs-batchnorm');
    console.log(BatchNormalization === cjs.BatchNormalization && typeof BatchNormalization === 'function');`]);
  expect(out.trim().split('\n').pop()).toBe('true');
});

test('type declarations are written for the entry', () => {
  const dts = fs.readFileSync(path.join(root, 'dist/cjs/index.d.ts'), 'utf8');
  expect(dts).toMatch(/BatchNormalization/);
  expect(fs.readFileSync(path.join(root, 'dist/cjs/layer/batch_normalization.d.ts'), 'utf8')).toMatch(/export interface BatchNormalizationArgs/);
});

test('a second copy of the package loaded beside the first shares its registered layer class', () => {
  const out = node(['-e', `
    const tf = require('@tensorflow/tfjs');
    const first = require('./dist/cjs/index.js');
    for (const k of Object.keys(require.cache)) if (k.includes('/dist/cjs/')) delete require.cache[k];
    const second = require('./dist/cjs/index.js');
    const registered = tf.serialization.SerializationMap.getMap().classNameMap.TfjsBatchNormalization[0];
    console.log(JSON.stringify({ twoCopies: first !== second, same: first.BatchNormalization === second.BatchNormalization,
      registered: registered === first.BatchNormalization, instance: second.batchNormalization() instanceof first.BatchNormalization }));`]);
  expect(JSON.parse(out.trim().split('\n').pop()!)).toEqual({ twoCopies: true, same: true, registered: true, instance: true });
});

test('the bundler entry is one ES module that imports tfjs and none of the Node built-ins', () => {
  const esm = fs.readFileSync(path.join(root, 'dist/esm/index.mjs'), 'utf8');
  expect(esm).toMatch(/from "@tensorflow\/tfjs"/);
  expect(esm).not.toMatch(/require\(["']|from "(fs|path|crypto)"/);
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  expect(pkg.exports['.'].import).toBe('./dist/esm/index.mjs');
  expect(pkg.exports['.'].node.import).toBe('./dist/esm/node.mjs');
});

test('a second copy of @tensorflow/tfjs is refused at import, naming both folders and the fix', () => {
  // An app with its own tfjs (hard-linked copies: a distinct folder, no disk cost) loads tfjs,
  // then this package, which resolves the repository's copy, as a linked install would.
  const app = path.join(root, '.cache', 'second-copy');
  const appTf = path.join(app, 'node_modules', '@tensorflow');
  fs.rmSync(app, { recursive: true, force: true });
  fs.mkdirSync(appTf, { recursive: true });
  for (const name of fs.readdirSync(path.join(root, 'node_modules', '@tensorflow'))) {
    execFileSync('cp', ['-al', path.join(root, 'node_modules', '@tensorflow', name), appTf]);
  }
  const appTfjs = JSON.stringify(path.join(appTf, 'tfjs'));
  const ours = JSON.stringify(path.join(root, 'dist/cjs/index.js'));
  const run = (body: string) => {
    const out = execFileSync(process.execPath, ['-e', `try { ${body} console.log('"loaded"'); } catch (e) { console.log(JSON.stringify(e.message)); }`],
      { cwd: app, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return JSON.parse(out.trim().split('\n').pop()!) as string;
  };
  const tfFirst = run(`require(${appTfjs}); require(${ours});`);
  // Loaded the other way round, the second copy shows when the first layer is made.
  const packageFirst = run(`const { batchNormalization } = require(${ours}); require(${appTfjs}); batchNormalization();`);
  fs.rmSync(app, { recursive: true, force: true });
  const folders = `this package imports ${path.join(root, 'node_modules', '@tensorflow', 'tfjs')}, and ${path.join(appTf, 'tfjs')} is loaded too`;
  for (const message of [tfFirst, packageFirst]) {
    expect(message).toContain('two copies of @tensorflow/tfjs are loaded');
    expect(message).toContain(folders);
    expect(message).toContain('npm install --install-links');
    expect(message).toContain('npm pack');
  }
});
