// The race test's workload: a seeded mix of task lifecycles, a worker that runs them through the entity state machine over HTTP, and a ledger of what it saw.
import { createServer, type Server } from 'node:http';
import { randomBytes } from 'node:crypto';
import type { Datastore, Key } from '@google-cloud/datastore';
import { CHUNK_KIND } from '../../src/store/schema.js';
import { taskEntityData } from './task-fixture.js';
import { ageKey, shardOf, type DeferredTaskEntity } from '../../src/store/schema.js';

/** What a task does over its life. */
export type Lifecycle =
  | 'ok' // done on the first attempt
  | 'retry-then-ok' // fails `failures` times, then done
  | 'permanent' // fails permanently (state failed)
  | 'exhaust' // fails every attempt until Cloud Tasks gives up -> leaked
  | 'crash' // the first run crashes holding its lease (no completion), later runs succeed
  | 'operator-deleted' // its Cloud Task is deleted before it runs -> leaked
  | 'lost-enqueue'; // transactional, committed, Cloud Task never created -> re-driven by the sweeper

export interface Plan {
  id: string;
  lifecycle: Lifecycle;
  failures: number;
  chunks: number;
  transactional: boolean;
  retentionMs: number;
}

/** A small seeded PRNG (mulberry32). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WEIGHTS: [Lifecycle, number][] = [
  ['ok', 34],
  ['retry-then-ok', 20],
  ['permanent', 10],
  ['exhaust', 10],
  ['crash', 8],
  ['operator-deleted', 9],
  ['lost-enqueue', 9],
];

/** `count` plans drawn from `seed`. */
export function plans(seed: number, count: number): Plan[] {
  const random = prng(seed);
  const total = WEIGHTS.reduce((n, [, w]) => n + w, 0);
  return Array.from({ length: count }, (_, i) => {
    let pick = random() * total;
    let lifecycle: Lifecycle = 'ok';
    for (const [name, weight] of WEIGHTS) {
      if ((pick -= weight) < 0) {
        lifecycle = name;
        break;
      }
    }
    return {
      id: `s${seed}-${i}`,
      lifecycle,
      failures: 1 + Math.floor(random() * 2),
      chunks: random() < 0.2 ? 1 + Math.floor(random() * 3) : 0,
      // An operator-deleted transactional task is re-driven (it is committed intent), so only non-transactional ones leak.
      transactional: lifecycle === 'lost-enqueue' || (lifecycle !== 'operator-deleted' && random() < 0.3),
      retentionMs: random() < 0.5 ? 0 : 300,
    };
  });
}

/** What the worker saw, per task id. */
export interface Ledger {
  finished: Set<string>;
  /** Deliveries that found no entity although the task had not finished: a live payload was deleted. */
  livePayloadDeleted: string[];
  runs: number;
}

/** Worker settings shared with the queue. */
export const LEASE_MS = 30_000;
export const CRASH_LEASE_MS = 400;

/**
 * The entity-backed run of one delivery, as the runtime does it: claim (pending -> running with a lease, in a
 * transaction), run, complete (running -> done | failed | pending, in a transaction; done with zero retention deletes).
 * Answers 200 (done, failed, finished, nothing to do) or 500 / 503 (retry).
 */
