/** `npm start`: the main job on the local stack: defer a realistic mix of tasks, let them run, sweep, report, and fail loudly on a leak or a lost live payload. */
import { randomBytes } from 'node:crypto';
import type { CloudTasksClient } from '@google-cloud/tasks';
import { EXIT } from '../../src/cli/exit-codes.js';
import { humanMs, table } from '../../src/cli/render.js';
import { summaryRows } from '../../src/cli/commands/sweep.js';
import { PermanentTaskFailure } from '../../src/errors/task-failures.js';
import { MemoryLogger, silentLogger } from '../../src/core/logger.js';
import { startLocalStack, type DatastoreBackend } from '../../src/local-stack/index.js';
import { startWorker } from '../../src/local-stack/worker.js';
import { TASK_KIND } from '../../src/store/schema.js';
import { inventory } from '../../src/sweeper/inventory.js';
import { sweep } from '../../src/sweeper/sweep-all.js';
import { ManualClock } from '../../src/tasks-emulator/index.js';

// Everything runs on loopback: never let google-auth probe a GCE metadata server.
process.env.METADATA_SERVER_DETECTION ??= 'none';

const MIN = 60_000;
const HOUR = 60 * MIN;
const SHARDS = 8;

const backend = (process.env.DEFERRED_BACKEND ?? 'datastore') as DatastoreBackend;
if (backend !== 'datastore' && backend !== 'firestore') {
  process.stderr.write(`npm start: DEFERRED_BACKEND must be "datastore" or "firestore", got "${String(backend)}".\n`);
  process.exit(EXIT.usage);
}

const out = (line = '') => process.stdout.write(`${line}\n`);
const started = Date.now();

