// Writes what the package ships besides tsc's CommonJS build in dist/cjs (run after tsc):
//
//  - dist/esm/{index,io,keras,convert}.mjs, for bundlers and browsers: the entry points
//    (`tfjs-batchnorm`, `tfjs-batchnorm/io`, `tfjs-batchnorm/convert`) bundled by esbuild with
//    code splitting, so the code they share (the layers) is one chunk and one module instance.
//    `@tensorflow/tfjs` stays external, so a bundler links it to tfjs's own ES modules and
//    tree-shakes both. Only io.mjs imports Node's fs and path: a page that imports the main entry
//    gets no Node built-in and no IO or conversion code (checked below, from esbuild's metafile).
//  - dist/browser/tfjs-batchnorm.min.js, for a <script> tag after tfjs's own script: the main
//    entry as an IIFE that takes tfjs from the global `tf` and exposes `tfjsBatchnorm`.
//  - dist/esm/{index,io,keras,convert}.node.mjs, for `import` in Node: each re-exports the CommonJS
//    build, so `import` and `require` in one Node process share one module instance (no
//    dual-package hazard; Node's `import '@tensorflow/tfjs'` loads tfjs's CommonJS build too).
//  - dist/cli.js, the `tfjs-batchnorm` bin: src/cli bundled with `commander` (a devDependency),
//    requiring the rest of the package from dist/cjs, so the package has no runtime dependency.
const esbuild = require('esbuild');
const fs = require('fs');
const { builtinModules } = require('module');
const path = require('path');

const root = path.join(__dirname, '..');
const dist = path.join(root, 'dist');
const out = path.join(dist, 'esm');
const TFJS = ['@tensorflow/tfjs', '@tensorflow/tfjs-core', '@tensorflow/tfjs-layers'];
const NODE_BUILTINS = builtinModules.flatMap((m) => [m, `node:${m}`]);
// The package's dependencies (the Keras readers' zip and HDF5 libraries) stay imports: the
// user's bundler resolves them from node_modules, once, however many entries use them.
const DEPENDENCIES = Object.keys(require(path.join(root, 'package.json')).dependencies ?? {});

/** The package's entry points: exports subpath, source, CommonJS file (relative to dist/cjs). */
const ENTRIES = [
  { name: 'index', source: 'src/index.ts', cjs: 'index.js' },
  { name: 'io', source: 'src/io/index.ts', cjs: 'io/index.js' },
  { name: 'convert', source: 'src/convert/index.ts', cjs: 'convert/index.js' },
  // Keras files in a page: the browser-safe part of the IO (no Node built-ins; checked below).
  { name: 'keras', source: 'src/io/keras3/browser.ts', cjs: 'io/keras3/browser.js' },
];

/** Source files (relative to the root) that end up in `output` and the chunks it imports. */
function inputsOf(metafile, output) {
  const seen = new Set();
  const inputs = new Set();
  const visit = (file) => {
    if (seen.has(file)) return;
    seen.add(file);
    const o = metafile.outputs[file];
    for (const input of Object.keys(o.inputs)) inputs.add(input);
    for (const imported of o.imports) if (!imported.external) visit(imported.path);
  };
  visit(output);
  return [...inputs];
}

