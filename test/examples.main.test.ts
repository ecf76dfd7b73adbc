/** The main job (`npm start`) end to end on tiny settings, outputs in a temporary folder. */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { main, MAIN_DEFAULTS } from '../examples/main';

let out: string;
let logs: string[];
beforeAll(() => {
  out = fs.mkdtempSync(path.join(os.tmpdir(), 'bn-main-'));
});
afterAll(() => fs.rmSync(out, { recursive: true, force: true }));
beforeEach(() => {
  logs = [];
  jest.spyOn(console, 'log').mockImplementation((...args: unknown[]) => { logs.push(args.join(' ')); });
});
afterEach(() => jest.restoreAllMocks());

test('trains, matches the built-in, saves, reloads identically, prints the summary, leaks nothing', async () => {
  await tf.setBackend('cpu');
  const before = tf.memory().numTensors;
  const result = await main({ epochs: 1, samples: 300, testSamples: 100, out, bars: false });
  expect(tf.memory().numTensors).toBe(before);

  // One epoch on 300 digits already beats chance (0.1) by far on held-out digits.
  expect(result.testAccuracy).toBeGreaterThan(0.3);
  expect(Number.isFinite(result.finalLoss)).toBe(true);
  // Same weights, same batch: float32 rounding only.
  expect(result.builtinDiff.inference).toBeLessThan(1e-5);
  expect(result.builtinDiff.training).toBeLessThan(1e-4);
  expect(result.builtinDiff.movingStats).toBeLessThan(1e-5);
  // Saved under the output folder (not the repo) and reloaded bit-for-bit.
  expect(result.modelDir).toBe(path.join(out, 'mnist-cnn'));
  const modelJson = fs.readFileSync(path.join(result.modelDir, 'model.json'), 'utf8');
  expect(modelJson.match(/"class_name":\s*"TfjsBatchNormalization"/g)).toHaveLength(3);
  expect(result.reloadIdentical).toBe(true);
  expect(result.reloadMaxDiff).toBe(0);
  // The summary table and the hint on run length reach the terminal.
  const text = logs.join('\n');
  expect(text).toContain('Summary');
  expect(text).toMatch(/test accuracy\s*\|\s*0\.\d{4}/);
  expect(text).toMatch(/save \+ reload\s*\|\s*ok/);
  expect(text).toMatch(/vs built-in BN\s*\|\s*ok/);
  expect(text).toContain('--epochs');
});

test('defaults stay sized for a few minutes and write under models/', () => {
  expect(MAIN_DEFAULTS.out).toBe('models');
  expect(MAIN_DEFAULTS.epochs * MAIN_DEFAULTS.samples).toBeLessThanOrEqual(8000);
});
