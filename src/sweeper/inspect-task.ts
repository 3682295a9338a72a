/** Inspecting one `_DeferredTask` entity: its state, its decoded payload, whether its Cloud Task exists, and what the sweeper would do with it. */
import { inspect as formatValue } from 'node:util';
import type { Datastore, Key } from '@google-cloud/datastore';
import type { CodecRegistry } from '../codec/index.js';
import { decodeStoredArguments } from '../store/stored-arguments.js';
import type { AttemptRecord } from '../store/schema.js';
import { fromEntity } from '../store/task-entity.js';
import { cloudTaskExists, type SweeperTasksClient } from './cloud-tasks.js';
import { afterLookup, classify, snapshotOf } from './decide.js';
import { formatTaskKey } from '../store/key-text.js';
import { DEFAULT_GRACE_MS } from './sweep-options.js';

/** What {@link inspectTask} reports. */
export interface TaskInspection {
  key: string;
  entity: {
    state: string;
    task: string;
    queue: string;
    cloudTaskName: string;
    transactional: boolean;
    attempts: number;
    created: Date | null;
    eta: Date | null;
    leaseUntil: Date | null;
    finishedAt: Date | null;
    lastError: string | null;
    retentionMs: number;
    expireAt: Date | null;
    shard: number;
    payloadBytes: number;
    chunks: number;
    encoding: string;
    /** The last attempts, oldest first. */
    history: readonly AttemptRecord[];
    /** For a `retried` failure record: the Cloud Task and entity that replay it, and when. */
    retried: { cloudTaskName: string; entityKey: string; at: Date | null } | null;
  };
  /** The envelope in the payload: task name, encoded args (JSON), decoded args when they could be decoded. */
  payload:
    | { task: string; encodedArgs: unknown; args?: unknown[]; bound?: unknown; decodeError?: string; meta?: unknown }
    | { error: string }
    | null;
  /** `exists`, `gone`, or the look-up's error. */
  cloudTask: 'exists' | 'gone' | { error: string };
  /** What a sweep at `now` would do: `keep (reason)`, `delete (reason)` or `re-drive`. */
  verdict: string;
}

/** Reads and decodes one task entity; undefined when there is none at `key`. */
export async function inspectTask(
  datastore: Datastore,
  tasks: SweeperTasksClient,
  key: Key,
  options: { nowMs?: number; graceMs?: number; codecs?: CodecRegistry } = {},
): Promise<TaskInspection | undefined> {
  const [raw] = await datastore.get(key);
  if (!raw) return undefined;
  const stored = fromEntity(datastore, raw);
  let payload: TaskInspection['payload'] = null;
  const dropped = stored.state === 'done' && stored.payload.length === 0 && stored.chunks === 0; // done drops the payload
  if (!dropped) {
    const decoded = await decodeStoredArguments(datastore, stored, options.codecs);
    if ('error' in decoded) payload = stored.payloadBytes === 0 ? null : { error: decoded.error };
    else payload = { task: stored.task, ...decoded };
  }
  const snapshot = snapshotOf(raw);
  let cloudTask: TaskInspection['cloudTask'];
  try {
    cloudTask = snapshot.cloudTaskName && (await cloudTaskExists(tasks, snapshot.cloudTaskName)) ? 'exists' : 'gone';
  } catch (error) {
    cloudTask = { error: (error as Error).message };
  }
  const verdict = classify(snapshot, {
    nowMs: options.nowMs ?? Date.now(),
    graceMs: options.graceMs ?? DEFAULT_GRACE_MS,
  });
  let text: string;
  if (verdict.action === 'keep') text = `keep (${verdict.reason})`;
  else if (verdict.action === 'delete') text = `delete (${verdict.reason})`;
  else if (typeof cloudTask !== 'string') text = 'unknown (the Cloud Task could not be looked up)';
  else {
    const next = afterLookup(snapshot, cloudTask === 'exists');
    text =
      next.action === 'redrive'
        ? 're-drive'
        : next.action === 'keep'
          ? `keep (${next.reason})`
          : `delete (${next.reason})`;
  }
  return {
    key: formatTaskKey(key),
    entity: {
      state: stored.state,
      task: stored.task,
      queue: stored.queue,
      cloudTaskName: stored.cloudTaskName,
      transactional: stored.transactional,
      attempts: stored.attempts,
      created: stored.created ?? null,
      eta: stored.eta ?? null,
      leaseUntil: stored.leaseUntil ?? null,
      finishedAt: stored.finishedAt ?? null,
      lastError: stored.lastError ?? null,
      retentionMs: stored.retentionMs,
      expireAt: stored.expireAt ?? null,
      shard: stored.shard,
      payloadBytes: stored.payloadBytes,
      chunks: stored.chunks,
      encoding: stored.encoding,
      history: stored.history ?? [],
      retried: stored.retriedAs
        ? { cloudTaskName: stored.retriedAs, entityKey: stored.retriedEntity ?? '', at: stored.retriedAt ?? null }
        : null,
    },
    payload,
    cloudTask,
    verdict: text,
  };
}

/** A human-readable rendering of decoded arguments (Dates, Maps, BigInts, Buffers as Node prints them). */
export function formatArgs(args: unknown[]): string {
  return args
    .map(
      (arg, i) =>
        `  [${i}] ${formatValue(arg, { depth: 6, breakLength: 100, maxArrayLength: 20, maxStringLength: 200 })}`,
    )
    .join('\n');
}
