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
