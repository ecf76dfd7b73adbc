/**
 * Every experiment end to end on tiny settings, outputs in a temporary folder: the numbers have
 * the expected shape and the charts exist, are valid, and name every series.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { pngSize, ChartFiles } from '../experiments/common/charts';
import * as batchSize from '../experiments/batch_size';
import * as ics from '../experiments/ics';
import * as landscape from '../experiments/landscape';
import * as lrSweep from '../experiments/lr_sweep';

const tiny = { epochs: 1, samples: 200, testSamples: 50, bars: false };
let out: string;
beforeAll(async () => {
  await tf.setBackend('cpu');
  out = fs.mkdtempSync(path.join(os.tmpdir(), 'bn-experiments-'));
});
afterAll(() => fs.rmSync(out, { recursive: true, force: true }));
beforeEach(() => { jest.spyOn(console, 'log').mockImplementation(() => undefined); });
afterEach(() => jest.restoreAllMocks());

/** The chart files are inside `out`, the SVG names every series, the PNG is a real PNG. */
function expectChart(files: ChartFiles, name: string, series: string[]) {
  expect(files.svg).toBe(path.join(out, `${name}.svg`));
  const svg = fs.readFileSync(files.svg, 'utf8');
  expect(svg.startsWith('<svg')).toBe(true);
  for (const s of series) expect(svg).toContain(s);
  if (files.fonts.length > 0) {
    const size = pngSize(fs.readFileSync(files.png!));
    expect(size!.width).toBeGreaterThan(300);
  }
}

test('ics: one row per epoch per network; BN keeps its ReLU input at mean ~beta, std ~gamma', async () => {
  const r = await ics.main({ ...tiny, epochs: 2, out });
  expect(r.rows).toHaveLength(4);
  for (const network of ['without BN', 'with BN']) {
    expect(r.rows.filter((row) => row.network === network).map((row) => row.epoch)).toEqual([1, 2]);
  }
  const plain = r.rows.filter((row) => row.network === 'without BN');
  const bn = r.rows.filter((row) => row.network === 'with BN');
  // Without BN the ReLU input is the raw pre-activation itself.
  plain.forEach((row) => { expect(row.reluInMean).toBe(row.zMean); expect(row.reluInStd).toBe(row.zStd); });
  // With BN (batch statistics): mean = mean(beta), std^2 = mean(gamma^2); beta, gamma barely move from 0, 1 here.
  bn.forEach((row) => { expect(Math.abs(row.reluInMean)).toBeLessThan(0.1); expect(Math.abs(row.reluInStd - 1)).toBeLessThan(0.1); });
  expect(Object.keys(r.testAccuracy)).toEqual(['without BN', 'with BN']);
  expectChart(r.chart, 'ics', ['without BN: ReLU input', 'with BN: ReLU input', 'with BN: raw z before BN']);
});

test('lr-sweep: a row per network and rate; without BN, SGD at rate 10 diverges', async () => {
  const r = await lrSweep.main({ ...tiny, rates: [0.1, 10], out });
  expect(r.rows.map((row) => [row.network, row.learningRate])).toEqual([
    ['without BN', 0.1], ['without BN', 10], ['with BN', 0.1], ['with BN', 10],
  ]);
  expect(r.rows[1].outcome).toBe('diverged');
  expect(Object.keys(r.largestWorkingRate)).toEqual(['without BN', 'with BN']);
  expectChart(r.chart, 'lr-sweep', ['without BN', 'with BN', 'diverged', 'learning rate']);
});

test('landscape: probes every n steps for the three networks; BN losses stay finite', async () => {
  const r = await landscape.main({ ...tiny, batchSize: 50, every: 2, out });
  // 200 samples / 50 = 4 steps; probes at steps 0 and 2.
  for (const network of ['without BN', 'with BN', 'with noisy BN']) {
    expect(r.rows.filter((row) => row.network === network).map((row) => row.step)).toEqual([0, 2]);
    expect(r.trainLoss.filter((t) => t.network === network)).toHaveLength(4);
  }
  for (const row of r.rows) {
    expect(row.lossMin).toBeLessThanOrEqual(row.loss);
    expect(row.lossMax).toBeGreaterThanOrEqual(row.loss);
    expect(row.gradChange).toBeGreaterThan(0);
  }
  r.rows.filter((row) => row.network !== 'without BN').forEach((row) => expect(Number.isFinite(row.lossMax)).toBe(true));
  expect(r.summary.map((s) => s.network)).toEqual(['without BN', 'with BN', 'with noisy BN']);
  expectChart(r.chart, 'landscape', ['without BN', 'with BN', 'with noisy BN', 'loss range along the gradient']);
});

test('batch-size: a row per network and batch size with the right number of steps', async () => {
  const r = await batchSize.main({ ...tiny, samples: 100, batchSizes: [2, 32], out });
  expect(r.rows.map((row) => [row.network, row.batchSize, row.steps])).toEqual([
    ['without BN', 2, 50], ['without BN', 32, 4], ['with BN', 2, 50], ['with BN', 32, 4],
  ]);
  r.rows.forEach((row) => { expect(row.testAccuracy).toBeGreaterThanOrEqual(0); expect(row.testAccuracy).toBeLessThanOrEqual(1); });
  expectChart(r.chart, 'batch-size', ['without BN', 'with BN', 'test accuracy (inference mode)']);
});

test('experiments leak no tensors', async () => {
  const before = tf.memory().numTensors;
  await ics.main({ ...tiny, out });
  await landscape.main({ ...tiny, batchSize: 100, every: 1, out });
  expect(tf.memory().numTensors).toBe(before);
});
