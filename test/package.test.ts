/**
 * The built package: `npm run build` writes dist/, which works through CommonJS `require` and
 * ESM `import` for each entry point (`tfjs-batchnorm`, `tfjs-batchnorm/io`,
 * `tfjs-batchnorm/convert`), ships type declarations, registers the layer with tfjs once, and
 * installs from its tarball with no dependency of its own.
 */
import { execFileSync, spawnSync } from 'child_process';
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

test('import gives the same modules as require, through the exports map, for every entry point', () => {
  const out = node(['--input-type=module', '-e', `
    import { createRequire } from 'module';
    import { BatchNormalization } from 'tfjs-batchnorm';
    import { loadModel } from 'tfjs-batchnorm/io';
    import { loadKerasModel } from 'tfjs-batchnorm/keras';
    import { foldBatchNorm } from 'tfjs-batchnorm/convert';
    const require = createRequire(process.cwd() + '/');
    console.log(JSON.stringify([BatchNormalization === require('tfjs-batchnorm').BatchNormalization,
      loadModel === require('tfjs-batchnorm/io').loadModel, loadKerasModel === require('tfjs-batchnorm/keras').loadKerasModel,
      loadKerasModel === require('tfjs-batchnorm/io').loadKerasModel, foldBatchNorm === require('tfjs-batchnorm/convert').foldBatchNorm,
      typeof BatchNormalization, typeof loadModel, typeof loadKerasModel, typeof foldBatchNorm]));`]);
  expect(JSON.parse(out.trim().split('\n').pop()!)).toEqual([true, true, true, true, true, 'function', 'function', 'function', 'function']);
});

