// What one dashboard view costs in Datastore on a large store: seeds task entities (16 shards) in an emulator, then tallies the overview's queries, billed reads and time.
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { Datastore } from '@google-cloud/datastore';
import { countTasks } from '../src/dashboard/counts.js';
import { Reader } from '../src/dashboard/reads.js';
import { recentSweepRuns } from '../src/dashboard/sweeps.js';
import { listTasks } from '../src/dashboard/tasks.js';
import { startDatastoreEmulator } from '../src/local-stack/index.js';
import {
  INDEXED_TASK_PROPERTIES,
  TASK_KIND,
  ageKey,
  finishedAgeKey,
  shardOf,
  type DeferredTaskEntity,
  type TaskState,
} from '../src/store/schema.js';

const { values } = parseArgs({
  options: {
    entities: { type: 'string', default: '20000' },
    backend: { type: 'string', default: 'firestore' },
    shards: { type: 'string', default: '16' },
  },
});
const total = Number(values.entities);
const shards = Number(values.shards);
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const indexed = new Set<string>(INDEXED_TASK_PROPERTIES);

/** A realistic mix: most finished and retained, some pending and running, a few failed, a few overdue. */
function entityAt(i: number, now: number): { name: string; data: DeferredTaskEntity } {
  const name = `bench-${i}-${randomBytes(4).toString('hex')}`;
  const shard = shardOf(name, shards);
  const r = i % 100;
  const state: TaskState = r < 80 ? 'done' : r < 90 ? 'pending' : r < 93 ? 'running' : 'failed';
  const created = now - (i % 5000) * 60_000;
  const finished = state === 'done' || state === 'failed';
  const retentionMs = 7 * DAY;
  const data: DeferredTaskEntity = {
    state,
    task: 'bench',
    queue: 'default',
    cloudTaskName: `projects/p/locations/l/queues/default/tasks/${name}`,
    cloudTaskRequest: '{}',
    transactional: false,
    created: new Date(created),
    eta: new Date(created),
    attempts: 1,
    leaseUntil: null,
    lastError: state === 'failed' ? 'Error: boom' : null,
    finishedAt: finished ? new Date(created + 1000) : null,
    retentionMs,
    shard,
    ageKey: finished ? finishedAgeKey(shard, created + 1000 + retentionMs) : ageKey(shard, created),
    expireAt: new Date(created + 30 * DAY),
    payload: state === 'done' ? Buffer.alloc(0) : randomBytes(200),
    chunks: 0,
    encoding: 'identity',
    payloadBytes: state === 'done' ? 0 : 200,
  };
  return { name, data };
}

const emulator = await startDatastoreEmulator({ backend: values.backend as 'datastore' | 'firestore' });
try {
  const namespace = `bench-dash-${randomBytes(3).toString('hex')}`;
  const datastore = new Datastore({ ...emulator.clientOptions, namespace });
  const now = Date.now();
  const started = Date.now();
  for (let i = 0; i < total; i += 500) {
    const batch = Array.from({ length: Math.min(500, total - i) }, (_, j) => {
      const { name, data } = entityAt(i + j, now);
      return {
        key: datastore.key([TASK_KIND, name]),
        data: Object.entries(data).map(([n, value]) => ({ name: n, value, excludeFromIndexes: !indexed.has(n) })),
      };
    });
    await datastore.save(batch);
    if ((i / 500) % 20 === 0) process.stderr.write(`\rseeded ${i + batch.length}/${total}`);
  }
  process.stderr.write(`\rseeded ${total} task entities in ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
  for (let run = 0; run < 3; run++) {
    const t0 = performance.now();
    const counts = await countTasks(new Reader(datastore, namespace), { nowMs: Date.now(), shards });
    const t1 = performance.now();
    const runs = await recentSweepRuns(new Reader(datastore, namespace), 48);
    const list = await listTasks(new Reader(datastore, namespace), 'failed', undefined);
    console.log(
      JSON.stringify({
        backend: values.backend,
        entities: counts.total,
        byState: counts.byState,
        overviewCounts: { ...counts.cost, ms: Math.round(t1 - t0) },
        sweepRuns: runs.cost,
        taskListPage: list.cost,
      }),
    );
  }
} finally {
  await emulator.stop();
}
