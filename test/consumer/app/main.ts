// A user's app for the consumer test: its own Google clients (no casts), the packed cloud-deferred, the local stack.
// Prints one JSON line of checks; exits 1 when any check fails. Run by test/consumer/consumer.test.ts on Node 22 and 24.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash } from 'node:crypto';
import { Datastore, type Key } from '@google-cloud/datastore';
import { CloudTasksClient } from '@google-cloud/tasks';
import {
  createDatastore,
  createDeferred,
  createTasksClient,
  emulatorTasksClientOptions,
  currentTask,
  sweep,
  withTraceContext,
  type TaskEndedEvent,
} from 'cloud-deferred';
import { startTasksEmulator } from 'cloud-deferred/emulator';

const projectId = process.env.GOOGLE_CLOUD_PROJECT ?? 'consumer-app';
const namespace = process.env.APP_NAMESPACE ?? 'consumer';
const checks: Record<string, boolean | string> = {};
const check = (name: string, ok: boolean, detail?: string) => (checks[name] = ok ? true : (detail ?? false));

const emulator = await startTasksEmulator({ autoCreateQueues: true });
// The app's own clients. Datastore reads DATASTORE_EMULATOR_HOST itself (the universe domain keeps it from probing the
// metadata server for credentials); the Cloud Tasks client needs the emulator's options.
const datastore = new Datastore({ projectId, namespace, universeDomain: 'googleapis.com' });
const tasks = new CloudTasksClient(emulatorTasksClientOptions(emulator.host, emulator.port));
const helperTasks = createTasksClient({ env: { CLOUD_TASKS_EMULATOR_HOST: `${emulator.host}:${emulator.port}` } });
check(
  "the helpers build the app's own client classes",
  createDatastore({ clientOptions: { projectId } }) instanceof Datastore && helperTasks instanceof CloudTasksClient,
);
check(
  'a helper-built client reaches the emulator',
  Array.isArray((await helperTasks.listQueues({ parent: `projects/${projectId}/locations/us-central1` }))[0]),
);
await helperTasks.close();

