/**
 * convert and fold carry the files beside the input model.json (Teachable Machine's
 * metadata.json) into a new output folder, and `convert` says plainly when there is nothing to
 * convert.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { cli } from './support/cli';
import { saveModel } from '../src/io';
import { cleanUp, tempDir, TM_DIR, TM_JSON } from './fixtures/helpers';

let root: string;
beforeAll(async () => {
  await tf.setBackend('cpu');
  root = tempDir();
});
afterAll(() => cleanUp(root));

test('convert into a new folder copies metadata.json beside the model, and nothing of the model itself twice', async () => {
  const out = path.join(root, 'tm-custom');
  const r = await cli('convert', TM_JSON, out, '--to', 'custom');
  expect(r.code).toBe(0);
  expect(r.stdout).toContain('Copied LICENSE, SOURCE.md, metadata.json from beside the input model');
  expect(fs.readFileSync(path.join(out, 'metadata.json'), 'utf8')).toBe(fs.readFileSync(path.join(TM_DIR, 'metadata.json'), 'utf8'));
  expect(fs.readdirSync(out).sort()).toEqual(['LICENSE', 'SOURCE.md', 'metadata.json', 'model.json', 'weights.bin']);
});

test('a file the output folder already has is kept, not overwritten', async () => {
  const out = path.join(root, 'tm-folded');
  fs.mkdirSync(out);
  fs.writeFileSync(path.join(out, 'metadata.json'), '{"mine": true}');
  const r = await cli('fold', TM_JSON, out, '--no-timing');
  expect(r.code).toBe(0);
  expect(r.stdout).toContain('Copied LICENSE, SOURCE.md from beside the input model');
  expect(r.stderr).toBe('tfjs-batchnorm: warning: did not copy metadata.json from beside the input model: the output folder has its own, which is kept\n');
  expect(fs.readFileSync(path.join(out, 'metadata.json'), 'utf8')).toBe('{"mine": true}');
});

test('convert on a model that already uses the target class says so', async () => {
  const custom = path.join(root, 'tm-custom', 'model.json');
  const again = await cli('convert', custom, path.join(root, 'again'), '--to', 'custom');
  expect(again.code).toBe(0);
  expect(again.stdout).toContain("Nothing to convert: the model's 52 BatchNormalization layer(s) already use this package's layer (TfjsBatchNormalization)");
  const stock = await cli('convert', TM_JSON, path.join(root, 'stock'), '--to', 'stock');
  expect(stock.stdout).toContain("already use tfjs's built-in layer (BatchNormalization)");

  const plain = tf.sequential({ layers: [tf.layers.dense({ units: 2, inputShape: [3] })] });
  await saveModel(plain, path.join(root, 'plain'));
  plain.dispose();
  const none = await cli('convert', path.join(root, 'plain', 'model.json'), path.join(root, 'plain-out'), '--to', 'custom');
  expect(none.stdout).toContain('Nothing to convert: the model has no BatchNormalization layers');
});