/** Wraps the Cloud Tasks client so that the next CreateTask can be "lost", as when a process dies right after its commit. */
function losableTasks(client: CloudTasksClient): { client: CloudTasksClient; loseNext(): void } {
  let lose = false;
  const wrapped = new Proxy(client, {
    get(target, property) {
      if (property === 'createTask') {
        return (...args: Parameters<CloudTasksClient['createTask']>) => {
          if (lose) {
            lose = false;
            return Promise.reject(
              Object.assign(new Error('14 UNAVAILABLE: the process died before enqueueing'), { code: 14 }),
            );
          }
          return target.createTask(...args);
        };
      }
      const value = Reflect.get(target, property, target) as unknown;
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return { client: wrapped, loseNext: () => (lose = true) };
}

out(
  `cloud-deferred main job: local stack (${backend} emulator + Cloud Tasks emulator), a worker, a mix of tasks, a sweep.`,
);
const clock = new ManualClock(Date.now());
const stack = await startLocalStack({ backend, tasks: { clock } });
let exitCode: number = EXIT.ok;
try {
  const datastore = stack.datastore();
  const raw = stack.tasksClient();
  const tasks = losableTasks(raw);
  const logger = new MemoryLogger();
  const worker = await startWorker(stack, {
    datastore,
    tasks: tasks.client,
    config: { clock, logger, shards: SHARDS, defaults: { retention: '1h' }, lease: '2m' },
    sweeper: { shards: SHARDS, log: silentLogger },
  });
  const { deferred } = worker;
  out(
    `Datastore emulator ${stack.env.DATASTORE_EMULATOR_HOST}, Cloud Tasks emulator ${stack.env.CLOUD_TASKS_EMULATOR_HOST}, worker ${worker.handlerUrl}`,
  );

  // ---- the tasks, each counting its runs ----
  const runs = new Map<string, number>();
  const ran = (name: string) => runs.set(name, (runs.get(name) ?? 0) + 1);
  const greet = deferred.task('greet', (name: string) => void ran(`greet:${name}`));
  const archive = deferred.task('archive', (id: string, blob: Buffer, digest: string) => {
    if (blob.length !== 2_000_000 || !blob.subarray(0, 16).equals(Buffer.from(digest, 'hex'))) {
      throw new PermanentTaskFailure(`archive ${id}: payload damaged`);
    }
    ran(`archive:${id}`);
  });
  const ship = deferred.task('ship', (orderId: string) => void ran(`ship:${orderId}`));
  const charge = deferred.task('charge', (card: string) => {
    ran(`charge:${card}`);
    throw new PermanentTaskFailure(`card ${card} declined`);
  });
  let flakyFailures = 0;
  const flaky = deferred.task('flaky', (n: number) => {
    if (flakyFailures++ < 2) throw new Error('upstream not ready');
    ran(`flaky:${n}`);
  });
  const remind = deferred.task('remind', (who: string) => void ran(`remind:${who}`), { entityBacked: true });
  const report = deferred.task('report', (month: string) => void ran(`report:${month}`), { entityBacked: true });

  // ---- the mix ----
  out('\nDeferring:');
  for (const name of ['ada', 'brian', 'grace', 'ken', 'linus']) await greet.defer(name);
  out('  5 inline greet tasks (small payloads travel in the Cloud Task)');
  for (const id of ['a1', 'a2', 'a3']) {
    const blob = randomBytes(2_000_000);
    await archive.defer(id, blob, blob.subarray(0, 16).toString('hex'));
  }
  out('  3 archive tasks with 2 MB payloads (spilled into chunked _DeferredTask entities)');
  for (const orderId of ['o1', 'o2']) {
    await deferred.transaction(async (tx) => {
      tx.save({ key: datastore.key(['Order', orderId]), data: { status: 'paid' } });
      await tx.defer(ship, orderId);
    });
  }
  out('  2 ship tasks in committed transactions (the entity is the outbox, the Cloud Task follows the commit)');
  await deferred
    .transaction(async (tx) => {
      tx.save({ key: datastore.key(['Order', 'o3']), data: { status: 'paid' } });
      await tx.defer(ship, 'o3');
      throw new Error('payment declined');
    })
    .catch(() => undefined);
  out('  1 ship task in a transaction that rolled back (nothing may run)');
  tasks.loseNext();
  await deferred.transaction(async (tx) => {
    tx.save({ key: datastore.key(['Order', 'o4']), data: { status: 'paid' } });
    await tx.defer(ship, 'o4');
  });
  out('  1 ship task committed, whose enqueue is lost (a crash after the commit)');
  for (const card of ['visa', 'amex']) await charge.with({ entityBacked: true }).defer(card);
  out('  2 charge tasks that fail permanently');
  for (const n of [1, 2]) await flaky.defer(n);
  out('  2 flaky tasks that fail, are retried, then succeed');
  const leaked: string[] = [];
  for (const who of ['r1', 'r2', 'r3']) {
    const deferral = await remind.with({ delay: '30m' }).defer(who);
    await raw.deleteTask({ name: deferral.cloudTaskName! });
    leaked.push(deferral.entityKey!.name!);
  }
  out('  3 remind tasks whose Cloud Task is deleted before it runs (their entities leak)');
  const live: string[] = [];
  for (const month of ['2026-01', '2026-02']) {
    live.push((await report.with({ delay: '3h' }).defer(month)).entityKey!.name!);
  }
  out('  2 report tasks due in 3 hours (live payloads the sweep must keep)');

  // ---- let them run (the emulator dispatches over HTTP as the clock moves) ----
  for (let i = 0; i < 30; i++) await clock.advance(2_000);
  const before = await inventory(datastore, { nowMs: clock.now() });
  out(`\nAfter the run: ${before.totalTasks} _DeferredTask entities, ${before.chunks} chunks.`);

  // ---- two hours later: the sweep ----
  await clock.advance(2 * HOUR);
  const result = await sweep({ datastore, tasks: raw, now: new Date(clock.now()), shards: SHARDS, log: silentLogger });
  out(`\nSharded sweep (${SHARDS} shards in parallel, ${humanMs(result.elapsedMs)}), two hours later:\n`);
  out(table(['what', 'count'], summaryRows(result.stats)).trimEnd());

  // The re-driven task runs; later the live reports come due and must find their payloads.
  for (let i = 0; i < 5; i++) await clock.advance(1_000);
  await clock.advance(90 * MIN);
  for (let i = 0; i < 5; i++) await clock.advance(1_000);

  // ---- checks ----
  const problems: string[] = [];
  const expectRuns = (key: string, n: number) => {
    if ((runs.get(key) ?? 0) !== n) problems.push(`${key} ran ${runs.get(key) ?? 0} times, expected ${n}`);
  };
  for (const name of ['ada', 'brian', 'grace', 'ken', 'linus']) expectRuns(`greet:${name}`, 1);
  for (const id of ['a1', 'a2', 'a3']) expectRuns(`archive:${id}`, 1);
  for (const order of ['o1', 'o2', 'o4']) expectRuns(`ship:${order}`, 1);
  expectRuns('ship:o3', 0);
  for (const card of ['visa', 'amex']) expectRuns(`charge:${card}`, 1);
  for (const n of [1, 2]) expectRuns(`flaky:${n}`, 1);
  for (const who of ['r1', 'r2', 'r3']) expectRuns(`remind:${who}`, 0);
  for (const month of ['2026-01', '2026-02']) expectRuns(`report:${month}`, 1); // their payloads survived the sweep
  const s = result.stats;
  if (s.deleted.leaked !== leaked.length)
    problems.push(`${s.deleted.leaked} leaked entities deleted, expected ${leaked.length}`);
  if (s.redriven !== 1) problems.push(`${s.redriven} tasks re-driven, expected 1 (the lost enqueue)`);
  if (s.errors !== 0) problems.push(`${s.errors} sweep errors`);
  for (const name of leaked) {
    const [entity] = await datastore.get(datastore.key([TASK_KIND, name]));
    if (entity) problems.push(`leaked entity ${name} is still there`);
  }
  // Nothing reclaimable may remain: a sweep past every retention leaves no task entity and no chunk.
  const final = await sweep({
    datastore,
    tasks: raw,
    now: new Date(clock.now() + 2 * HOUR),
    shards: SHARDS,
    log: silentLogger,
  });
  const after = await inventory(datastore, { nowMs: clock.now() });
  if (after.totalTasks !== 0 || after.chunks !== 0) {
    problems.push(`a final sweep left ${after.totalTasks} task entities and ${after.chunks} chunks (a leak)`);
  }
  const lostEnqueueLogged = logger.entries.some((e) => /could not be enqueued/.test(e.message));

  out(
    `\nReclaimed ${Object.values(s.deleted).reduce((a, b) => a + b, 0)} entities (done ${s.deleted.done}, failed ${s.deleted.failed}, leaked ${s.deleted.leaked}, expired ${s.deleted.expired}), re-drove ${s.redriven} lost enqueue, kept ${s.kept} (live or within retention).`,
  );
  out(
    `The re-driven ship task ran ${runs.get('ship:o4') ?? 0} time; the live reports ran with their payloads: ${live.length}/${live.length}.${lostEnqueueLogged ? ' The runtime logged the lost enqueue at ERROR.' : ''}`,
  );
  out(
    `A last sweep past every retention reclaimed ${Object.values(final.stats.deleted).reduce((a, b) => a + b, 0)} more; left: ${after.totalTasks} task entities, ${after.chunks} chunks.`,
  );
  if (problems.length) {
    exitCode = EXIT.leak;
    out(`\nFAILED (${problems.length}):`);
    for (const problem of problems) out(`  - ${problem}`);
  } else {
    out(`\nOK: nothing leaked, no live payload deleted (${humanMs(Date.now() - started)}).`);
  }
  await stack.tasksEmulator.stop(); // no new deliveries; the ones in flight finish before the worker closes
  await worker.close();
} catch (error) {
  process.stderr.write(`npm start: ${(error as Error).message}\n`);
  exitCode = (error as { code?: string }).code === 'PREREQUISITE_MISSING' ? EXIT.prerequisite : EXIT.failure;
} finally {
  await stack.stop();
}
process.exit(exitCode);
