// Global set-up: starts the Datastore emulator and the Firestore emulator (Datastore mode) once for the whole run.
import type { TestProject } from 'vitest/node';
import { startDatastoreEmulator, type RunningDatastoreEmulator } from '../../src/local-stack/index.js';

declare module 'vitest' {
  export interface ProvidedContext {
    emulators: { backend: 'datastore' | 'firestore'; projectId: string; apiEndpoint: string }[];
  }
}

export default async function setup(project: TestProject) {
  const started: RunningDatastoreEmulator[] = [];
  const results = await Promise.allSettled([
    startDatastoreEmulator({ backend: 'datastore' }),
    startDatastoreEmulator({ backend: 'firestore' }),
  ]);
  for (const result of results) if (result.status === 'fulfilled') started.push(result.value);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    await Promise.all(started.map((e) => e.stop()));
    throw failed.reason;
  }
  project.provide(
    'emulators',
    started.map((e) => ({ backend: e.backend, ...e.clientOptions })),
  );
  return async () => {
    await Promise.all(started.map((e) => e.stop()));
  };
}
