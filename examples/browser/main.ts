/**
 * The browser example: two small MLPs on real MNIST digits, one with this package's
 * BatchNormalization after each hidden Dense and one without, trained side by side in the page
 * with a live chart of both losses (vega-embed). The BN model is then saved to IndexedDB,
 * reloaded as a fresh model, and used to label test digits.
 *
 * Query options: `?backend=webgl|wasm|cpu` (default webgl), `?epochs=N` (default 4).
 */
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import embed from 'vega-embed';
import { batchNormalization } from 'tfjs-batchnorm';

setWasmPaths('/');

const params = new URLSearchParams(location.search);
const EPOCHS = Number(params.get('epochs') ?? 4);
const BATCH = 32;
const LEARNING_RATE = 0.1;
const SAVE_URL = 'indexeddb://tfjs-batchnorm-mnist-example';

interface Packed { x: string; y: number[] }

function status(text: string): void {
  document.getElementById('status')!.textContent = text;
}

/** Base64 bytes (pixels 0..255) -> [n, 784] floats in [0, 1], and one-hot labels. */
function unpack(p: Packed): { x: tf.Tensor2D; y: tf.Tensor2D; labels: number[] } {
  const bytes = Uint8Array.from(atob(p.x), (c) => c.charCodeAt(0));
  return tf.tidy(() => ({
    x: tf.div(tf.tensor2d(bytes, [p.y.length, 784], 'float32'), 255) as tf.Tensor2D,
    y: tf.oneHot(tf.tensor1d(p.y, 'int32'), 10).toFloat() as tf.Tensor2D,
    labels: p.y,
  }));
}

/** Dense(64) -> [BN] -> ReLU, twice, then softmax; same initial Dense kernels for both nets. */
function mlp(withBN: boolean): tf.Sequential {
  const layers: tf.layers.Layer[] = [];
  for (const [i, units] of [64, 32].entries()) {
    layers.push(tf.layers.dense({
      units, useBias: !withBN, kernelInitializer: tf.initializers.glorotUniform({ seed: 10 + i }),
      ...(i === 0 ? { inputShape: [784] } : {}),
    }));
    // momentum 0.9: over this short run (tens of batches) the default 0.99 would leave the moving
    // statistics, which predict() uses, far from the data's.
    if (withBN) layers.push(batchNormalization({ momentum: 0.9 }));
    layers.push(tf.layers.reLU());
  }
  layers.push(tf.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 12 }) }));
  const model = tf.sequential({ layers });
  model.compile({ optimizer: tf.train.sgd(LEARNING_RATE), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  return model;
}

async function accuracy(model: tf.LayersModel, x: tf.Tensor, labels: number[]): Promise<{ acc: number; predicted: number[] }> {
  const predicted = Array.from(await tf.tidy(() => tf.argMax(model.predict(x) as tf.Tensor, 1)).data() as Int32Array);
  const correct = predicted.filter((p, i) => p === labels[i]).length;
  return { acc: correct / labels.length, predicted };
}

type LossRow = { step: number; loss: number; net: string };

/** The live chart, drawn once the first points exist (an empty chart has no extent to draw). */
async function chart(first: LossRow[]) {
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    width: 800, height: 260,
    title: { text: 'Training loss per batch (SGD, learning rate 0.1)', subtitle: 'same data, batches and initial kernels' },
    data: { name: 'loss', values: first },
    mark: { type: 'line', interpolate: 'monotone' },
    encoding: {
      x: { field: 'step', type: 'quantitative', title: 'batch' },
      y: { field: 'loss', type: 'quantitative', title: 'cross-entropy', scale: { zero: true } },
      color: { field: 'net', type: 'nominal', title: null, scale: { range: ['#1f77b4', '#ff7f0e'] }, legend: { orient: 'top' } },
    },
  };
  const result = await embed('#chart', spec as never, { actions: false, renderer: 'svg' });
  return (rows: LossRow[]) => result.view.insert('loss', rows).runAsync();
}

