/**
 * `npm run bench:size`: how much this package adds to a minified browser bundle. Builds the same
 * small page twice, with tfjs alone and with this package's layer, through esbuild and through
 * vite (its default production build), and prints the bytes of JavaScript each writes.
 *
 * The pages import the package by name, so the bundlers resolve it through package.json's
 * `exports` as they would for a user (the package must be built: `npm run build`).
 *
 * Usage: `npm run bench:size` | `npm run bench:size -- --json`
 */
const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..');
const work = path.join(root, '.cache', 'bundle-size');

const MODEL = `
const model = tf.sequential({ layers: [tf.layers.dense({ units: 4, inputShape: [3] }), BN()] });
model.predict(tf.ones([2, 3])).print();
`;
const PAGES = {
  'tfjs alone': `import * as tf from '@tensorflow/tfjs';\nconst BN = () => tf.layers.batchNormalization();\n${MODEL}`,
  'tfjs + tfjs-batchnorm': `import * as tf from '@tensorflow/tfjs';\nimport { batchNormalization } from 'tfjs-batchnorm';\nconst BN = () => batchNormalization();\n${MODEL}`,
  // The same page that also opens a .keras / .h5 file (the browser-safe Keras entry's zip and HDF5 readers come along).
  'tfjs + tfjs-batchnorm + tfjs-batchnorm/keras (loadKerasModel)': `import * as tf from '@tensorflow/tfjs';\nimport { batchNormalization } from 'tfjs-batchnorm';\n` +
    `import { loadKerasModel } from 'tfjs-batchnorm/keras';\nconst BN = () => batchNormalization();\n${MODEL}` +
    `document.querySelector('input').onchange = async (e) => (await loadKerasModel(e.target.files[0])).summary();\n`,
};

function jsBytes(dir) {
  let total = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) total += jsBytes(p);
    else if (entry.name.endsWith('.js')) total += fs.statSync(p).size;
  }
  return total;
}

async function withEsbuild(dir) {
  await require('esbuild').build({
    entryPoints: [path.join(dir, 'main.js')], outfile: path.join(dir, 'esbuild', 'main.js'),
    bundle: true, minify: true, format: 'esm', platform: 'browser', logLevel: 'error',
    // Not this repository's tsconfig.json: its `paths` map 'tfjs-batchnorm' to src/ for the tests,
    // and esbuild honours them, which would bundle the sources instead of the built package.
    tsconfigRaw: '{}',
  });
  return jsBytes(path.join(dir, 'esbuild'));
}

async function withVite(dir) {
  const { build } = await import('vite');
  await build({
    root: dir, configFile: false, logLevel: 'silent',
    build: { outDir: path.join(dir, 'vite'), emptyOutDir: true, reportCompressedSize: false },
  });
  return jsBytes(path.join(dir, 'vite'));
}

async function main() {
  if (!fs.existsSync(path.join(root, 'dist', 'esm', 'index.mjs'))) throw new Error('run `npm run build` first');
  const rows = [];
  for (const [name, source] of Object.entries(PAGES)) {
    // Inside the package folder, so the page's `import 'tfjs-batchnorm'` resolves to this package.
    const dir = path.join(work, name.replace(/[^a-z]+/g, '-'));
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'main.js'), source);
    fs.writeFileSync(path.join(dir, 'index.html'), '<!doctype html><script type="module" src="./main.js"></script>\n');
    rows.push({ page: name, esbuild: await withEsbuild(dir), vite: await withVite(dir) });
  }
  if (process.argv.includes('--json')) {
    console.log(JSON.stringify(rows, null, 2));
    return;
  }
  const mb = (n) => `${(n / 1e6).toFixed(3)} MB`;
  const [alone, withPackage] = rows;
  console.log('Minified JavaScript of the same page (a Dense + BatchNormalization model):\n');
  console.log('| page | esbuild | vite |\n|---|---|---|');
  for (const r of rows) console.log(`| ${r.page} | ${mb(r.esbuild)} | ${mb(r.vite)} |`);
  const pct = (a, b) => `${(((b - a) / a) * 100).toFixed(1)} %`;
  console.log(`| growth | ${pct(alone.esbuild, withPackage.esbuild)} | ${pct(alone.vite, withPackage.vite)} |`);
  for (const r of rows.slice(2)) {
    console.log(`| ${r.page}: over the layers page | +${mb(r.esbuild - withPackage.esbuild)} | +${mb(r.vite - withPackage.vite)} |`);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
