/**
 * The browser test page: bundled by test/browser/run.ts with esbuild, importing this package by
 * name as a user's page would, and driven in headless Chromium. `runSuite(backend)` runs every
 * check on one backend and returns one result per check; each check also fails if it leaves
 * tensors behind.
 */
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-backend-webgpu';
import { pairsDiff, relDiff } from './compare';
import { FAMILY_CHECKS } from './family_checks';
import { KERAS_CHECKS } from './keras_checks';
import { kernelChecks } from './kernel_checks';
import { keras3Checks } from './keras3_checks';
import * as entry from 'tfjs-batchnorm';
import { BatchNormalization, batchNormalization, batchNormInference, batchNormTraining } from 'tfjs-batchnorm';

setWasmPaths('/');

export interface CheckResult {
  backend: string;
  name: string;
  ok: boolean;
  detail: string;
  ms: number;
}

async function weightsDiff(a: tf.LayersModel, b: tf.LayersModel): Promise<number> {
  const wa = a.getWeights();
  const wb = b.getWeights();
  if (wa.length !== wb.length) throw new Error(`${wa.length} weights vs ${wb.length}`);
  let worst = 0;
  for (let i = 0; i < wa.length; i++) worst = Math.max(worst, relDiff(await wa[i].data(), await wb[i].data()));
  return worst;
}

type BN = (args: { axis?: number; momentum?: number }) => tf.layers.Layer;
const builtin: BN = (args) => tf.layers.batchNormalization(args);
const ours: BN = (args) => batchNormalization(args);

/**
 * A net whose BatchNormalization sees rank-4 NHWC input, and a dense net (rank-2 BN), with either
 * layer. The rank-4 one reshapes a Dense output rather than convolving, since the wasm backend
 * has no gradient kernels for convolutions.
 */
function imageNet(bn: BN): tf.Sequential {
  return tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [12], units: 48, useBias: false, kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }),
      tf.layers.reshape({ targetShape: [4, 4, 3] }),
      bn({ momentum: 0.9 }),
      tf.layers.reLU(),
      tf.layers.flatten(),
      tf.layers.dense({ units: 3, kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
    ],
  });
}

function denseNet(bn: BN): tf.Sequential {
  return tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [5], units: 6, useBias: false, kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) }),
      bn({ momentum: 0.8 }),
      tf.layers.dense({ units: 2, kernelInitializer: tf.initializers.glorotUniform({ seed: 4 }) }),
    ],
  });
}

/** The same network with the built-in layer and with ours, starting from identical weights. */
function twin(make: (bn: BN) => tf.Sequential): [tf.Sequential, tf.Sequential] {
  const a = make(builtin);
  const b = make(ours);
  b.setWeights(a.getWeights());
  for (const m of [a, b]) m.compile({ optimizer: tf.train.sgd(0.1), loss: 'meanSquaredError' });
  return [a, b];
}

/** Disposes models and the optimizers they were compiled with (a model leaves those to its caller). */
function dispose(...models: tf.LayersModel[]): void {
  for (const m of models) {
    const optimizer = m.optimizer;
    m.dispose();
    optimizer?.dispose();
  }
}

const TOL = 1e-4;