/** Throws if the main entry's bundle holds IO, conversion or CLI code, or imports a Node built-in. */
function checkMainEntry(metafile, output) {
  const foreign = inputsOf(metafile, output).filter((f) => /^src\/(io|convert|cli)\//.test(f));
  if (foreign.length > 0) throw new Error(`${output} carries code that is not the layers': ${foreign.join(', ')}`);
  checkNoBuiltins(metafile, output);
}

/** Throws if `output` or a chunk it imports imports a Node built-in. */
function checkNoBuiltins(metafile, output) {
  const visited = new Set();
  const builtins = [];
  const visit = (file) => {
    if (visited.has(file)) return;
    visited.add(file);
    for (const imported of metafile.outputs[file].imports) {
      if (!imported.external) visit(imported.path);
      else if (NODE_BUILTINS.includes(imported.path)) builtins.push(imported.path);
    }
  };
  visit(output);
  if (builtins.length > 0) throw new Error(`${output} imports Node's ${builtins.join(', ')}`);
}

async function buildModules() {
  fs.rmSync(out, { recursive: true, force: true });
  const result = await esbuild.build({
    absWorkingDir: root,
    entryPoints: Object.fromEntries(ENTRIES.map((e) => [e.name, e.source])),
    outdir: out,
    outExtension: { '.js': '.mjs' },
    chunkNames: 'chunks/[name]-[hash]',
    splitting: true,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2019',
    // Node's built-ins stay imports (only io.mjs has them): a browser bundle that imports
    // `tfjs-batchnorm/io` then fails at build time, naming `fs`, rather than in the page.
    external: [...TFJS, ...DEPENDENCIES, ...NODE_BUILTINS],
    metafile: true,
    sourcemap: true,
    logLevel: 'warning',
  });
  checkMainEntry(result.metafile, 'dist/esm/index.mjs');
  checkNoBuiltins(result.metafile, 'dist/esm/keras.mjs');
  checkNoBuiltins(result.metafile, 'dist/esm/convert.mjs');
  return result.metafile;
}

async function buildScriptTag() {
  // tfjs comes from the page's global `tf` (tfjs's tf.min.js sets it).
  const globalTf = {
    name: 'global-tf',
    setup(build) {
      build.onResolve({ filter: /^@tensorflow\/tfjs(-core|-layers)?$/ }, (args) => ({ path: args.path, namespace: 'global-tf' }));
      build.onLoad({ filter: /.*/, namespace: 'global-tf' }, () => ({
        contents: "if (typeof tf === 'undefined') throw new Error('tfjs-batchnorm: load @tensorflow/tfjs (tf.min.js) before this script'); module.exports = tf;",
        loader: 'js',
      }));
    },
  };
  const result = await esbuild.build({
    absWorkingDir: root,
    entryPoints: ['src/index.ts'],
    outfile: path.join(dist, 'browser', 'tfjs-batchnorm.min.js'),
    bundle: true,
    format: 'iife',
    globalName: 'tfjsBatchnorm',
    platform: 'browser',
    target: 'es2019',
    minify: true,
    sourcemap: true,
    metafile: true,
    plugins: [globalTf],
    logLevel: 'warning',
  });
  checkMainEntry(result.metafile, 'dist/browser/tfjs-batchnorm.min.js');
}

function writeNodeWrappers() {
  const counts = [];
  for (const entry of ENTRIES) {
    const cjs = require(path.join(dist, 'cjs', entry.cjs));
    const names = Object.keys(cjs).filter((name) => name !== 'default' && name !== '__esModule');
    const lines = [
      `import cjs from '../cjs/${entry.cjs}';`,
      ...names.map((name) => `export const ${name} = cjs.${name};`),
      'export default cjs;',
      '',
    ];
    fs.writeFileSync(path.join(out, `${entry.name}.node.mjs`), lines.join('\n'));
    counts.push(`${entry.name} ${names.length}`);
  }
  return counts.join(', ');
}

async function buildCli() {
  // The CLI's own files and commander go into dist/cli.js; every other module of the package is
  // required from dist/cjs, the copy `require('tfjs-batchnorm')` loads.
  const cliDir = path.join(root, 'src', 'cli');
  const packageModules = {
    name: 'package-modules',
    setup(build) {
      build.onResolve({ filter: /^\.\.?\// }, (args) => {
        if (!args.importer.startsWith(cliDir + path.sep)) return undefined;
        const target = path.resolve(args.resolveDir, args.path);
        if (target.startsWith(cliDir + path.sep)) return undefined;
        const file = fs.existsSync(`${target}.ts`) ? target : path.join(target, 'index');
        const relative = path.relative(path.join(root, 'src'), file).split(path.sep).join('/');
        return { path: `./cjs/${relative}.js`, external: true };
      });
    },
  };
  await esbuild.build({
    absWorkingDir: root,
    entryPoints: ['src/cli/main.ts'],
    outfile: path.join(dist, 'cli.js'),
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node18',
    external: ['@tensorflow/*'],
    plugins: [packageModules],
    logLevel: 'warning',
  });
  fs.chmodSync(path.join(dist, 'cli.js'), 0o755);
}

async function main() {
  const metafile = await buildModules();
  await buildScriptTag();
  const counts = writeNodeWrappers();
  await buildCli();
  const kb = (file) => `${(fs.statSync(path.join(root, file)).size / 1024).toFixed(0)} KB`;
  const mainInputs = inputsOf(metafile, 'dist/esm/index.mjs').length;
  console.log(`dist/esm/{index,io,keras,convert}.mjs (bundlers; the main entry from ${mainInputs} source files, no IO or conversion), ` +
    `dist/browser/tfjs-batchnorm.min.js (script tag, ${kb('dist/browser/tfjs-batchnorm.min.js')}), ` +
    `dist/esm/*.node.mjs (Node; names: ${counts}), dist/cli.js (bin, ${kb('dist/cli.js')})`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
