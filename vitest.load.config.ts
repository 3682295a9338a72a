// Vitest configuration of `npm run test:load`: the load test alone (minutes long, so not in `npm test`), same emulators.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/load/**/*.test.ts'],
    globalSetup: ['test/setup/global-emulators.ts'],
    testTimeout: 600_000,
    hookTimeout: 120_000,
    pool: 'forks',
    env: { METADATA_SERVER_DETECTION: 'none' },
    maxWorkers: 1,
    reporters: ['default'],
  },
});