const CHECKS: Record<string, () => Promise<string>> = {
  async 'training parity with tf.layers.batchNormalization (rank 4 NHWC and rank 2, 3 SGD steps)'() {
    const lines: string[] = [];
    for (const [name, make, xShape, yShape] of [
      ['rank 4', imageNet, [4, 12], [4, 3]], ['dense', denseNet, [8, 5], [8, 2]],
    ] as const) {
      const [a, b] = twin(make);
      const x = tf.randomNormal([...xShape], 0.5, 2, 'float32', 5);
      const y = tf.randomNormal([...yShape], 0, 1, 'float32', 6);
      const lossA: number[] = [];
      const lossB: number[] = [];
      for (let step = 0; step < 3; step++) {
        lossA.push(await a.trainOnBatch(x, y) as number);
        lossB.push(await b.trainOnBatch(x, y) as number);
      }
      const w = await weightsDiff(a, b);
      const l = relDiff(lossA, lossB);
      tf.dispose([x, y]);
      dispose(a, b);
      if (!(w <= TOL && l <= TOL)) throw new Error(`${name}: weights differ by ${w.toExponential(2)}, losses by ${l.toExponential(2)} (tolerance ${TOL})`);
      lines.push(`${name}: weights ${w.toExponential(1)}, loss ${l.toExponential(1)}`);
    }
    return lines.join('; ');
  },

  async 'inference matches the built-in (moving statistics, channels axis 1 and -1; also without gamma and beta)'() {
    const lines: string[] = [];
    for (const axis of [-1, 1]) {
      const x = tf.randomNormal([3, 4, 5], 1, 3, 'float32', 7);
      const a = tf.layers.batchNormalization({ axis, epsilon: 1e-3 });
      const b = batchNormalization({ axis, epsilon: 1e-3 });
      tf.dispose([a.apply(x) as tf.Tensor, b.apply(x) as tf.Tensor]);
      const c = x.shape[axis < 0 ? 2 : axis];
      const weights = [tf.randomUniform([c], 0.5, 2, 'float32', 8), tf.randomNormal([c], 0, 1, 'float32', 9),
        tf.randomNormal([c], 0, 1, 'float32', 10), tf.randomUniform([c], 0.5, 4, 'float32', 11)];
      a.setWeights(weights);
      b.setWeights(weights);
      const got = b.apply(x) as tf.Tensor;
      // The built-in's inference is wrong off the last axis, so the formula is the reference there.
      const want = axis === -1 ? a.apply(x) as tf.Tensor : tf.tidy(() => {
        const r = (t: tf.Tensor) => t.reshape([1, c, 1]);
        return tf.add(tf.mul(tf.div(tf.sub(x, r(weights[2])), tf.sqrt(tf.add(r(weights[3]), 1e-3))), r(weights[0])), r(weights[1]));
      });
      const d = relDiff(await got.data(), await want.data());
      tf.dispose([x, got, want, ...weights]);
      a.dispose();
      b.dispose();
      if (!(d <= 1e-5)) throw new Error(`axis ${axis}: differs by ${d.toExponential(2)} (tolerance 1e-5)`);
      lines.push(`axis ${axis}: ${d.toExponential(1)}`);
    }
    // Without gamma and beta (center and scale false): the kernel then runs with mean and variance only.
    const x = tf.randomNormal([2, 3, 4, 5], 1, 3, 'float32', 12);
    for (const axis of [-1, 1]) {
      const layer = batchNormalization({ axis, center: false, scale: false, epsilon: 1e-3 });
      const shape = x.shape.map((d, i) => (i === (axis + 4) % 4 ? d : 1));
      const c = x.shape[(axis + 4) % 4];
      const stats = [tf.randomNormal([c], 0, 1, 'float32', 13), tf.randomUniform([c], 0.5, 4, 'float32', 14)];
      tf.dispose(layer.apply(x) as tf.Tensor); // builds it, as a first call does
      layer.setWeights(stats);
      const got = layer.apply(x) as tf.Tensor;
      const want = tf.tidy(() => tf.div(tf.sub(x, stats[0].reshape(shape)), tf.sqrt(tf.add(stats[1].reshape(shape), 1e-3))));
      const d = relDiff(await got.data(), await want.data());
      tf.dispose([got, want, ...stats]);
      layer.dispose();
      if (!(d <= 1e-5)) throw new Error(`no gamma/beta, axis ${axis}: differs by ${d.toExponential(2)} (tolerance 1e-5)`);
      lines.push(`no gamma/beta, axis ${axis}: ${d.toExponential(1)}`);
    }
    x.dispose();
    // Larger inputs, channels last and first, with and without gamma and beta: on webgl the
    // FusedBatchNorm kernel called directly, broadcasting the per-channel vectors itself.
    for (const [shape, axis, affine] of [[[64, 1024], -1, true], [[4, 16, 32, 32], 1, true], [[4, 16, 32, 32], 1, false]] as const) {
      const big = tf.randomNormal([...shape], 1, 3, 'float32', 15);
      const a = (axis + shape.length) % shape.length;
      const c = shape[a];
      const layer = batchNormalization({ axis, center: affine, scale: affine, epsilon: 1e-3 });
      tf.dispose(layer.apply(big) as tf.Tensor);
      const weights = [tf.randomUniform([c], -2, 2, 'float32', 16), tf.randomNormal([c], 0, 1, 'float32', 17),
        tf.randomNormal([c], 0, 1, 'float32', 18), tf.randomUniform([c], 0.5, 4, 'float32', 19)];
      const used = affine ? weights : weights.slice(2);
      layer.setWeights(used);
      const got = layer.apply(big) as tf.Tensor;
      const want = tf.tidy(() => {
        const r = (t: tf.Tensor) => t.reshape(shape.map((d, i) => (i === a ? d : 1)));
        const xhat = tf.div(tf.sub(big, r(weights[2])), tf.sqrt(tf.add(r(weights[3]), 1e-3)));
        return affine ? tf.add(tf.mul(xhat, r(weights[0])), r(weights[1])) : xhat;
      });
      const d = relDiff(await got.data(), await want.data());
      tf.dispose([big, got, want, ...weights]);
      layer.dispose();
      const name = `large ${JSON.stringify(shape)} axis ${axis}${affine ? '' : ' without gamma/beta'}`;
      if (!(d <= 1e-5)) throw new Error(`${name}: differs by ${d.toExponential(2)} (tolerance 1e-5)`);
      lines.push(`${name}: ${d.toExponential(1)}`);
    }
    return lines.join('; ');
  },

  async 'training and inference gradients match autodiff of the textbook formula (axis 1 and last, ranks 2 to 4)'() {
    const lines: string[] = [];
    for (const [shape, axis] of [[[6, 5], 1], [[3, 4, 5, 2], 3], [[3, 4, 5, 2], 1], [[4, 3, 5], 1]] as Array<[number[], number]>) {
      // Pairs (ours, reference), read after the tidy: webgpu is read asynchronously only.
      const pairs = tf.tidy(() => {
        const c = shape[axis];
        const b = shape.map((d, i) => (i === axis ? d : 1));
        const axes = shape.map((_, i) => i).filter((i) => i !== axis);
        const x = tf.randomNormal(shape, 2, 3, 'float32', 14);
        const gamma = tf.randomUniform([c], 0.5, 2, 'float32', 15);
        const beta = tf.randomNormal([c], 0, 1, 'float32', 16);
        const movingMean = tf.randomNormal([c], 1, 1, 'float32', 17);
        const movingVar = tf.randomUniform([c], 0.5, 3, 'float32', 18);
        const w = tf.randomUniform(shape, -1, 1, 'float32', 19);
        const textbook = (xx: tf.Tensor, g: tf.Tensor, bb: tf.Tensor, mean: tf.Tensor, variance: tf.Tensor) =>
          tf.add(tf.mul(tf.div(tf.sub(xx, mean), tf.sqrt(tf.add(variance, 1e-3))), g.reshape(b)), bb.reshape(b));
        const refTrain = (xx: tf.Tensor, g: tf.Tensor, bb: tf.Tensor) => {
          const m = tf.moments(xx, axes, true);
          return textbook(xx, g, bb, m.mean, m.variance);
        };
        const refInfer = (xx: tf.Tensor, g: tf.Tensor, bb: tf.Tensor) => textbook(xx, g, bb, movingMean.reshape(b), movingVar.reshape(b));
        const oursTrain = (xx: tf.Tensor, g: tf.Tensor, bb: tf.Tensor) => {
          const r = batchNormTraining({ x: xx, gamma: g, beta: bb, axis, epsilon: 1e-3 });
          tf.dispose([r.mean, r.variance]);
          return r.y;
        };
        const oursInfer = (xx: tf.Tensor, g: tf.Tensor, bb: tf.Tensor) =>
          batchNormInference({ x: xx, gamma: g, beta: bb, axis, epsilon: 1e-3 }, movingMean, movingVar);
        const out: tf.Tensor[] = [];
        for (const [ours, ref] of [[oursTrain, refTrain], [oursInfer, refInfer]]) {
          const loss = (f: typeof ours) => (xx: tf.Tensor, g: tf.Tensor, bb: tf.Tensor) => tf.sum(tf.mul(f(xx, g, bb), w));
          const got = tf.grads(loss(ours))([x, gamma, beta]);
          const want = tf.grads(loss(ref))([x, gamma, beta]);
          got.forEach((t, i) => out.push(t, want[i]));
          out.push(ours(x, gamma, beta), ref(x, gamma, beta));
        }
        return out;
      });
      const worst = await pairsDiff(pairs);
      if (!(worst <= TOL)) throw new Error(`shape [${shape}] axis ${axis}: differs by ${worst.toExponential(2)} (tolerance ${TOL})`);
      lines.push(`[${shape}] axis ${axis}: ${worst.toExponential(1)}`);
    }
    return lines.join('; ');
  },

  async 'indexeddb:// save and reload keep the class and the predictions'() {
    const [a, b] = twin(imageNet);
    const x = tf.randomNormal([2, 12], 0, 1, 'float32', 12);
    const y = tf.randomNormal([2, 3], 0, 1, 'float32', 13);
    await b.trainOnBatch(x, y);
    const url = `indexeddb://tfjs-batchnorm-test-${tf.getBackend()}`;
    await b.save(url);
    const loaded = await tf.loadLayersModel(url);
    await tf.io.removeModel(url);
    const cls = loaded.layers[2].getClassName();
    const before = b.predict(x) as tf.Tensor;
    const after = loaded.predict(x) as tf.Tensor;
    const d = relDiff(await before.data(), await after.data());
    const instance = loaded.layers[2] instanceof BatchNormalization;
    tf.dispose([x, y, before, after]);
    dispose(a, b, loaded);
    if (cls !== 'TfjsBatchNormalization' || !instance) throw new Error(`reloaded layer is ${cls} (instance of ours: ${instance})`);
    if (d !== 0) throw new Error(`predictions differ by ${d} after reload`);
    return `${cls}, predictions identical`;
  },

  async 'a model.json saved in Node loads over http and predicts as in Node'() {
    const expected = await (await fetch('/models/node-bn/expected.json')).json() as { input: number[][]; output: number[] };
    const model = await tf.loadLayersModel('/models/node-bn/model.json');
    const classes = model.layers.map((l) => l.getClassName()).join(', ');
    const x = tf.tensor2d(expected.input);
    const out = model.predict(x) as tf.Tensor;
    const d = relDiff(await out.data(), expected.output);
    tf.dispose([x, out]);
    model.dispose();
    if (!classes.includes('TfjsBatchNormalization')) throw new Error(`loaded layers: ${classes}`);
    if (!(d <= 1e-5)) throw new Error(`predictions differ from Node's by ${d.toExponential(2)}`);
    return `${classes}; vs Node ${d.toExponential(1)}`;
  },

  async 'the page entry holds the layers and no file IO or conversion'() {
    const names = Object.keys(entry).sort();
    const nodeOnly = names.filter((n) => /load|save|fileSystem|convert|fold/i.test(n));
    if (nodeOnly.length > 0 || !names.includes('batchNormalization')) throw new Error(`entry exports: ${names.join(', ')}`);
    return `${names.length} names, none for IO or conversion`;
  },

  async 'bad input: a clear error, and nothing leaks'() {
    const layer = batchNormalization({ name: 'bn_check' });
    const good = tf.zeros([2, 3]);
    tf.dispose(layer.apply(good) as tf.Tensor);
    const bad = tf.zeros([2, 4]);
    let message = '';
    try {
      layer.apply(bad);
    } catch (err) {
      message = (err as Error).message;
    }
    tf.dispose([good, bad]);
    layer.dispose();
    // tfjs's own input-spec check (from the layer's inputSpec) answers first.
    if (!/bn_check/.test(message) || !/value 3/.test(message) || !/2,4/.test(message)) throw new Error(`error was "${message}"`);
    return message;
  },
};

/**
 * Runs every check on `backend` (which must become the active backend).
 *
 * Usage (from the test runner): `await page.evaluate((b) => window.runSuite(b), 'webgl')`
 */
async function runSuite(backend: string): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  const ok = await tf.setBackend(backend).catch(() => false);
  await tf.ready();
  if (!ok || tf.getBackend() !== backend) {
    return [{ backend, name: 'backend starts', ok: false, detail: `active backend is ${tf.getBackend()}`, ms: 0 }];
  }
  for (const [name, check] of Object.entries({ ...CHECKS, ...FAMILY_CHECKS, ...KERAS_CHECKS, ...kernelChecks(backend), ...keras3Checks(backend) })) {
    const before = tf.memory().numTensors;
    const start = performance.now();
    let ok = true;
    let detail: string;
    try {
      detail = await check();
    } catch (err) {
      ok = false;
      detail = (err as Error).stack ?? String(err);
    }
    const leaked = tf.memory().numTensors - before;
    if (leaked !== 0) {
      ok = false;
      detail += `; leaked ${leaked} tensor(s)`;
    }
    results.push({ backend, name, ok, detail, ms: performance.now() - start });
  }
  return results;
}

(window as unknown as { runSuite: typeof runSuite }).runSuite = runSuite;
