/**
 * Every experiment end to end with `quick: true`, outputs in a temporary folder: the rows have the
 * expected shape (one per seed and setting), the numbers obey what the experiment computes by
 * definition, and the charts exist, are valid, and name every series.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { pngSize, ChartFiles } from '../experiments/common/charts';
import * as batchSize from '../experiments/batch_size';
import * as convergence from '../experiments/convergence';
import * as deep from '../experiments/deep';
import * as ics from '../experiments/ics';
import * as init from '../experiments/init';
import * as inference from '../experiments/inference';
import * as landscape from '../experiments/landscape';
import * as lrSweep from '../experiments/lr_sweep';
import * as regularization from '../experiments/regularization';

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

const quick = () => ({ quick: true, out });

/** Runs an experiment and checks that it left no tensor behind. */
async function leakFree<T>(run: () => Promise<T>): Promise<T> {
  const before = tf.memory().numTensors;
  const result = await run();
  expect(tf.memory().numTensors).toBe(before);
  return result;
}

/** The chart files are inside `out`, the SVG names every series, the PNG is a real PNG. */
export function expectChart(files: ChartFiles, dir: string, name: string, series: string[]) {
  expect(files.svg).toBe(path.join(dir, `${name}.svg`));
  const svg = fs.readFileSync(files.svg, 'utf8');
  expect(svg.startsWith('<svg')).toBe(true);
  for (const s of series) expect(svg).toContain(s);
  expect(svg).toContain('min–max over');
  if (files.fonts.length > 0) {
    const size = pngSize(fs.readFileSync(files.png!));
    expect(size!.width).toBeGreaterThan(300);
  }
}

test('lr-sweep: a row per seed, network and rate; without BN, SGD at rate 10 diverges with every seed', async () => {
  const r = await leakFree(() => lrSweep.main(quick()));
  expect(r.rows.map((row) => [row.seed, row.network, row.learningRate])).toEqual([31, 32].flatMap((seed) => [
    [seed, 'without BN', 0.1], [seed, 'without BN', 10], [seed, 'with BN', 0.1], [seed, 'with BN', 10],
  ]));
  r.rows.filter((row) => row.network === 'without BN' && row.learningRate === 10).forEach((row) => expect(row.outcome).toBe('diverged'));
  expect(Object.keys(r.largestWorkingRate)).toEqual(['without BN', 'with BN']);
  expectChart(r.chart, out, 'lr-sweep', ['without BN', 'with BN', 'learning rate']);
});

test('batch-size: a row per seed, network and batch size with the right number of steps', async () => {
  const r = await leakFree(() => batchSize.main(quick()));
  expect(r.rows.map((row) => [row.network, row.batchSize, row.steps])).toEqual([0, 1].flatMap(() => [
    ['without BN', 4, 15], ['without BN', 32, 2], ['with BN', 4, 15], ['with BN', 32, 2],
  ]));
  r.rows.forEach((row) => { expect(row.testAccuracy).toBeGreaterThanOrEqual(0); expect(row.testAccuracy).toBeLessThanOrEqual(1); });
  expectChart(r.chart, out, 'batch-size', ['without BN', 'with BN', 'batch size']);
});

test('regularization: four networks per seed; the gap is train minus test accuracy', async () => {
  const r = await leakFree(() => regularization.main(quick()));
  expect(r.rows.map((row) => row.network)).toEqual([...regularization.REG_NETWORKS.map((n) => n.label), ...regularization.REG_NETWORKS.map((n) => n.label)]);
  r.rows.forEach((row) => expect(row.gap).toBeCloseTo(row.trainAccuracy - row.testAccuracy, 10));
  expectChart(r.chart, out, 'regularization', regularization.REG_NETWORKS.map((n) => n.label));
});

test('init: a row per seed, optimizer, network and scale', async () => {
  const r = await leakFree(() => init.main(quick()));
  expect(r.rows).toHaveLength(2 * 2 * 2 * 2);
  expect(Array.from(new Set(r.rows.map((row) => row.scale)))).toEqual([0.1, 10]);
  expect(Array.from(new Set(r.rows.map((row) => row.optimizer)))).toEqual(['SGD 0.05', 'Adam 1e-3']);
  expectChart(r.chart, out, 'init', ['without BN', 'with BN', 'init scale']);
});

