// Where the bundled child-process scripts of this run are (test/setup/test-scripts.ts builds them), and how to start one.
import { join } from 'node:path';
import { inject } from 'vitest';
import type { TestScript } from '../setup/test-scripts.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Folder of this run's bundled scripts (the integration project's global set-up builds them). */
    testScripts: string;
  }
}

/** The bundled script `name` of this run. */
export function testScript(name: TestScript): string {
  return join(inject('testScripts'), 'bin', `${name}.mjs`);
}

/**
 * Node's arguments to run the bundled script `name` with `args`: plain node, no tsx, no loader. Its source map is
 * beside it, so `NODE_OPTIONS=--enable-source-maps` makes a child's stack traces name the sources (off by default: it
 * costs every start a few hundred milliseconds here).
 */
export function nodeArgs(name: TestScript, args: readonly string[] = []): string[] {
  return [testScript(name), ...args];
}
