/**
 * Setup of every test file in the `tensorflow` run (jest.tensorflow.config.js): loads tfjs-node
 * and makes `tensorflow` the active backend, or fails the file with the reason. Nothing is
 * skipped: a missing or broken tfjs-node fails every file of this run.
 */
import * as tf from '@tensorflow/tfjs';

try {
  require('@tensorflow/tfjs-node');
} catch (e) {
  throw new Error(`the tensorflow test run needs @tensorflow/tfjs-node (install it with ` +
    `\`node scripts/install-tfjs-node.js\`); loading it failed: ${(e as Error).message}`);
}
if (tf.getBackend() !== 'tensorflow') {
  throw new Error(`the tensorflow test run expected the active backend 'tensorflow' after loading tfjs-node, got '${tf.getBackend()}'`);
}
if (new Float32Array(1) instanceof Float32Array === false || !(tf.tensor1d([1]).dataSync() instanceof Float32Array)) {
  throw new Error('the tensorflow test run needs test/setup/tensorflow_environment.js (typed arrays shared with the addon)');
}
