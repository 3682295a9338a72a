// Vitest runs the *.vitest.test.ts files; the harness needs no set-up of its own.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: { include: ['test/*.vitest.test.ts'], testTimeout: 120_000, hookTimeout: 120_000 },
});
