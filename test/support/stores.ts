// Suites run on the in-memory backend of cloud-deferred/testing and on both Datastore emulators, so the in-memory
// one is checked against the real thing: a Datastore client per test (own namespace), and the testing harness.
import { randomBytes } from 'node:crypto';
import { Datastore } from '@google-cloud/datastore';
import { afterEach, beforeEach, describe } from 'vitest';
import { createMemoryDatastore, MemoryDatastoreState } from '../../src/testing/memory-datastore/index.js';
import {
  createTestHarness,
  type HarnessEnvironment,
  type TestHarness,
  type TestHarnessOptions,
} from '../../src/testing/harness.js';
import type { HarnessBackend } from '../../src/testing/backends.js';
import { clearNamespace, emulators } from './backends.js';

/** Which store a test runs on. */
export type StoreBackend = 'memory' | 'datastore' | 'firestore';

/** What a store test gets. */
export interface StoreContext {
  readonly backend: StoreBackend;
  readonly namespace: string;
  /** A client whose default namespace is this test's own. */
  readonly datastore: Datastore;
  /** Another client on the same store (same data), in `namespace`. */
  client(namespace: string): Promise<Datastore>;
}

/** The in-memory store, then each emulator of the run. */
const BACKENDS = () => [
  { backend: 'memory' as const, projectId: 'test-project', apiEndpoint: '' },
  ...emulators().map((e) => ({ ...e, backend: e.backend as StoreBackend })),
];

/**
 * Declares `body` once per store: the in-memory Datastore and both emulators. `ctx()` gives the current test's
 * namespace and client; emulator namespaces are cleared afterwards.
 */
export function describeStores(title: string, body: (ctx: () => StoreContext) => void): void {
  describe.each(BACKENDS())(`${title} [$backend]`, (store) => {
    let current: StoreContext | undefined;
    beforeEach(async () => {
      const namespace = `t-${randomBytes(6).toString('hex')}`;
      if (store.backend === 'memory') {
        const state = new MemoryDatastoreState();
        const client = (ns: string) => createMemoryDatastore({ projectId: store.projectId, namespace: ns, state });
        current = { backend: 'memory', namespace, datastore: await client(namespace), client };
      } else {
        const client = async (ns: string) =>
          new Datastore({ projectId: store.projectId, apiEndpoint: store.apiEndpoint, namespace: ns });
        current = { backend: store.backend, namespace, datastore: await client(namespace), client };
      }
    });
    afterEach(async () => {
      if (current && current.backend !== 'memory') await clearNamespace(current.datastore, current.namespace);
      current = undefined;
    });
    body(() => {
      if (!current) throw new Error('ctx() is only available inside a test or hook');
      return current;
    });
  });
}

/** What a harness test gets. */
export interface HarnessContext {
  readonly backend: HarnessBackend;
  /** Builds a harness around `app` on this suite's backend (closed after the test). */
  start<App>(
    app: (env: HarnessEnvironment) => App | Promise<App>,
    options?: Omit<TestHarnessOptions, 'backend' | 'datastore'>,
  ): Promise<TestHarness<App>>;
}

/**
 * Declares `body` once per harness backend: `memory`, `datastore-emulator` and `firestore-emulator` (on the emulators
 * the global set-up started, in a namespace of the test's own, cleared afterwards).
 */
export function describeHarness(title: string, body: (ctx: () => HarnessContext) => void): void {
  describe.each(BACKENDS())(`${title} [$backend]`, (store) => {
    const backend: HarnessBackend = store.backend === 'memory' ? 'memory' : `${store.backend}-emulator`;
    let started: TestHarness<unknown>[] = [];
    let datastore: Datastore | undefined;
    let namespace = '';
    beforeEach(() => {
      namespace = `t-${randomBytes(6).toString('hex')}`;
      datastore =
        store.backend === 'memory'
          ? undefined
          : new Datastore({ projectId: store.projectId, apiEndpoint: store.apiEndpoint, namespace });
    });
    afterEach(async () => {
      await Promise.all(started.map((h) => h.close()));
      started = [];
      if (datastore) await clearNamespace(datastore, namespace);
    });
    body(() => ({
      backend,
      async start(app, options = {}) {
        const harness = await createTestHarness(app, {
          ...options,
          backend,
          ...(datastore ? { datastore } : { namespace }),
        });
        started.push(harness as TestHarness<unknown>);
        return harness;
      },
    }));
  });
}
