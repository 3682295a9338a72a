/** The task views: task entities of one state a page at a time, and one task as `deferred inspect` shows it, with the sweep's verdict. */
import type { Key } from '@google-cloud/datastore';
import { parseTaskKey } from '../store/key-text.js';
import { InvalidArgumentError } from '../errors/invalid-argument.js';
import { TASK_KIND } from '../store/schema.js';
import { fromEntity } from '../store/task-entity.js';
import { formatArgs, inspectTask } from '../sweeper/inspect-task.js';
import { DEFAULT_GRACE_MS } from '../sweeper/sweep-options.js';
import type { Reader, ReadCost } from './reads.js';
import type { DashboardSource } from './source.js';

/** States a task list can show. */
export const LISTED_STATES = ['pending', 'running', 'done', 'failed', 'retried'] as const;

/** Most task entities on one page of a list. */
export const TASK_PAGE_SIZE = 25;

/** A key in the form `deferred inspect` (and the task view) accepts: a root task's name, else `Kind:name/Kind:123/...`. */
export function keyArg(key: Key): string {
  if (
    !key.parent &&
    key.kind === TASK_KIND &&
    key.name !== undefined &&
    !/^\d+$/.test(key.name) &&
    !key.name.includes(':')
  )
    return key.name;
  const parts: string[] = [];
  for (let k: Key | undefined = key; k; k = k.parent) {
    const id = k.name !== undefined ? (/^\d+$/.test(k.name) ? `"${k.name}"` : k.name) : String(k.id);
    parts.unshift(`${k.kind}:${id}`);
  }
  return parts.join('/');
}

const iso = (date: Date | null | undefined) =>
  date instanceof Date && !Number.isNaN(date.getTime()) ? date.toISOString() : null;

/** One row of a task list. */
export interface TaskRow {
  key: string;
  task: string;
  queue: string;
  state: string;
  attempts: number;
  created: string | null;
  eta: string | null;
  finishedAt: string | null;
  lastError: string | null;
  payloadBytes: number;
}

/**
 * A page of the task entities in `state`: a keys-only query on the `state` index (key order), then a lookup of the
 * page's entities. Costs one read for the query and one per entity.
 */
export async function listTasks(
  reader: Reader,
  state: string,
  cursor: string | undefined,
): Promise<{ rows: TaskRow[]; next: string | null; cost: ReadCost }> {
  if (!(LISTED_STATES as readonly string[]).includes(state)) {
    throw new InvalidArgumentError(`state must be one of ${LISTED_STATES.join(', ')}; got "${state}".`);
  }
  const page = await reader.keys(TASK_KIND, [reader.where('state', '=', state)], TASK_PAGE_SIZE, cursor);
  const entities = await reader.get(page.keys);
  const byKey = new Map(entities.map((e) => [keyArg(fromEntity(reader.datastore, e).key), e]));
  const rows: TaskRow[] = [];
  for (const key of page.keys) {
    const raw = byKey.get(keyArg(key));
    if (!raw) continue; // deleted between the query and the lookup
    const t = fromEntity(reader.datastore, raw);
    rows.push({
      key: keyArg(t.key),
      task: t.task,
      queue: t.queue,
      state: String(t.state),
      attempts: t.attempts,
      created: iso(t.created),
      eta: iso(t.eta),
      finishedAt: iso(t.finishedAt),
      lastError: t.lastError ? t.lastError.slice(0, 300) : null,
      payloadBytes: t.payloadBytes,
    });
  }
  return { rows, next: page.next, cost: { ...reader.cost } };
}

/** Most characters of encoded arguments sent to the page (a 5 MB payload is shown in part). */
const ENCODED_LIMIT = 64 * 1024;

/** One task, as `deferred inspect` prints it: fields, decoded arguments, its Cloud Task, the sweep's verdict. */
export async function readTask(source: DashboardSource, keyText: string, namespace = source.namespace) {
  const key = parseTaskKey(source.datastore, keyText, namespace);
  const found = await inspectTask(source.datastore, source.tasks, key, {
    nowMs: source.clock.now(),
    graceMs: DEFAULT_GRACE_MS,
    codecs: source.codecs,
  });
  if (!found) return null;
  const e = found.entity;
  const payload = found.payload;
  let args: {
    text: string | null;
    encoded: string | null;
    truncated: boolean;
    error: string | null;
    note: string | null;
  };
  if (payload === null) {
    args = { text: null, encoded: null, truncated: false, error: null, note: 'payload dropped: the task is done' };
  } else if ('error' in payload) {
    args = { text: null, encoded: null, truncated: false, error: `unreadable payload: ${payload.error}`, note: null };
  } else {
    const encoded = JSON.stringify(payload.encodedArgs, null, 2) ?? '';
    args = {
      text: payload.args ? formatArgs(payload.args) : null,
      encoded: encoded.slice(0, ENCODED_LIMIT),
      truncated: encoded.length > ENCODED_LIMIT,
      error: payload.decodeError ? `arguments not decoded here: ${payload.decodeError}` : null,
      note: null,
    };
  }
  return {
    key: keyArg(key),
    path: found.key,
    task: e.task,
    queue: e.queue,
    state: e.state,
    transactional: e.transactional,
    attempts: e.attempts,
    lastError: e.lastError,
    created: iso(e.created),
    eta: iso(e.eta),
    leaseUntil: iso(e.leaseUntil),
    finishedAt: iso(e.finishedAt),
    retentionMs: e.retentionMs,
    expireAt: iso(e.expireAt),
    shard: e.shard,
    payloadBytes: e.payloadBytes,
    encoding: e.encoding,
    chunks: e.chunks,
    cloudTaskName: e.cloudTaskName,
    cloudTask: typeof found.cloudTask === 'string' ? found.cloudTask : `look-up failed: ${found.cloudTask.error}`,
    verdict: found.verdict,
    bound:
      payload && 'bound' in payload && payload.bound !== undefined
        ? formatArgs([payload.bound]).replace(/^ {2}\[0\] /, '')
        : null,
    args,
  };
}
