// Global set-up: starts the Datastore emulator and the Firestore emulator (Datastore mode) once for the whole run, and
// bundles the scripts that tests run as child processes (test/setup/test-scripts.ts) while they start.
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startDatastoreEmulator, type RunningDatastoreEmulator } from '../../src/local-stack/index.js';
import { buildTestScripts } from './test-scripts.js';

declare module 'vitest' {
  export interface ProvidedContext {
    emulators: { backend: 'datastore' | 'firestore'; projectId: string; apiEndpoint: string }[];
  }
}

/**
 * The emulators' JVMs for a test run of minutes on 2 cores: C1 only (C2's compiling of hot code costs more CPU than it
 * gives back in a run this short) and a serial collector. `npm test` went from about 335 to 310 s with them.
 */
const TEST_JVM_OPTIONS = '-XX:TieredStopAtLevel=1 -XX:+UseSerialGC';

export default async function setup(project: TestProject) {
  process.env.JAVA_TOOL_OPTIONS ??= TEST_JVM_OPTIONS; // the emulators inherit it (and the tests' own, if they start one)
  const started: RunningDatastoreEmulator[] = [];
  const [scripts, ...emulators] = await Promise.allSettled([
    buildTestScripts(),
    startDatastoreEmulator({ backend: 'datastore' }),
    startDatastoreEmulator({ backend: 'firestore' }),
  ]);
  for (const result of emulators) if (result.status === 'fulfilled') started.push(result.value);
  const failed = [scripts, ...emulators].find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed || scripts.status !== 'fulfilled') {
    await Promise.all(started.map((e) => e.stop()));
    if (scripts.status === 'fulfilled') scripts.value.remove();
    throw failed?.reason;
  }
  project.provide(
    'emulators',
    started.map((e) => ({ backend: e.backend, ...e.clientOptions })),
  );
  project.provide('testScripts', scripts.value.dir);
  // Node 22 and later keep the compiled code of the scripts (and the clients they load) for the run's later children:
  // a fresh cache per run, removed with the scripts. Node 20 ignores it.
  process.env.NODE_COMPILE_CACHE ??= join(scripts.value.dir, 'compile-cache');
  return async () => {
    await Promise.all(started.map((e) => e.stop()));
    scripts.value.remove();
  };
}