function showDigits(x: tf.Tensor2D, labels: number[], predicted: number[]): Promise<unknown> {
  const box = document.getElementById('digits')!;
  const shown = Array.from({ length: 12 }, (_, k) => k * Math.floor(labels.length / 12));
  return Promise.all(shown.map(async (i) => {
    const figure = document.createElement('figure');
    const canvas = document.createElement('canvas');
    const img = tf.tidy(() => tf.reshape(tf.slice(x, [i, 0], [1, 784]), [28, 28]) as tf.Tensor2D);
    await tf.browser.toPixels(img, canvas);
    img.dispose();
    const caption = document.createElement('figcaption');
    caption.textContent = `${predicted[i]}`;
    if (predicted[i] !== labels[i]) caption.className = 'wrong';
    figure.append(canvas, caption);
    box.append(figure);
  }));
}

function summary(rows: Array<[string, string]>): void {
  document.getElementById('summary')!.innerHTML = rows.map(([k, v]) => `<tr><th>${k}</th><td>${v}</td></tr>`).join('');
}

async function main(): Promise<void> {
  const backend = params.get('backend') ?? 'webgl';
  if (!(await tf.setBackend(backend))) throw new Error(`backend ${backend} did not start`);
  await tf.ready();
  const digits = await (await fetch('/digits.json')).json() as { train: Packed; test: Packed };
  const train = unpack(digits.train);
  const test = unpack(digits.test);
  const withBN = mlp(true);
  const without = mlp(false);
  let addPoints: ((rows: LossRow[]) => Promise<unknown>) | null = null;

  const n = train.labels.length;
  const batches = Math.floor(n / BATCH);
  let step = 0;
  for (let epoch = 0; epoch < EPOCHS; epoch++) {
    // The same order for both nets.
    const order = tf.util.createShuffledIndices(n);
    for (let b = 0; b < batches; b++) {
      const idx = tf.tensor1d(Array.from(order.slice(b * BATCH, (b + 1) * BATCH)), 'int32');
      const [xb, yb] = [tf.gather(train.x, idx), tf.gather(train.y, idx)];
      const [lossBN] = await withBN.trainOnBatch(xb, yb) as number[];
      const [lossPlain] = await without.trainOnBatch(xb, yb) as number[];
      tf.dispose([idx, xb, yb]);
      step++;
      const rows = [{ step, loss: lossBN, net: 'with BatchNormalization' }, { step, loss: lossPlain, net: 'without' }];
      if (addPoints == null) addPoints = await chart(rows);
      else await addPoints(rows);
    }
    status(`${tf.getBackend()}: epoch ${epoch + 1} of ${EPOCHS} (${n} digits, batches of ${BATCH})`);
  }

  const before = await accuracy(withBN, test.x, test.labels);
  const plain = await accuracy(without, test.x, test.labels);
  await withBN.save(SAVE_URL);
  const reloaded = await tf.loadLayersModel(SAVE_URL);
  const after = await accuracy(reloaded, test.x, test.labels);
  const identical = after.predicted.every((p, i) => p === before.predicted[i]);
  const bnClass = reloaded.layers.find((l) => l.getClassName().includes('BatchNormalization'))?.getClassName() ?? 'none';
  summary([
    ['test accuracy, with BN', `${(before.acc * 100).toFixed(1)} % (${test.labels.length} held-out digits)`],
    ['test accuracy, without BN', `${(plain.acc * 100).toFixed(1)} %`],
    ['saved to', SAVE_URL],
    ['reloaded', `${bnClass} layers; predictions ${identical ? 'identical' : 'DIFFERENT'}`],
  ]);
  await showDigits(test.x, test.labels, after.predicted);
  status(`${tf.getBackend()}: trained ${EPOCHS} epochs, saved to IndexedDB, reloaded; labels below come from the reloaded model (red: wrong).`);
  const result = { backend: tf.getBackend(), accWithBN: before.acc, accWithout: plain.acc, reloadedAcc: after.acc, identical, bnClass, steps: step };
  tf.dispose([train.x, train.y, test.x, test.y]);
  for (const m of [withBN, without, reloaded]) m.dispose();
  (window as unknown as { exampleResult: unknown }).exampleResult = result;
}

main().catch((err) => {
  status(`failed: ${(err as Error).message}`);
  (window as unknown as { exampleResult: unknown }).exampleResult = { error: (err as Error).message };
});