export async function deliver(datastore: Datastore, key: Key, plan: Plan, ledger: Ledger): Promise<number> {
  const now = Date.now();
  const claim = await inTx(datastore, async (tx) => {
    const [entity] = (await tx.get(key)) as [DeferredTaskEntity | undefined];
    if (!entity) return { kind: 'missing' as const };
    if (entity.state === 'done' || entity.state === 'failed') return { kind: 'finished' as const };
    if (entity.state === 'running' && entity.leaseUntil && entity.leaseUntil.getTime() > now)
      return { kind: 'busy' as const };
    const attempts = Number(entity.attempts) + 1;
    const crash = plan.lifecycle === 'crash' && attempts === 1;
    const next = {
      ...stripKey(entity),
      state: 'running' as const,
      attempts,
      leaseUntil: new Date(now + (crash ? CRASH_LEASE_MS : LEASE_MS)),
    };
    tx.save({ key, data: taskEntityData(next) });
    return { kind: 'run' as const, attempts, entity: next };
  });
  if (claim.kind === 'missing') {
    if (!ledger.finished.has(plan.id)) ledger.livePayloadDeleted.push(plan.id);
    return 200;
  }
  if (claim.kind === 'finished') return 200;
  if (claim.kind === 'busy') return 503;
  ledger.runs++;
  const { attempts } = claim;
  if (plan.lifecycle === 'crash' && attempts === 1) return 500; // crashed: the lease stays until it runs out
  const outcome: 'done' | 'failed' | 'retry' =
    plan.lifecycle === 'permanent'
      ? 'failed'
      : plan.lifecycle === 'exhaust' || (plan.lifecycle === 'retry-then-ok' && attempts <= plan.failures)
        ? 'retry'
        : 'done';
  const completed = await inTx(datastore, async (tx) => {
    const [entity] = (await tx.get(key)) as [DeferredTaskEntity | undefined];
    if (!entity) return 'missing' as const;
    if (entity.state !== 'running' || Number(entity.attempts) !== attempts) return 'lost' as const;
    const at = new Date();
    const chunkKeys = Array.from({ length: Number(entity.chunks) }, (_, i) =>
      datastore.key([...key.path, CHUNK_KIND, i + 1]),
    );
    if (outcome === 'done') {
      if (Number(entity.retentionMs) === 0) tx.delete([key, ...chunkKeys]);
      else {
        if (chunkKeys.length) tx.delete(chunkKeys);
        tx.save({
          key,
          data: taskEntityData({
            ...stripKey(entity),
            state: 'done',
            leaseUntil: null,
            finishedAt: at,
            payload: Buffer.alloc(0),
            chunks: 0,
          }),
        });
      }
    } else if (outcome === 'failed') {
      tx.save({
        key,
        data: taskEntityData({
          ...stripKey(entity),
          state: 'failed',
          leaseUntil: null,
          finishedAt: at,
          lastError: 'permanent',
        }),
      });
    } else {
      tx.save({
        key,
        data: taskEntityData({ ...stripKey(entity), state: 'pending', leaseUntil: null, lastError: 'retry' }),
      });
    }
    return 'ok' as const;
  });
  if (completed === 'missing') {
    if (!ledger.finished.has(plan.id)) ledger.livePayloadDeleted.push(plan.id);
    return 200;
  }
  if (completed === 'lost') return 503;
  if (outcome !== 'retry') ledger.finished.add(plan.id);
  return outcome === 'retry' ? 500 : 200;
}

function stripKey(entity: DeferredTaskEntity): DeferredTaskEntity {
  const copy = { ...entity };
  for (const symbol of Object.getOwnPropertySymbols(copy)) delete (copy as Record<symbol, unknown>)[symbol];
  return copy;
}

type Tx = ReturnType<Datastore['transaction']>;

async function inTx<T>(datastore: Datastore, body: (tx: Tx) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const tx = datastore.transaction();
    try {
      await tx.run();
      const result = await body(tx);
      await tx.commit();
      return result;
    } catch (error) {
      await tx.rollback().catch(() => undefined);
      if (attempt >= 8) throw error;
      await new Promise((resolve) => setTimeout(resolve, 10 * attempt));
    }
  }
}

/** A task entity for `plan`, created now, due now. */
export function entityFor(plan: Plan, queuePath: string, url: string, shards: number, now: number): DeferredTaskEntity {
  const shard = shardOf(plan.id, shards);
  const request = {
    parent: queuePath,
    task: {
      name: `${queuePath}/tasks/${plan.id}`,
      httpRequest: { url, httpMethod: 'POST', body: Buffer.from(plan.id).toString('base64') },
    },
  };
  return {
    state: 'pending',
    task: 'race',
    queue: queuePath.split('/').pop()!,
    cloudTaskName: request.task.name,
    cloudTaskRequest: JSON.stringify(request),
    transactional: plan.transactional,
    created: new Date(now),
    eta: new Date(now),
    attempts: 0,
    leaseUntil: null,
    lastError: null,
    finishedAt: null,
    retentionMs: plan.retentionMs,
    shard,
    ageKey: ageKey(shard, now),
    expireAt: new Date(now + 86_400_000),
    payload: plan.chunks ? Buffer.alloc(0) : randomBytes(48),
    chunks: plan.chunks,
    encoding: 'identity',
    payloadBytes: 48,
  };
}

/** An HTTP worker on loopback: POST body = task id; runs {@link deliver}. */
export async function startWorker(
  handle: (id: string) => Promise<number>,
): Promise<{ url: string; server: Server; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (part: Buffer) => parts.push(part));
    req.on('end', () => {
      handle(Buffer.concat(parts).toString('utf8')).then(
        (status) => res.writeHead(status).end(),
        () => res.writeHead(500).end(),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${address.port}/_deferred/tasks/race`,
    server,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