let handle: http.RequestListener = (_req, res) => res.writeHead(503).end();
const server = http.createServer((req, res) => handle(req, res));
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const handlerUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/_deferred`;

const deferred = createDeferred({
  projectId,
  location: 'us-central1',
  queue: 'consumer',
  handlerUrl,
  secret: 'consumer-test-secret-0123456789',
  datastore,
  tasks,
});
handle = deferred.handler;

const ran: string[] = [];
const inline = deferred.task('inline', (n: number) => void ran.push(`inline:${n}`));
const shipOrder = deferred.task('shipOrder', (orderId: string) => void ran.push(`ship:${orderId}`));
const bigReport = deferred.task('bigReport', (data: Buffer) => {
  ran.push(`big:${data.length}:${createHash('sha256').update(data).digest('hex').slice(0, 12)}`);
});
// Trace context without OpenTelemetry set up: a request's traceparent travels to the task and on to its child.
const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const traces: Record<string, string | undefined> = {};
const child = deferred.task('child', (from: string) => {
  traces.child = currentTask()?.trace?.traceId;
  ran.push(`child:${from}`);
});
const parent = deferred.task('parent', async () => {
  const info = currentTask();
  traces.parent = info?.trace?.traceId;
  traces.parentLog = String(info?.logFields['logging.googleapis.com/trace']);
  ran.push('parent');
  await child.defer('parent');
});
const succeeded: TaskEndedEvent[] = [];
deferred.on('taskSucceeded', (event) => succeeded.push(event));
const saveRef = deferred.task('saveRef', async (ref: Key) => {
  ran.push(`saveRef:${datastore.isKey(ref)}`);
  await datastore.save({ key: datastore.key(['Holder', 'h1']), data: { ref } });
});
const touch = deferred.task('touch', async (user: Record<string | symbol, unknown>) => {
  // An entity read by the app travels with its key (datastore.KEY) and is saved back by it.
  const key = user[datastore.KEY] as Key | undefined;
  ran.push(`touch:${key !== undefined && datastore.isKey(key)}`);
  if (key) await datastore.save({ key, data: { ...user, touched: true } });
});
const later = deferred.task('later', () => void ran.push('later'));

async function until(what: () => boolean, ms = 30_000): Promise<boolean> {
  const end = Date.now() + ms;
  while (!what()) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}

const big = Buffer.alloc(2 * 1024 * 1024);
for (let i = 0; i < big.length; i++) big[i] = (i * 7919) % 251;
const bigId = `big:${big.length}:${createHash('sha256').update(big).digest('hex').slice(0, 12)}`;

await inline.defer(1);
await deferred.transaction(async (tx) => {
  tx.save({ key: datastore.key(['Order', 'o1']), data: { status: 'placed' } });
  await shipOrder.with({ transaction: tx }).defer('o1');
});
const rolledBack = await deferred
  .transaction(async (tx) => {
    tx.save({ key: datastore.key(['Order', 'o2']), data: { status: 'placed' } });
    await shipOrder.with({ transaction: tx }).defer('o2');
    throw new Error('not paid');
  })
  .then(
    () => false,
    (error: Error) => error.message === 'not paid',
  );
const spilled = await bigReport.defer(big);
await withTraceContext({ traceparent: `00-${TRACE}-00f067aa0ba902b7-01` }, () => parent.defer());
const refKey = datastore.key({ namespace, path: ['Account', 'acme', 'User', datastore.int('9223372036854775807')] });
await saveRef.defer(refKey);
await datastore.save({ key: datastore.key(['User', 'u1']), data: { name: 'Ada' } });
const [user] = await datastore.get(datastore.key(['User', 'u1']));
await touch.defer(user as Record<string | symbol, unknown>);
// An entity-backed task whose Cloud Task is deleted before it runs: the sweep must reclaim its entity as leaked.
const leaked = await later.with({ entityBacked: true, delay: '1h' }).defer();
await tasks.deleteTask({ name: leaked.cloudTaskName });

const expected = ['inline:1', 'ship:o1', bigId, 'parent', 'child:parent', 'saveRef:true', 'touch:true'];
check('tasks ran', await until(() => expected.every((e) => ran.includes(e))), JSON.stringify(ran));
await new Promise((r) => setTimeout(r, 300)); // anything that should not run gets its chance
check(
  'each ran once',
  expected.every((e) => ran.filter((r) => r === e).length === 1),
  JSON.stringify(ran),
);
check(
  'rolled back: no task, no order',
  rolledBack && !ran.includes('ship:o2') && !(await datastore.get(datastore.key(['Order', 'o2'])))[0],
);
check('spilled 2 MB payload is entity-backed', spilled.entityKey !== null);
check(
  "the request's trace reached the task and its child, and the task's log fields",
  traces.parent === TRACE && traces.child === TRACE && traces.parentLog === `projects/${projectId}/traces/${TRACE}`,
  JSON.stringify(traces),
);
check(
  'taskSucceeded was emitted for each run',
  ['inline', 'shipOrder', 'bigReport', 'parent', 'child', 'saveRef', 'touch'].every((task) =>
    succeeded.some((event) => event.task === task),
  ),
  JSON.stringify(succeeded.map((event) => event.task)),
);

const [holder] = await datastore.get(datastore.key(['Holder', 'h1']));
const stored = (holder as { ref?: object } | undefined)?.ref;
check('a Key argument is saved as a key value', datastore.isKey(stored), JSON.stringify(stored));
check(
  'the saved key is the same key',
  datastore.isKey(stored) &&
    JSON.stringify((stored as Key).path) === JSON.stringify(refKey.path) &&
    (stored as Key).namespace === namespace,
  JSON.stringify(stored),
);

const [touched] = await datastore.get(datastore.key(['User', 'u1']));
check(
  'an entity argument is saved back under its own key',
  (touched as { name?: unknown; touched?: unknown } | undefined)?.touched === true &&
    (touched as { name?: unknown }).name === 'Ada',
  JSON.stringify(touched),
);

async function count(kind: string): Promise<number> {
  const [rows] = await datastore.runQuery(datastore.createQuery(namespace, kind).select('__key__'));
  return rows.length;
}
const before = await count('_DeferredTask');
const result = await sweep({
  datastore,
  tasks,
  now: new Date(Date.now() + 2 * 3_600_000),
  olderThanMs: 0,
  retention: { doneMs: 0, failedMs: 0 },
});
check('sweep found the 3 entities (transactional, spilled, leaked)', before === 3, String(before));
check('sweep reclaimed the leaked one', result.stats.deleted.leaked === 1, JSON.stringify(result.stats));
check('sweep reclaimed the done ones', result.stats.deleted.done === before - 1, JSON.stringify(result.stats));
check('sweep: no errors', result.stats.errors === 0, JSON.stringify(result.stats));
check('nothing left', (await count('_DeferredTask')) === 0 && (await count('_DeferredTaskChunk')) === 0);

// The testing entry point, in memory, with this app's client majors: a task deferred, listed with its arguments, run.
const { createTestHarness } = await import('cloud-deferred/testing');
const harness = await createTestHarness(
  (env) => {
    const app = createDeferred({ secret: 'consumer-test-secret-0123456789', ...env });
    const greet = app.task('greet', (who: string, at: Key) => void ran.push(`greet:${who}:${env.datastore.isKey(at)}`));
    return { deferred: app, greet, key: env.datastore.key(['Place', 'p1']) };
  },
  { Datastore },
);
await harness.app.greet.with({ entityBacked: true }).defer('ada', harness.app.key);
const waiting = await harness.deferred();
const harnessRuns = await harness.drain();
check(
  'the testing harness runs an entity-backed task in memory',
  waiting[0]?.args?.[0] === 'ada' &&
    harnessRuns.map((r) => r.outcome).join() === 'done' &&
    ran.includes('greet:ada:true'),
  JSON.stringify({ waiting: waiting.map((w) => w.args), runs: harnessRuns.map((r) => [r.outcome, r.error]), ran }),
);
await harness.close();

server.close();
server.closeAllConnections();
await tasks.close();
await emulator.stop();
const ok = Object.values(checks).every((v) => v === true);
process.stdout.write(JSON.stringify({ node: process.version, ok, checks }) + '\n');
process.exit(ok ? 0 : 1);
