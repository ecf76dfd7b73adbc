/**
 * The worked-example and small-batch experiments with `quick: true`: the worked numbers come out
 * as computed by hand, and the small-batch run covers exactly the layers the package provides.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { pngSize } from '../experiments/common/charts';
import { forEachSeed, formatSpread, resolveOptions, spread } from '../experiments/common/seeds';
import * as smallBatch from '../experiments/small_batch';
import * as tables from '../experiments/tables';

// Generous: these run real training and share the machine with the rest of the suite.
jest.setTimeout(300000);

let out: string;
beforeAll(async () => {
  await tf.setBackend('cpu');
  out = fs.mkdtempSync(path.join(os.tmpdir(), 'bn-experiments-'));
});
afterAll(() => fs.rmSync(out, { recursive: true, force: true }));
beforeEach(() => { jest.spyOn(console, 'log').mockImplementation(() => undefined); });
afterEach(() => jest.restoreAllMocks());

function expectChartFiles(svgPath: string, png: string | null, fonts: string[], series: string[]) {
  const svg = fs.readFileSync(svgPath, 'utf8');
  expect(svg.startsWith('<svg')).toBe(true);
  for (const s of series) expect(svg).toContain(s);
  if (fonts.length > 0) expect(pngSize(fs.readFileSync(png!))!.width).toBeGreaterThan(300);
}

test('tables: the worked example, by hand: mean 1.25 / 0.975, std 0.25 / 0.225, normalized ±0.992 / ±0.990 with epsilon 1e-3', async () => {
  const before = tf.memory().numTensors;
  const r = await tables.main({ quick: true, out });
  expect(tf.memory().numTensors).toBe(before);
  const at = (epsilon: number, epoch: number) => r.worked.find((w) => w.epsilon === epsilon && w.epoch === epoch)!;
  expect(at(1e-3, 1).z).toEqual([1.0, 1.5]);
  expect(at(1e-3, 2).z.map((v) => +v.toFixed(6))).toEqual([0.75, 1.2]);
  expect(at(1e-3, 1).mean).toBeCloseTo(1.25, 6);
  expect(at(1e-3, 2).mean).toBeCloseTo(0.975, 6);
  expect(at(1e-3, 1).std).toBeCloseTo(0.25, 6);
  expect(at(1e-3, 2).std).toBeCloseTo(0.225, 6);
  // 0.25 / sqrt(0.0625 + 0.001) and 0.225 / sqrt(0.050625 + 0.001).
  expect(at(1e-3, 1).normalized[1]).toBeCloseTo(0.25 / Math.sqrt(0.0635), 5);
  expect(at(1e-3, 2).normalized[0]).toBeCloseTo(-0.225 / Math.sqrt(0.051625), 5);
  expect(at(1e-3, 1).normalized[1]).toBeCloseTo(0.9921, 4);
  expect(at(1e-9, 2).normalized[1]).toBeCloseTo(1, 5);
  // Real run: epochs 0 and 1 per seed; the normalized batch has mean 0 and std sqrt(var / (var + eps)).
  expect(r.real.map((row) => [row.seed, row.epoch])).toEqual([[111, 0], [111, 1], [112, 0], [112, 1]]);
  for (const row of r.real) {
    const s = spread(row.normalized);
    expect(Math.abs(s.mean)).toBeLessThan(1e-5);
    const popStd = Math.sqrt(row.normalized.reduce((a, v) => a + v * v, 0) / row.normalized.length);
    expect(popStd).toBeCloseTo(row.std / Math.sqrt(row.std ** 2 + 1e-3), 4);
    row.output.forEach((o, i) => expect(o).toBeCloseTo(row.gamma * row.normalized[i] + row.beta, 5));
  }
  expectChartFiles(r.chart.svg, r.chart.png, r.chart.fonts, ['raw pre-activation z', 'normalized']);
});

test('small-batch: a row per available layer, batch size and seed; missing layers are named, not run', async () => {
  const r = await smallBatch.main({ quick: true, out });
  const variants = smallBatch.normalizationVariants();
  const available = variants.filter((v) => v.make).map((v) => v.label);
  expect(available.slice(0, 2)).toEqual(['no normalization', 'BatchNormalization']);
  expect(r.missing.map((m) => m.layer)).toEqual(variants.filter((v) => !v.make).map((v) => v.label));
  expect(Array.from(new Set(r.rows.map((row) => row.layer)))).toEqual(available);
  expect(r.rows).toHaveLength(available.length * 2 * 2);
  expectChartFiles(r.chart.svg, r.chart.png, r.chart.fonts, available);
  // One small CNN fit per available layer, batch size and seed: more layers, more time (minutes on a loaded machine).
}, 600_000);

test('small-batch --network mlp: InstanceNormalization is left out with the reason; the others train on dense features', async () => {
  const r = await smallBatch.main({ quick: true, out, network: 'mlp', layers: ['no normalization', 'BatchNormalization', 'Group', 'Instance'] });
  expect(r.missing).toContainEqual({ layer: 'InstanceNormalization', reason: expect.stringContaining('one value per group') });
  expect(Array.from(new Set(r.rows.map((row) => row.layer)))).toEqual(['no normalization', 'BatchNormalization', 'GroupNormalization (4 groups)']);
  r.rows.forEach((row) => expect(row.testAccuracy).toBeGreaterThanOrEqual(0));
  expect(r.chart.svg).toMatch(/small-batch-mlp\.svg$/);
  await expect(smallBatch.main({ quick: true, out, network: 'rnn' as 'mlp' })).rejects.toThrow("expected network 'cnn' or 'mlp', but received 'rnn'");
}, 600_000);

test('small-batch: no leaks; --layers selects; an earlier run\'s layers are drawn and printed beside this run\'s', async () => {
  const lines: string[] = [];
  jest.spyOn(console, 'log').mockImplementation((line: string) => { lines.push(line); });
  const previous = [5, 10].map((batchSize) => ({ layer: 'earlier layer', batchSize, mean: 0.5, sd: 0.1, min: 0.4, max: 0.6 }));
  // The experiment itself frees what it allocates, batch renormalization's extra state included.
  const before = tf.memory().numTensors;
  await smallBatch.main({ quick: true, out, network: 'mlp', layers: ['no normalization', 'BatchNormalization', 'renormalization', 'LayerNormalization'] });
  expect(tf.memory().numTensors).toBe(before);
  // No layer name contains 'nothing': nothing is trained, only the earlier results are shown.
  const r = await smallBatch.main({ quick: true, out, layers: ['nothing'], previous });
  expect(r.rows).toEqual([]);
  const table = lines.filter((l) => l.includes('Test accuracy by batch size')).pop()!;
  expect(table).toContain('| earlier layer');
  expect(table).toContain('0.500 ± 0.100 (0.400–0.600)');
  const spec = JSON.parse(fs.readFileSync(path.join(out, 'small-batch.vl.json'), 'utf8'));
  expect(spec.data.values.filter((v: { series: string }) => v.series === 'earlier layer')).toHaveLength(2);
  expectChartFiles(r.chart.svg, r.chart.png, r.chart.fonts, ['earlier layer']);
});

test('seeds helpers: spread, formatting, option precedence', () => {
  const s = spread([0.9, 0.92, 0.94]);
  expect(s.mean).toBeCloseTo(0.92, 10);
  expect(s.sd).toBeCloseTo(0.02, 10);
  expect([s.min, s.max, s.n]).toEqual([0.9, 0.94, 3]);
  expect(formatSpread(s)).toBe('0.920 ± 0.020 (0.900–0.940)');
  // A diverged seed is never averaged away.
  expect(formatSpread(spread([0.5, NaN]))).toBe('not finite in some seed');
  const defaults = { epochs: 3, samples: 1000, testSamples: 500, batchSize: 32, out: 'a', seed: 1, bars: false, seeds: 3 };
  expect(resolveOptions(defaults, { epochs: 1, seeds: 2 }, { quick: true, seeds: 5 })).toEqual({ ...defaults, epochs: 1, seeds: 5 });
  expect(resolveOptions(defaults, { epochs: 1 }, { samples: 10 })).toEqual({ ...defaults, samples: 10 });
});

test('forEachSeed: each seed in order with its own data of the asked layout, disposed after each seed and when a run throws', async () => {
  const opts = { seed: 7, seeds: 3, samples: 20, testSamples: 10 };
  const before = tf.memory().numTensors;
  const seen: Array<{ seed: number; shape: number[]; testRows: number }> = [];
  await forEachSeed(opts, async (seed, data) => {
    seen.push({ seed, shape: data.xTrain.shape, testRows: data.xTest.shape[0] });
    // Only this seed's data is alive inside the run.
    expect(tf.memory().numTensors).toBe(before + 4);
  }, 'nhwc');
  expect(seen.map((s) => s.seed)).toEqual([7, 8, 9]);
  expect(seen.map((s) => s.shape)).toEqual([[20, 28, 28, 1], [20, 28, 28, 1], [20, 28, 28, 1]]);
  expect(seen.map((s) => s.testRows)).toEqual([10, 10, 10]);
  expect(tf.memory().numTensors).toBe(before);
  const calls: number[] = [];
  await expect(forEachSeed(opts, (seed) => {
    calls.push(seed);
    if (seed === 8) throw new Error('run failed at seed 8');
  })).rejects.toThrow('run failed at seed 8');
  // The failing seed stops the loop, and its data is disposed anyway.
  expect(calls).toEqual([7, 8]);
  expect(tf.memory().numTensors).toBe(before);
});
