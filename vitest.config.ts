// Vitest configuration: two projects. `unit` (test/unit/): pure tests, no emulator, no global set-up, seconds.
// `integration` (every other test file): the global set-up starts both Datastore emulators once per run; tests isolate
// by namespace. `npm test` runs both; `npm run test:unit` runs the unit project alone (no emulator lock needed).
import { fileURLToPath } from 'node:url';
import { configDefaults, defineConfig } from 'vitest/config';
import SlowFirstSequencer from './test/setup/slow-first.js';

/** The package's entry points (package.json "exports", as tsconfig.json "paths" has them) and their sources. */
export const PACKAGE_ENTRY_POINTS: Readonly<Record<string, string>> = {
  'cloud-deferred': './src/index.ts',
  'cloud-deferred/testing': './src/testing/index.ts',
  'cloud-deferred/dashboard': './src/dashboard/index.ts',
  'cloud-deferred/jobs': './src/jobs/index.ts',
  'cloud-deferred/inspect': './src/sweeper/inspection.ts',
  'cloud-deferred/emulator': './src/tasks-emulator/index.ts',
  'cloud-deferred/local': './src/local-stack/index.ts',
};

/** Vitest aliases resolving each entry point by package name to its source (vitest.consumer.config.ts uses them too). */
export const PACKAGE_ALIASES = Object.entries(PACKAGE_ENTRY_POINTS).map(([name, source]) => ({
  find: new RegExp(`^${name.replace('/', '\\/')}$`),
  replacement: fileURLToPath(new URL(source, import.meta.url)),
}));

export default defineConfig({
  // README examples import the package by name, as users do: each subpath export resolves to its source here.
  resolve: { alias: PACKAGE_ALIASES },
  test: {
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    env: { METADATA_SERVER_DETECTION: 'none' },
    maxWorkers: 2,
    reporters: ['default'],
    // The slowest files first, so that none starts last and runs alone (test/setup/slow-first.ts).
    sequence: { sequencer: SlowFirstSequencer },
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          // No emulators here: a unit test that reaches for them fails at once, saying where it belongs.
          setupFiles: ['test/setup/unit-no-emulators.ts'],
          isolate: false, // pure tests: they share a worker's modules, as the integration project does
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/**/*.test.ts'],
          // `npm run test:load`, `npm run test:consumer`, `npm run test:browser`, and the unit project.
          exclude: [...configDefaults.exclude, 'test/unit/**', 'test/load/**', 'test/consumer/**', 'test/browser/**'],
          globalSetup: ['test/setup/global-emulators.ts'],
          // Files share a worker's modules (the clients and the runtime load once per worker, not once per file): on 2
          // cores importing them again for each of 50 files was a fifth of the run. Tests isolate by namespace.
          isolate: false,
        },
      },
    ],
  },
});
