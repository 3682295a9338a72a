/** Writing `_DeferredTask` entities the way the runtime leaves them (finished, past retention), fast, for the sweep figures. */
import { randomBytes } from 'node:crypto';
import type { Datastore } from '@google-cloud/datastore';
import { doneAgeKey, shardOf } from '../../src/store/schema.js';
import { packPayload, taskKey, taskMutations } from '../../src/store/task-entity.js';
import { pool } from './stats.js';

const DAY = 86_400_000;

/**
 * The "now" of the benchmark's sweeps: the real time at start, so seeded entities look as a real project's would
 * (finished 8 days ago, `expireAt` still ahead, so a Firestore TTL policy does not take them first).
 */
export const SWEEP_NOW = Date.now();

/** Options of {@link seedFinishedTasks}. */
export interface SeedOptions {
  /** Shards the entities are spread over (as the writers would with `shards`). */
  readonly shards: number;
  /** The sweep's now; entities finished 8 days before it, with the default 7-day retention. */
  readonly nowMs: number;
  /** Queue path the stored CreateTask requests name. */
  readonly queuePath: string;
  /** Entities per commit. @default 500 */
  readonly batch?: number;
  /** Commits in flight. @default 4 */
  readonly concurrency?: number;
}

/**
 * Writes `count` done task entities, as `completeTask` leaves them (payload dropped, CreateTask request kept), all
 * reclaimable by a sweep at `nowMs`.
 */
export async function seedFinishedTasks(datastore: Datastore, count: number, options: SeedOptions): Promise<void> {
  const batch = options.batch ?? 500;
  const created = options.nowMs - 8 * DAY;
  const empty = packPayload(Buffer.alloc(0));
  const keep = { retentionMs: 7 * DAY, expireAt: new Date(created + 30 * DAY) };
  const commits = Math.ceil(count / batch);
  await pool(commits, options.concurrency ?? 4, async (c) => {
    const mutations: { key: unknown; data: unknown }[] = [];
    for (let i = c * batch; i < Math.min(count, (c + 1) * batch); i++) {
      const name = randomBytes(12).toString('base64url');
      const shard = shardOf(name, options.shards);
      const key = taskKey(datastore, name);
      const request = JSON.stringify({
        parent: options.queuePath,
        task: {
          name: `${options.queuePath}/tasks/${name}`,
          scheduleTime: { seconds: Math.floor(created / 1000), nanos: 0 },
          httpRequest: {
            url: 'https://worker.example.com/_deferred/tasks/sendReport',
            httpMethod: 'POST',
            headers: { 'Content-Type': 'application/json', 'X-Deferred-Signature': `v1=${name}` },
            body: Buffer.from(
              `{"v":1,"task":"sendReport","args":[],"ref":{"path":["_DeferredTask","${name}"]}}`,
            ).toString('base64'),
          },
        },
      });
      mutations.push(
        ...taskMutations(
          datastore,
          key,
          {
            state: 'done',
            task: 'sendReport',
            queue: options.queuePath.split('/').pop()!,
            cloudTaskName: `${options.queuePath}/tasks/${name}`,
            cloudTaskRequest: request,
            transactional: false,
            created: new Date(created),
            eta: new Date(created),
            attempts: 1,
            leaseUntil: null,
            lastError: null,
            finishedAt: new Date(created + 60_000),
            ...keep,
            shard,
            ageKey: doneAgeKey({ shard, ...keep }, created + 60_000), // as completeTask keys it
          },
          { ...empty, payloadBytes: 0 },
        ),
      );
    }
    await datastore.save(mutations as Parameters<Datastore['save']>[0]);
  });
}
