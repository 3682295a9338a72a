// Jest runs the TypeScript tests as ES modules (cloud-deferred is ESM only) through ts-jest.
export default {
  testEnvironment: 'node',
  testMatch: ['**/test/*.jest.test.ts'],
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: { '^.+\\.ts$': ['ts-jest', { useESM: true }] },
};
