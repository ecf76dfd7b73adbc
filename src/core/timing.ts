/**
 * Timing helpers shared by `tfjs-batchnorm verify`, the folding example and the bench: medians,
 * and predict times measured with the models taking turns, so load drifting on a shared machine
 * hits every model alike.
 */
import * as tf from '@tensorflow/tfjs';

/**
 * The median of a non-empty list.
 *
 * Usage: `median([3, 1, 2]) // 2`
 */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * `model.predict` on one or several inputs, always as a list of outputs.
 *
 * Usage: `const [y] = predictAll(model, [x]);`
 */
export function predictAll(model: tf.LayersModel, inputs: tf.Tensor[]): tf.Tensor[] {
  const y = model.predict(inputs.length === 1 ? inputs[0] : inputs);
  return Array.isArray(y) ? y : [y];
}

/**
 * Median milliseconds of one `predict` (outputs read back) per model, over `runs` interleaved
 * rounds after `warmUpRounds` untimed ones.
 *
 * Usage: `const [before, after] = await timePredictions([model, folded], [x], { runs: 10 });`
 */
export async function timePredictions(models: tf.LayersModel[], inputs: tf.Tensor[],
  { runs, warmUpRounds = 1 }: { runs: number; warmUpRounds?: number }): Promise<number[]> {
  const times: number[][] = models.map(() => []);
  for (let round = 0; round < warmUpRounds + runs; round++) {
    for (const [k, model] of models.entries()) {
      const start = performance.now();
      const ys = predictAll(model, inputs);
      await Promise.all(ys.map((y) => y.data()));
      tf.dispose(ys);
      if (round >= warmUpRounds) times[k].push(performance.now() - start);
    }
  }
  return times.map(median);
}
