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

export default async function setup(project: TestProject) {
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
