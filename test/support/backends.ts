// The storage test harness: runs a suite once per Datastore emulator, with a fresh namespace per test and cleanup after.
import { randomBytes } from 'node:crypto';
import { Datastore } from '@google-cloud/datastore';
import { afterEach, beforeEach, describe, inject, type ProvidedContext } from 'vitest';

/** What a storage test gets: the backend it runs on, its own namespace and a client bound to that namespace. */
export interface StorageContext {
  readonly backend: 'datastore' | 'firestore';
  readonly namespace: string;
  /** A client whose default namespace is this test's own. */
  readonly datastore: Datastore;
  /** Options to build more clients against the same emulator (add `namespace`). */
  readonly clientOptions: { readonly projectId: string; readonly apiEndpoint: string };
}

/**
 * The emulators started by the global set-up of the integration project. Throws in the unit project (test/unit/),
 * which has none: a unit test that needs an emulator is in the wrong place.
 */
export function emulators(): ProvidedContext['emulators'] {
  const started = inject('emulators');
  if (!Array.isArray(started) || started.length === 0) {
    throw new Error(
      'no emulators in this run: test/unit/ runs without them (no global set-up, no lock). A test that needs Datastore belongs in the integration project: move it out of test/unit/.',
    );
  }
  return started;
}

/** Deletes every entity of a namespace (kindless keys-only query, batched deletes). */
export async function clearNamespace(datastore: Datastore, namespace: string): Promise<void> {
  for (;;) {
    const [entities] = await datastore.runQuery(datastore.createQuery(namespace, []).select('__key__').limit(5000));
    if (entities.length === 0) return;
    const keys = entities.map((e) => e[Datastore.KEY]);
    const batches: (typeof keys)[] = [];
    for (let i = 0; i < keys.length; i += 500) batches.push(keys.slice(i, i + 500));
    await Promise.all(batches.map((batch) => datastore.delete(batch)));
  }
}

/**
 * Declares `body` once per emulator (`describe.each`), so every storage test runs on both. `ctx()` is valid inside
 * tests and hooks and gives the current test's namespace and client.
 *
 * @example
 * describeStorage('my store', (ctx) => {
 *   it('saves', async () => { await ctx().datastore.save(...) });
 * });
 */
export function describeStorage(title: string, body: (ctx: () => StorageContext) => void): void {
  describe.each(emulators())(`${title} [$backend]`, (emulator) => {
    let current: StorageContext | undefined;
    beforeEach(() => {
      const namespace = `t-${randomBytes(6).toString('hex')}`;
      current = {
        backend: emulator.backend,
        namespace,
        datastore: new Datastore({ projectId: emulator.projectId, apiEndpoint: emulator.apiEndpoint, namespace }),
        clientOptions: { projectId: emulator.projectId, apiEndpoint: emulator.apiEndpoint },
      };
    });
    afterEach(async () => {
      if (current) await clearNamespace(current.datastore, current.namespace);
      current = undefined;
    });
    body(() => {
      if (!current) throw new Error('ctx() is only available inside a test or hook');
      return current;
    });
  });
}
