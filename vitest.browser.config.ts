// Vitest configuration of the browser tests (`npm run test:browser`): the dashboard in Debian's Chromium against the local stack.
import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/browser/**/*.browser.test.ts'],
    exclude: [...configDefaults.exclude],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    pool: 'forks',
    maxWorkers: 1,
    env: { METADATA_SERVER_DETECTION: 'none' },
    reporters: ['default'],
  },
});
