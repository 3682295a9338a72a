// Vitest configuration of `npm run test:consumer`: the packed library in fresh apps with the current and previous
// Google client majors, on Node 22 and 24, and examples/testing under three test runners (installs from the npm
// registry, so not in `npm test`).
import { defineConfig } from 'vitest/config';
import { PACKAGE_ALIASES } from './vitest.config.js';

export default defineConfig({
  // The tests themselves (not the apps they install) import the package by name, resolved to its sources.
  resolve: { alias: PACKAGE_ALIASES },
  test: {
    include: ['test/consumer/**/*.test.ts'],
    globalSetup: ['test/consumer/pack.setup.ts'], // builds and packs the library once
    testTimeout: 180_000,
    hookTimeout: 600_000,
    pool: 'forks',
    maxWorkers: 1,
    reporters: ['default'],
  },
});
