/** @type {import('jest').Config} */
module.exports = {
  preset: 'ts-jest',
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  transform: { '^.+\\.ts$': ['ts-jest', { diagnostics: false }] },
  testTimeout: 120000,
  // No tfjs-node banner per test file; see the file.
  setupFiles: ['<rootDir>/test/setup/quiet_tfjs.ts'],
};
