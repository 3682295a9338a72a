// The race test's workload: a seeded mix of task lifecycles, a worker that runs them through the entity state machine over HTTP, and a ledger of what it saw.
import { createServer, type Server } from 'node:http';
import { randomBytes } from 'node:crypto';
import type { Datastore, Key } from '@google-cloud/datastore';
import { claimTask, completeTask, type RunOutcome } from '../../src/store/state-machine.js';
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
 * The entity-backed run of one delivery, through the runtime's own state machine: `claimTask` (pending -> running with
 * a lease, in a transaction), run, `completeTask` (running -> done | failed | pending, in a transaction; done with zero
 * retention deletes the entity). Answers 200 (done, failed, finished, nothing to do) or 500 / 503 (retry).
 */
export async function deliver(datastore: Datastore, key: Key, plan: Plan, ledger: Ledger): Promise<number> {
  const claim = await claimTask(datastore, key, Date.now(), (task) =>
    plan.lifecycle === 'crash' && task.attempts === 0 ? CRASH_LEASE_MS : LEASE_MS,
  );
  if (claim.kind === 'missing') {
    if (!ledger.finished.has(plan.id)) ledger.livePayloadDeleted.push(plan.id);
    return 200;
  }
  if (claim.kind === 'finished') return 200;
  if (claim.kind === 'busy' || claim.kind === 'early' || claim.kind === 'notDue' || claim.kind === 'stale') return 503;
  ledger.runs++;
  const { attempts } = claim.task;
  if (plan.lifecycle === 'crash' && attempts === 1) return 500; // crashed: the lease stays until it runs out
  const outcome: RunOutcome =
    plan.lifecycle === 'permanent'
      ? { kind: 'failed', error: 'permanent' }
      : plan.lifecycle === 'exhaust' || (plan.lifecycle === 'retry-then-ok' && attempts <= plan.failures)
        ? { kind: 'retry', error: 'transient' }
        : { kind: 'done' };
  const owned = await completeTask(datastore, key, attempts, outcome, Date.now());
  if (!owned) {
    const [entity] = await datastore.get(key);
    if (!entity && !ledger.finished.has(plan.id)) ledger.livePayloadDeleted.push(plan.id);
    return 503;
  }
  if (outcome.kind !== 'retry') ledger.finished.add(plan.id);
  return outcome.kind === 'retry' ? 500 : 200;
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
