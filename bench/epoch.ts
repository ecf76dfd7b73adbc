/**
 * End-to-end effect: time per `model.fit` epoch of an MLP and a small CNN with this package's
 * BatchNormalization against the same models with tf.layers.batchNormalization, and without any
 * BN (the floor), on synthetic MNIST-shaped data (28x28x1, 10 classes). Epochs of the variants
 * alternate, after one warm-up epoch each, and the median is reported.
 *
 * Usage: `npm run bench:epoch` | `npm run bench -- --epochs [--backend wasm] [--json]`
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { BatchNormalization } from '../src/layer/batch_normalization';
import { median } from '../src/core/timing';
import { machine } from './machine';

/** 'none' puts a linear activation where BN was: the floor, i.e. the epoch without any BN cost. */
type Variant = 'ours' | 'built-in' | 'none';
const VARIANTS: Variant[] = ['ours', 'built-in', 'none'];

function bn(variant: Variant, axis = -1): tf.layers.Layer {
  if (variant === 'ours') return new BatchNormalization({ axis });
  if (variant === 'built-in') return tf.layers.batchNormalization({ axis });
  return tf.layers.activation({ activation: 'linear' });
}

/** Dense(256) -> BN -> ReLU -> Dense(128) -> BN -> ReLU -> Dense(10, softmax). */
function mlp(variant: Variant): tf.LayersModel {
  const init = (seed: number) => tf.initializers.glorotUniform({ seed });
  return tf.sequential({
    layers: [
      tf.layers.flatten({ inputShape: [28, 28, 1] }),
      tf.layers.dense({ units: 256, kernelInitializer: init(1) }), bn(variant), tf.layers.reLU(),
      tf.layers.dense({ units: 128, kernelInitializer: init(2) }), bn(variant), tf.layers.reLU(),
      tf.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: init(3) }),
    ],
  });
}

/** Conv(8) -> BN -> ReLU -> MaxPool -> Conv(16) -> BN -> ReLU -> MaxPool -> Dense(10), channels-last. */
function cnn(variant: Variant): tf.LayersModel {
  const init = (seed: number) => tf.initializers.glorotUniform({ seed });
  return tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 8, kernelSize: 3, kernelInitializer: init(1) }),
      bn(variant), tf.layers.reLU(), tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.conv2d({ filters: 16, kernelSize: 3, kernelInitializer: init(2) }),
      bn(variant), tf.layers.reLU(), tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: init(3) }),
    ],
  });
}

/** Learnable synthetic digits: one random prototype image per class plus noise. */
function syntheticMnist(samples: number): { xs: tf.Tensor4D; ys: tf.Tensor2D } {
  return tf.tidy(() => {
    const prototypes = tf.randomUniform([10, 28 * 28], 0, 1, 'float32', 42);
    const labels = tf.tensor1d(Array.from({ length: samples }, (_, i) => i % 10), 'int32');
    const noise = tf.randomNormal([samples, 28 * 28], 0, 0.3, 'float32', 43);
    const xs = tf.reshape(tf.add(tf.gather(prototypes, labels), noise), [samples, 28, 28, 1]) as tf.Tensor4D;
    return { xs, ys: tf.oneHot(labels, 10).toFloat() as tf.Tensor2D };
  });
}

interface EpochRow {
  backend: string;
  model: string;
  samples: number;
  batchSize: number;
  oursMs: number;
  builtinMs: number;
  /** The same model without BN layers: what the rest of the epoch costs. */
  noBnMs: number;
  speedup: number;
  oursLoss: number;
  builtinLoss: number;
}

async function timeModels(backend: string, name: string, build: (v: Variant) => tf.LayersModel,
  samples: number, batchSize: number, epochs: number): Promise<EpochRow> {
  const { xs, ys } = syntheticMnist(samples);
  const models = VARIANTS.map((v) => {
    const m = build(v);
    m.compile({ optimizer: tf.train.adam(1e-3), loss: 'categoricalCrossentropy' });
    return m;
  });
  const times: number[][] = models.map(() => []);
  const losses = models.map(() => 0);
  for (let e = 0; e <= epochs; e++) {
    for (let i = 0; i < models.length; i++) {
      const t0 = process.hrtime.bigint();
      const h = await models[i].fit(xs, ys, { epochs: 1, batchSize, shuffle: true, verbose: 0 });
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (e > 0) times[i].push(ms); // epoch 0 is the warm-up
      losses[i] = h.history['loss'][0] as number;
    }
  }
  models.forEach((m) => m.dispose());
  tf.dispose([xs, ys]);
  const [oursMs, builtinMs, noBnMs] = times.map(median);
  return {
    backend, model: name, samples, batchSize, oursMs, builtinMs, noBnMs, speedup: builtinMs / oursMs,
    oursLoss: losses[0], builtinLoss: losses[1],
  };
}

/**
 * Runs the epoch benchmark and prints a table (or JSON with `--json`).
 *
 * Usage: `await runEpochBench(['--backend', 'cpu'])`
 */
export async function runEpochBench(argv: string[]): Promise<EpochRow[]> {
  const at = argv.indexOf('--backend');
  const backend = at >= 0 ? argv[at + 1] : 'cpu';
  const epochs = argv.includes('--quick') ? 1 : 2;
  if (!(await tf.setBackend(backend))) throw new Error(`backend ${backend} failed to initialize`);
  const rows = [await timeModels(backend, 'MLP 784-256-BN-128-BN-10', mlp, 2048, 64, epochs)];
  if (tf.getKernel('Conv2DBackpropFilter', backend) != null) {
    // Fewer samples: on cpu, tfjs' Conv2DBackpropFilter alone takes ~2 s per batch of 64.
    rows.push(await timeModels(backend, 'CNN conv8-BN-pool-conv16-BN-pool-10', cnn, 512, 64, epochs));
  } else {
    console.error(`CNN skipped: backend ${backend} has no Conv2DBackpropFilter kernel (cannot train convolutions)`);
  }
  const { line: about, ...info } = machine();
  if (argv.includes('--json')) {
    console.log(JSON.stringify({ machine: info, epochs: rows }, null, 2));
    return rows;
  }
  console.log(about);
  const head = ['backend', 'model', 'samples / batch', 'ours s/epoch', 'built-in s/epoch', 'built-in / ours',
    'without BN s/epoch', 'last loss ours / built-in'];
  const body = rows.map((r) => [
    r.backend, r.model, `${r.samples} / ${r.batchSize}`, (r.oursMs / 1000).toFixed(2), (r.builtinMs / 1000).toFixed(2),
    `${r.speedup.toFixed(2)}x`, (r.noBnMs / 1000).toFixed(2), `${r.oursLoss.toFixed(3)} / ${r.builtinLoss.toFixed(3)}`,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => `| ${cells.map((s, i) => s.padEnd(widths[i])).join(' | ')} |`;
  console.log([line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line)].join('\n'));
  console.log(`\nMedian of ${epochs} timed epochs after one warm-up epoch, epochs of the variants alternating; `
    + '"without BN": the same model with the BN layers replaced by a linear activation.');
  return rows;
}

if (require.main === module) {
  runEpochBench(process.argv.slice(2)).catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
