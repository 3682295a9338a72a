// Vitest configuration: one global set-up starts both Datastore emulators once per run; tests isolate by namespace.
import { fileURLToPath } from 'node:url';
import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  // README examples import the package by name, as users do.
  resolve: { alias: { 'cloud-deferred': fileURLToPath(new URL('./src/index.ts', import.meta.url)) } },
  test: {
    include: ['test/**/*.test.ts'],
    exclude: [...configDefaults.exclude, 'test/load/**', 'test/consumer/**'], // `npm run test:load`, `test:consumer`
    globalSetup: ['test/setup/global-emulators.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    env: { METADATA_SERVER_DETECTION: 'none' },
    maxWorkers: 2,
    reporters: ['default'],
  },
});
