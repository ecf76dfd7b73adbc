/** @type {import('jest').Config} */
module.exports = {
  preset: 'ts-jest',
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  transform: { '^.+\\.ts$': ['ts-jest', { diagnostics: false }] },
  testTimeout: 120000,
  // Two workers: jest's default (cores - 1) leaves one of CI's two cores idle. A fixed number rather
  // than a share of the cores, since a container may report more cores than it is given.
  maxWorkers: 2,
  // Drops tfjs's install-tfjs-node banner and its re-registration notices; see the file.
  setupFiles: ['<rootDir>/test/setup/quiet_tfjs.ts'],
  // Run on the tensorflow backend only, by jest.tensorflow.config.js (`npm run test:tensorflow`).
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/tensorflow/'],
};
