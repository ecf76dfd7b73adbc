/**
 * Jest setup (every test file): the suite runs plain @tensorflow/tfjs in Node on purpose, so
 * tfjs's advice to install tfjs-node is noise, printed once per test file. The cpu backend
 * prints it on its first tensor when IS_NODE is set; that first tensor is made here with the
 * flag off for a moment.
 *
 * Tests that load a fresh tfjs beside the first on purpose (jest.isolateModules, to start from
 * empty registries) make tfjs re-register its kernels and platform, which it reports through
 * console.warn; those two messages, and only those, are dropped.
 */
import * as tf from '@tensorflow/tfjs';

tf.env().set('IS_NODE', false);
tf.tidy(() => tf.scalar(0));
tf.env().set('IS_NODE', true);

const EXPECTED_WHEN_RELOADING_TFJS = [
  /^The kernel '.*' for backend '.*' is already registered$/,
  /^Platform node has already been set\. Overwriting the platform with/,
  /^\w+ backend was already registered\. Reusing existing backend factory\.$/,
];
const warn = console.warn.bind(console);
console.warn = (...args: unknown[]) => {
  const text = typeof args[0] === 'string' ? args[0] : '';
  if (EXPECTED_WHEN_RELOADING_TFJS.some((re) => re.test(text))) return;
  warn(...args);
};
