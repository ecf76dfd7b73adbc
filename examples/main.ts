// Placeholder main job: a short demonstration of the layer against the built-in (issue 4 replaces it).
import * as tf from '@tensorflow/tfjs';
import { batchNormalization } from '../src';

async function main(): Promise<void> {
  await tf.setBackend('cpu');
  const x = tf.randomNormal([64, 16], 3, 2, 'float32', 1);
  const ours = batchNormalization();
  const stock = tf.layers.batchNormalization();
  const a = ours.apply(x, { training: true }) as tf.Tensor;
  const b = stock.apply(x, { training: true }) as tf.Tensor;
  console.log(`training output, max |ours - built-in|: ${tf.max(tf.abs(tf.sub(a, b))).dataSync()[0].toExponential(2)}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