test('type declarations are written for each entry point', () => {
  expect(fs.readFileSync(path.join(root, 'dist/cjs/index.d.ts'), 'utf8')).toMatch(/BatchNormalization/);
  expect(fs.readFileSync(path.join(root, 'dist/cjs/io/index.d.ts'), 'utf8')).toMatch(/loadModel, saveModel/);
  expect(fs.readFileSync(path.join(root, 'dist/cjs/io/keras3/browser.d.ts'), 'utf8')).toMatch(/loadKerasModel/);
  expect(fs.readFileSync(path.join(root, 'dist/cjs/convert/index.d.ts'), 'utf8')).toMatch(/convertNormalization/);
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

/** An ES module of dist/esm and the chunks it imports, as one text. */
function esmWithChunks(file: string, seen = new Set<string>()): string {
  if (seen.has(file)) return '';
  seen.add(file);
  const text = fs.readFileSync(file, 'utf8');
  const chunks = [...text.matchAll(/from "(\.\.?\/[^"]+)"|import "(\.\.?\/[^"]+)"/g)].map((m) => path.resolve(path.dirname(file), m[1] ?? m[2]));
  return [text, ...chunks.map((c) => esmWithChunks(c, seen))].join('\n');
}

test('the bundler entry imports tfjs and carries no Node built-in, file IO or conversion code', () => {
  const esm = esmWithChunks(path.join(root, 'dist/esm/index.mjs'));
  expect(esm).toMatch(/from "@tensorflow\/tfjs"/);
  expect(esm).toMatch(/TfjsBatchNormalization/);
  // Strings only the IO and conversion code holds: the io entry has them, the main entry does not.
  const ioOnly = /require\(["']|from "(node:)?(fs|path|crypto)"|file:\/\/|ModelFileError|foldBatchNorm|convertNormalization/;
  expect(esm).not.toMatch(ioOnly);
  expect(esmWithChunks(path.join(root, 'dist/esm/io.mjs'))).toMatch(/from "fs"/);
  expect(esmWithChunks(path.join(root, 'dist/esm/convert.mjs'))).toMatch(/foldBatchNorm/);
  // The Keras readers work in a page: no Node built-in; fflate and jsfive stay imports, for the bundler.
  const keras = esmWithChunks(path.join(root, 'dist/esm/keras.mjs'));
  expect(keras).toMatch(/loadKerasModel/);
  expect(keras).toMatch(/from "fflate"/);
  expect(keras).not.toMatch(/require\(["']|from "(node:)?(fs|path|crypto|os)"/);
  const script = fs.readFileSync(path.join(root, 'dist/browser/tfjs-batchnorm.min.js'), 'utf8');
  expect(script).not.toMatch(/file:\/\/|ModelFileError|model\.json/);
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  for (const [entry, file] of [['.', 'index'], ['./io', 'io'], ['./keras', 'keras'], ['./convert', 'convert']]) {
    expect(pkg.exports[entry].import).toBe(`./dist/esm/${file}.mjs`);
    expect(pkg.exports[entry].node.import).toBe(`./dist/esm/${file}.node.mjs`);
  }
  // Nothing maps Node's modules for browsers any more: the main entry needs none.
  expect(pkg.browser).toBeUndefined();
});

test('the tarball installs; require, import, the bin and strict TypeScript (node16) work; the main entry loads no dependency', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  // The command line's parser is bundled into dist/cli.js; what remains is the Keras file
  // readers of tfjs-batchnorm/io (zip and HDF5), which the main entry never loads (below).
  const dependencies = Object.keys(pkg.dependencies ?? {}).sort();
  expect(dependencies).not.toContain('commander');
  // Inside the repository, so the app's tfjs is the repository's one copy (no download).
  const app = path.join(root, '.cache', 'pack-app');
  fs.rmSync(app, { recursive: true, force: true });
  fs.mkdirSync(app, { recursive: true });
  const packed = JSON.parse(execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', app], { cwd: root, encoding: 'utf8' }))[0];
  const files = (packed.files as { path: string }[]).map((f) => f.path);
  expect(files).toEqual(expect.arrayContaining(['dist/cli.js', 'dist/esm/index.mjs', 'dist/esm/io.node.mjs', 'dist/cjs/convert/index.d.ts']));
  expect(files.filter((f) => /browser_stubs|dist\/cjs\/cli\//.test(f))).toEqual([]);
  fs.writeFileSync(path.join(app, 'package.json'), '{ "name": "app", "version": "1.0.0", "private": true }\n');
  execFileSync('npm', ['install', '--prefer-offline', '--legacy-peer-deps', '--no-audit', '--no-fund', '--ignore-scripts', '--no-package-lock',
    path.join(app, packed.filename)], { cwd: app, stdio: 'pipe' });
  // What the install added: the package, its dependencies and theirs.
  const installed = fs.readdirSync(path.join(app, 'node_modules')).filter((f) => !f.startsWith('.') && f !== 'tfjs-batchnorm');
  expect(installed).toEqual(expect.arrayContaining(dependencies));
  expect(installed).not.toContain('commander');
  const run = (args: string[]) => execFileSync(process.execPath, args, { cwd: app, encoding: 'utf8' }).trim().split('\n').pop();
  const check = `const handlers = () => tf.io.getSaveHandlers('file://m').length;
    const before = handlers();
    const { batchNormalization } = await load('tfjs-batchnorm');
    const afterMain = handlers();
    const loaded = Object.keys(require.cache).filter((f) => /node_modules[\\\\/](${installed.join('|')})[\\\\/]/.test(f));
    if (loaded.length > 0) throw new Error('the main entry loaded ' + loaded.join(', '));
    const { loadModel, saveModel } = await load('tfjs-batchnorm/io');
    const { convertNormalization } = await load('tfjs-batchnorm/convert');
    const model = tf.sequential({ layers: [tf.layers.dense({ units: 3, inputShape: [2] }), batchNormalization()] });
    await saveModel(model, 'saved');
    const { counts } = await convertNormalization(await loadModel('saved'), 'stock');
    console.log(JSON.stringify([before, afterMain, handlers(), counts.batchNormalization]));`;
  const expected = JSON.stringify([0, 0, 1, 1]);
  expect(run(['-e', `const tf = require('@tensorflow/tfjs'); const load = async (m) => require(m); (async () => { ${check} })();`])).toBe(expected);
  expect(run(['--input-type=module', '-e', `import * as tf from '@tensorflow/tfjs'; import { createRequire } from 'module';
    const require = createRequire(process.cwd() + '/'); const load = (m) => import(m); ${check}`])).toBe(expected);
  const bin = execFileSync(path.join(app, 'node_modules', '.bin', 'tfjs-batchnorm'), ['fold', 'saved/model.json', 'folded'], { cwd: app, encoding: 'utf8' });
  expect(bin).toMatch(/^Folded 1 of 1 BatchNormalization layer\(s\); wrote folded/);
  fs.writeFileSync(path.join(app, 'esm.mts'), [
    "import * as tf from '@tensorflow/tfjs';",
    "import { batchNormalization, type BatchNormalizationArgs } from 'tfjs-batchnorm';",
    "import { loadModel } from 'tfjs-batchnorm/io';",
    "import { convertNormalization, type ConversionResult } from 'tfjs-batchnorm/convert';",
    'const args: BatchNormalizationArgs = { momentum: 0.9 };',
    'const model: tf.LayersModel = tf.sequential({ layers: [batchNormalization(args)] });',
    "export const converted: Promise<ConversionResult> = loadModel('m').then(() => convertNormalization(model, 'stock'));",
  ].join('\n'));
  fs.writeFileSync(path.join(app, 'cjs.cts'), [
    "import bn = require('tfjs-batchnorm');",
    "import io = require('tfjs-batchnorm/io');",
    "import cv = require('tfjs-batchnorm/convert');",
    "export const made: unknown = [bn.batchNormalization({ axis: 1 }), io.saveModel, cv.foldBatchNorm];",
    // Not exported by the main entry: IO lives in tfjs-batchnorm/io.
    '// @ts-expect-error',
    'export const missing: unknown = bn.loadModel;',
  ].join('\n'));
  const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  execFileSync(process.execPath, [tsc, '--noEmit', '--strict', '--module', 'node16', '--moduleResolution', 'node16', '--target', 'es2020',
    '--skipLibCheck', '--types', 'node', 'esm.mts', 'cjs.cts'], { cwd: app, encoding: 'utf8' });
  fs.rmSync(app, { recursive: true, force: true });
}, 120000);

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
  // Uncaught, as in a user's app: the check runs before this package registers anything, so no
  // "already registered" notice from the second copy's kernels comes before the error.
  const uncaught = spawnSync(process.execPath, ['-e', `require(${appTfjs}); require(${ours});`], { cwd: app, encoding: 'utf8' });
  // Loaded the other way round, the second copy shows when the first layer is made.
  const packageFirst = run(`const { batchNormalization } = require(${ours}); require(${appTfjs}); batchNormalization();`);
  fs.rmSync(app, { recursive: true, force: true });
  const folders = `this package imports ${path.join(root, 'node_modules', '@tensorflow', 'tfjs')}, and ${path.join(appTf, 'tfjs')} is loaded too`;
  expect(uncaught.status).toBe(1);
  const errorAt = uncaught.stderr.indexOf('two copies of @tensorflow/tfjs are loaded');
  expect(errorAt).toBeGreaterThanOrEqual(0);
  expect(uncaught.stderr.slice(0, errorAt)).not.toMatch(/already registered|Overwriting/i);
  for (const message of [tfFirst, packageFirst]) {
    expect(message).toContain('two copies of @tensorflow/tfjs are loaded');
    expect(message).toContain(folders);
    expect(message).toContain('npm install --install-links');
    expect(message).toContain('npm pack');
  }
});
