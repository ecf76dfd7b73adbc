/**
 * Jest setup (every test file). Two kinds of tfjs console output are noise here and dropped:
 *
 * - the advice to install tfjs-node, which the cpu backend prints on its first tensor in Node
 *   (once per test file, and again wherever a test starts a fresh backend): the suite runs plain
 *   @tensorflow/tfjs in Node on purpose;
 * - the re-registration notices tfjs prints when a test loads a fresh tfjs beside the first on
 *   purpose (jest.isolateModules, to start from empty registries).
 *
 * Only these exact messages are dropped; every other warning still prints.
 */
const NOISE = [
  /^\s*=+\s*Hi, looks like you are running TensorFlow\.js in Node\.js\. To speed things up dramatically, install our node backend/,
  /^The kernel '.*' for backend '.*' is already registered$/,
  /^Platform node has already been set\. Overwriting the platform with/,
  /^\w+ backend was already registered\. Reusing existing backend factory\.$/,
];
const warn = console.warn.bind(console);
console.warn = (...args: unknown[]) => {
  const text = typeof args[0] === 'string' ? args[0] : '';
  if (NOISE.some((re) => re.test(text))) return;
  warn(...args);
};
