// Writes dist/esm/index.mjs, an ES module that re-exports the CommonJS build, so `import` and
// `require` get the same module instance (and the layer is registered with tfjs only once).
const fs = require('fs');
const path = require('path');

const cjs = require(path.join(__dirname, '..', 'dist', 'cjs', 'index.js'));
const names = Object.keys(cjs).filter((name) => name !== 'default' && name !== '__esModule');
const lines = [
  "import cjs from '../cjs/index.js';",
  ...names.map((name) => `export const ${name} = cjs.${name};`),
  'export default cjs;',
  '',
];
fs.mkdirSync(path.join(__dirname, '..', 'dist', 'esm'), { recursive: true });
fs.writeFileSync(path.join(__dirname, '..', 'dist', 'esm', 'index.mjs'), lines.join('\n'));
console.log(`dist/esm/index.mjs re-exports ${names.length} names`);
