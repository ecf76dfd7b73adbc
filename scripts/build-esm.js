// Writes the package's two ES module entries (after tsc has written dist/cjs):
//
//  - dist/esm/index.mjs, for bundlers and browsers: src/ bundled by esbuild into one ES module
//    that imports `@tensorflow/tfjs` (left external), so a bundler links it to tfjs's own ES
//    modules and tree-shakes both. Node's fs/path/crypto are replaced by the stand-ins of
//    src/browser_stubs/ (package.json's `browser` field, which users' bundlers apply to the
//    CommonJS build too): no Node built-in enters a browser bundle, and the file:// IO, if
//    called in a page, throws one clear error.
//  - dist/browser/tfjs-batchnorm.min.js, for a <script> tag after tfjs's own script: the same
//    bundle as an IIFE that takes tfjs from the global `tf` and exposes `tfjsBatchnorm`.
//  - dist/esm/node.mjs, for `import` in Node: re-exports the CommonJS build, so `import` and
//    `require` in one Node process share one module instance (no dual-package hazard there;
//    Node's `import '@tensorflow/tfjs'` loads tfjs's CommonJS build too).
const esbuild = require('esbuild');
const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..');
const out = path.join(root, 'dist', 'esm');

// In a page there is no file system, and registerFileSystemRouters() registers nothing there
// (it checks for Node). Giving the browser builds a router module that says so up front lets a
// bundler drop the whole file:// IO from a page that does not import it.
const browserRouter = {
  name: 'browser-router',
  setup(build) {
    build.onLoad({ filter: /[\\/]src[\\/]io[\\/]router\.ts$/ }, () => ({
      contents: 'export function registerFileSystemRouters() { return false; }\n',
      loader: 'ts',
    }));
  },
};

async function main() {
  fs.mkdirSync(out, { recursive: true });
  await esbuild.build({
    absWorkingDir: root,
    entryPoints: ['src/index.ts'],
    outfile: path.join(out, 'index.mjs'),
    plugins: [browserRouter],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2019',
    external: ['@tensorflow/tfjs', '@tensorflow/tfjs-core', '@tensorflow/tfjs-layers'],
    sourcemap: true,
    logLevel: 'warning',
  });
  const text = fs.readFileSync(path.join(out, 'index.mjs'), 'utf8');
  for (const builtin of ['fs', 'path', 'crypto']) {
    if (new RegExp(`from ["']${builtin}["']|require\\(["']${builtin}["']\\)`).test(text)) {
      throw new Error(`dist/esm/index.mjs still imports Node's '${builtin}'`);
    }
  }

  // The script-tag build: tfjs comes from the page's global `tf` (tfjs's tf.min.js sets it).
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
  await esbuild.build({
    absWorkingDir: root,
    entryPoints: ['src/index.ts'],
    outfile: path.join(root, 'dist', 'browser', 'tfjs-batchnorm.min.js'),
    bundle: true,
    format: 'iife',
    globalName: 'tfjsBatchnorm',
    platform: 'browser',
    target: 'es2019',
    minify: true,
    sourcemap: true,
    plugins: [globalTf],
    logLevel: 'warning',
  });

  const cjs = require(path.join(root, 'dist', 'cjs', 'index.js'));
  const names = Object.keys(cjs).filter((name) => name !== 'default' && name !== '__esModule');
  const lines = [
    "import cjs from '../cjs/index.js';",
    ...names.map((name) => `export const ${name} = cjs.${name};`),
    'export default cjs;',
    '',
  ];
  fs.writeFileSync(path.join(out, 'node.mjs'), lines.join('\n'));
  const script = fs.statSync(path.join(root, 'dist', 'browser', 'tfjs-batchnorm.min.js')).size;
  console.log(`dist/esm/index.mjs (bundlers, ${(text.length / 1024).toFixed(0)} KB), ` +
    `dist/browser/tfjs-batchnorm.min.js (script tag, ${(script / 1024).toFixed(0)} KB) and dist/esm/node.mjs (Node, ${names.length} names)`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
