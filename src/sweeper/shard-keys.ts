/** Deciding a page of a shard's keys scan: each task entity from its age key where that says enough, the others read by key (a page of entities at a time, within the sweep's page slots) and decided whole. */
import type { Key } from '@google-cloud/datastore';
import { keyOf } from '../store/datastore.js';
import { decideAgeKey } from './decide.js';
import { decideTaskPage, type DecideEnv, type Doomed } from './shard-decide.js';

/** What the age keys of one page decided. */
export interface KeyPage {
  /** Decided from their keys (done entities past their due time): to delete. */
  readonly doomed: Doomed[];
  /** Keys of the entities that must be read to be decided. */
  readonly toRead: Key[];
  /** The page's last key is of an unfinished entity created after the cut-off: so is every later unfinished key. */
  readonly endsYoung: boolean;
}

/**
 * Decides a page of `(key, ageKey)` rows by their age keys ({@link decideAgeKey}): counts and keeps or dooms what the
 * keys decide, skips unfinished entities created after `cutoffMs` (not counted: the sweep does not look at them), and
 * returns the keys of the rest, to read.
 */
export function decideKeyPage(rows: Record<string | symbol, unknown>[], env: DecideEnv, cutoffMs: number): KeyPage {
  const { sweep, ctx, report } = env;
  const doomed: Doomed[] = [];
  const toRead: Key[] = [];
  let endsYoung = false;
  for (const row of rows) {
    const decision = decideAgeKey(row.ageKey, ctx, cutoffMs);
    endsYoung = decision.action === 'skip';
    if (decision.action === 'skip') continue;
    const key = keyOf(sweep.datastore, row);
    if (decision.action === 'read') {
      toRead.push(key);
      continue;
    }
    report.scanned(1);
    const { verdict, snapshot } = decision;
    if (verdict.action === 'keep') report.kept(verdict.reason);
    else doomed.push({ key, snapshot, reason: verdict.reason });
  }
  return { doomed, toRead, endsYoung };
}

/**
 * Reads the entities of `keys`, `pageSize` at a time, each batch while holding one of the sweep's page slots (whole
 * entities carry payloads), and decides them against the table ({@link decideTaskPage}). Entities gone meanwhile are
 * not counted. Returns what is to be deleted.
 */
export async function readAndDecide(keys: Key[], env: DecideEnv): Promise<Doomed[]> {
  const { sweep, limiters } = env;
  const batches: Key[][] = [];
  for (let i = 0; i < keys.length; i += sweep.pageSize) batches.push(keys.slice(i, i + sweep.pageSize));
  const decided = await Promise.all(
    batches.map((batch) =>
      limiters.page(async () => {
        sweep.signal?.throwIfAborted();
        const [entities] = (await sweep.datastore.get(batch)) as [Record<string | symbol, unknown>[]];
        return decideTaskPage(entities, env);
      }),
    ),
  );
  return decided.flat();
}