test('deep: per-layer gradient norms and saturation; without BN the first layer gets the smallest gradient', async () => {
  const r = await leakFree(() => deep.main(quick()));
  expect(r.rows).toHaveLength(2 * 2 * 2);
  for (const row of r.rows) {
    expect(row.gradNorms).toHaveLength(4);
    row.saturatedAfter.forEach((s) => { expect(s).toBeGreaterThanOrEqual(0); expect(s).toBeLessThanOrEqual(1); });
  }
  // Sigmoid slopes are at most 1/4, so without BN the gradient shrinks toward the input.
  r.rows.filter((row) => row.network === 'without BN').forEach((row) => expect(row.gradNorms[0]).toBeLessThan(row.gradNorms[3]));
  expectChart(r.chart, out, 'deep', ['without BN', 'with BN', 'hidden layer']);
});

test('convergence: loss windows and test evaluations every n steps; steps to target on that grid', async () => {
  const r = await leakFree(() => convergence.main(quick()));
  expect(r.runs).toHaveLength(2 * 2 * 2);
  for (const run of r.runs) {
    // 100 digits / batch 32 = 4 steps; every 2 steps.
    expect(run.windowLoss).toHaveLength(2);
    expect(run.testAccuracy).toHaveLength(2);
    if (run.stepsToTarget != null) expect(run.stepsToTarget % 2).toBe(0);
  }
  expectChart(r.chart, out, 'convergence', ['without BN', 'with BN', 'training step']);
});

test('inference: four evaluations per checkpoint; one digit per batch predicts one class; folding keeps the outputs', async () => {
  const r = await leakFree(() => inference.main(quick()));
  expect(r.rows).toHaveLength(2 * 3 * 4);
  expect(Array.from(new Set(r.rows.map((row) => row.step)))).toEqual([1, 2, 4]);
  for (const f of r.fold) {
    expect(f.foldedLayers).toBe(2);
    expect(f.maxAbsDiff).toBeLessThan(1e-5);
    expect(f.foldedAccuracy).toBe(f.accuracy);
  }
  expectChart(r.chart, out, 'inference', [...inference.EVALUATIONS]);
});

test('ics: a row per seed, network, epoch and watched layer; Santurkar\'s measure leaves the weights as they were', async () => {
  const r = await leakFree(() => ics.main(quick()));
  expect(r.rows).toHaveLength(2 * 2 * 2 * 2);
  for (const row of r.rows) {
    expect(row.shift).toBeGreaterThan(0);
    expect(row.gradChange).toBeGreaterThan(0);
    expect(Math.abs(row.gradCosine)).toBeLessThanOrEqual(1 + 1e-6);
  }
  const { mlpNet } = await import('../experiments/common/nets');
  const model = mlpNet({ kind: 'bn', hidden: [8, 8, 8], seed: 3, inputSize: 5, classes: 3 });
  const x = tf.randomNormal([6, 5], 0, 1, 'float32', 1);
  const y = tf.oneHot(tf.tensor1d([0, 1, 2, 0, 1, 2], 'int32'), 3);
  const before = model.getWeights().map((w) => Array.from(w.dataSync()));
  const shift = ics.gradientShift(model, x, y, 0.5);
  expect(shift).toHaveLength(2);
  model.getWeights().forEach((w, i) => expect(Array.from(w.dataSync())).toEqual(before[i]));
  tf.dispose([x, y]);
  model.dispose();
  expectChart(r.chart, out, 'ics', ['without BN', 'with BN', 'epoch']);
});

test('landscape: probes every n steps for the three networks and seeds; BN losses stay finite', async () => {
  const r = await leakFree(() => landscape.main(quick()));
  // 200 samples / 50 = 4 steps; probes at steps 0 and 2.
  for (const network of ['without BN', 'with BN', 'with noisy BN']) {
    for (const seed of [41, 42]) {
      expect(r.rows.filter((row) => row.network === network && row.seed === seed).map((row) => row.step)).toEqual([0, 2]);
      expect(r.trainLoss.filter((t) => t.network === network && t.seed === seed)).toHaveLength(4);
    }
  }
  for (const row of r.rows) {
    expect(row.lossMin).toBeLessThanOrEqual(row.loss);
    expect(row.lossMax).toBeGreaterThanOrEqual(row.loss);
    expect(row.betaSmoothness).toBeGreaterThan(0);
  }
  r.rows.filter((row) => row.network !== 'without BN').forEach((row) => expect(Number.isFinite(row.lossMax)).toBe(true));
  expect(r.summary.map((s) => [s.network, s.meanLossRange.n])).toEqual([['without BN', 2], ['with BN', 2], ['with noisy BN', 2]]);
  expectChart(r.chart, out, 'landscape', ['without BN', 'with BN', 'with noisy BN', 'beta-smoothness']);
});
