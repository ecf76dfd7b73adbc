/**
 * Runs two models on the same seeded input and measures how far apart their outputs are and
 * how long each takes per batch. The engine of `tfjs-batchnorm verify`.
 */
import * as tf from '@tensorflow/tfjs';
import { predictAll, timePredictions } from '../core/timing';

export interface CompareOptions {
  /** Batch size of the generated input (default 2). */
  batch?: number;
  /** Seed of the uniform random input (default 0). */
  seed?: number;
  /** Input value range (default [-1, 1], MobileNet-style image scaling). */
  range?: [number, number];
  /** Timed runs per model, after the comparison run that doubles as warm-up (default 3). */
  runs?: number;
}

export interface CompareResult {
  inputShapes: number[][];
  maxAbsDiff: number;
  /** maxAbsDiff divided by the largest |output| of model a. */
  maxRelDiff: number;
  /** Median milliseconds per batch. */
  msPerBatchA: number;
  msPerBatchB: number;
}

/** Input shapes of a model with the batch dimension set; throws if a dimension is unknown. */
export function inputShapes(model: tf.LayersModel, batch: number): number[][] {
  return model.inputs.map((input) => input.shape.map((d, i) => {
    if (i === 0) return batch;
    if (d == null) throw new Error(`input '${input.name}' has an unknown dimension ${i} (shape ${JSON.stringify(input.shape)})`);
    return d;
  }));
}

/**
 * Compares `a` and `b` on one seeded random batch. Throws if their input or output shapes differ.
 *
 * Usage: `const { maxAbsDiff } = await compareModels(original, folded, { batch: 2, seed: 0 });`
 */
export async function compareModels(a: tf.LayersModel, b: tf.LayersModel, options: CompareOptions = {}): Promise<CompareResult> {
  const { batch = 2, seed = 0, range = [-1, 1], runs = 3 } = options;
  const shapes = inputShapes(a, batch);
  const shapesB = inputShapes(b, batch);
  if (JSON.stringify(shapes) !== JSON.stringify(shapesB)) {
    throw new Error(`the models take different inputs: ${JSON.stringify(shapes)} vs ${JSON.stringify(shapesB)}`);
  }
  const inputs = shapes.map((shape, i) => tf.randomUniform(shape, range[0], range[1], a.inputs[i].dtype, seed + i));
  try {
    const { maxAbsDiff, maxAbs } = tf.tidy(() => {
      const ya = predictAll(a, inputs);
      const yb = predictAll(b, inputs);
      if (ya.length !== yb.length || ya.some((y, i) => !tf.util.arraysEqual(y.shape, yb[i].shape))) {
        throw new Error(`the models' outputs differ in shape: ${JSON.stringify(ya.map((y) => y.shape))} vs ` +
          `${JSON.stringify(yb.map((y) => y.shape))}`);
      }
      const diff = Math.max(...ya.map((y, i) => tf.max(tf.abs(tf.sub(y, yb[i]))).dataSync()[0]));
      return { maxAbsDiff: diff, maxAbs: Math.max(...ya.map((y) => tf.max(tf.abs(y)).dataSync()[0])) };
    });
    // The comparison above was each model's first run, the warm-up.
    const [msPerBatchA, msPerBatchB] = await timePredictions([a, b], inputs, { runs, warmUpRounds: 0 });
    return {
      inputShapes: shapes,
      maxAbsDiff,
      maxRelDiff: maxAbs > 0 ? maxAbsDiff / maxAbs : maxAbsDiff,
      msPerBatchA,
      msPerBatchB,
    };
  } finally {
    tf.dispose(inputs);
  }
}
