/**
 * The layers' and IO suites again, on tfjs-node's `tensorflow` backend (`npm run test:tensorflow`,
 * part of `npm test`). tfjs-node is installed first by scripts/install-tfjs-node.js; every file
 * loads it and fails if it cannot (test/setup/tensorflow_backend.ts). The environment shares
 * Node's typed-array constructors with each file so the addon's arrays pass tfjs's instanceof
 * checks (test/setup/tensorflow_environment.js).
 */
const base = require('./jest.config.js');

/** @type {import('jest').Config} */
module.exports = {
  ...base,
  testEnvironment: '<rootDir>/test/setup/tensorflow_environment.js',
  setupFiles: [...base.setupFiles, '<rootDir>/test/setup/tensorflow_backend.ts'],
  testPathIgnorePatterns: [],
  // Chosen to fit the time budget (install plus this run within two minutes on two cores):
  // the tests only this backend has (test/tensorflow/: kernels, file:// safety and saves with the
  // real tfjs-node), the Teachable Machine conversion (predictions equal within 1e-5), file:// IO
  // and routing, and the layers' numerics, training and serialization.
  // io.hostile and io.save pass here too but are the two slowest IO files; their tfjs-node
  // specific cases (a manifest path out of the folder, saving the addon's arrays) are in
  // test/tensorflow/io.test.ts.
  testMatch: [
    '<rootDir>/test/tensorflow/**/*.test.ts',
    '<rootDir>/test/convert.teachable_machine.test.ts',
    '<rootDir>/test/io.file_system.test.ts',
    '<rootDir>/test/io.router.test.ts',
    '<rootDir>/test/layer.builtin_parity.test.ts',
    '<rootDir>/test/layer.family.test.ts',
    '<rootDir>/test/layer.keras_semantics.test.ts',
    '<rootDir>/test/layer.serialization.test.ts',
  ],
};
