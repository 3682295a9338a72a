// `deferred failed`, `retry`, `discard` and `inspect <Cloud Task>` as child processes against both Datastore emulators,
// with failures recorded by the real handler; and `sweep` explaining a scan of nothing.
import { randomBytes } from 'node:crypto';
import { Datastore, type Key } from '@google-cloud/datastore';
import { describe, expect, it } from 'vitest';
import { taskIdOf } from '../src/core/task-names.js';
import { PermanentTaskFailure } from '../src/errors/index.js';
import { currentTask } from '../src/core/run-context.js';
import { clearNamespace, describeStorage, type StorageContext } from './support/backends.js';
import { cliEnv, runCli } from './support/cli.js';
import { SECRET, useRuntime, type RuntimeFixture } from './support/runtime.js';
import type { Deferral } from '../src/types.js';

function env(storage: StorageContext, rt: RuntimeFixture, extra: Record<string, string> = {}) {
  return {
    ...cliEnv({
      projectId: storage.clientOptions.projectId,
      datastore: storage.clientOptions.apiEndpoint,
      tasks: `127.0.0.1:${rt.emulator.port}`,
      namespace: storage.namespace,
    }),
    DEFERRED_SECRET: '',
    DEFERRED_HANDLER_URL: '',
    ...extra,
  };
}

/** Deletes an entity group (`root` and every entity under it), in whichever namespace it is: for the shared default one. */
async function clearGroup(datastore: Datastore, root: Key): Promise<void> {
  const query = datastore
    .createQuery(root.namespace ?? '', [])
    .hasAncestor(root)
    .select('__key__');
  const [entities] = await datastore.runQuery(query);
  await datastore.delete(entities.map((entity) => entity[Datastore.KEY] as Key));
}

// Each CLI run is a Node process: slow on a loaded machine, hence the long timeouts.
describe('deferred failed / retry / discard', () => {
  const setup = useRuntime();

  describeStorage('CLI', (ctx) => {
    it(
      'lists, shows, retries (once) and discards failed tasks, with the documented exit codes',
      { timeout: 240_000 },
      async () => {
        // The runtime in the Datastore emulators' project, which the CLI is pointed at for Cloud Tasks too.
        const rt = await setup(ctx(), { projectId: ctx().clientOptions.projectId });
        const project = ctx().clientOptions.projectId;
        let broken = true;
        const ran: string[] = [];
        const sendReport = rt.deferred.task(
          'sendReport',
          (user: string) => {
            ran.push(user);
            if (broken) throw new Error(`SMTP 451 for ${user}: try again later (attempt ${currentTask()!.attempt})`);
          },
          { maxAttempts: 2 },
        );
        const ingest = rt.deferred.task('ingest', (_data: Buffer) => {
          throw new PermanentTaskFailure('schema v3 is not supported');
        });
        const live = rt.deferred.task('live', () => undefined, { entityBacked: true });
        const reports: Deferral[] = [];
        // ann's report carries a trace (as if deferred while a traced request was handled); bob's none.
        const annTrace = randomBytes(16).toString('hex');
        reports.push(
          await sendReport.with({ traceparent: `00-${annTrace}-${randomBytes(8).toString('hex')}-01` }).defer('ann'),
        );
        reports.push(await sendReport.defer('bob'));
        const spilled = await ingest.defer(randomBytes(200_000));
        const pending = await live.with({ delay: '1d' }).defer();
        await rt.advance();
        await rt.advance(60_000);
        const e = env(ctx(), rt);

        // Read-only runs that depend on nothing but the seeded state start together (each is a whole process).
        const started = {
          table: runCli(['failed'], e),
          json: runCli(['failed', 'list', '--task', 'sendReport', '--json'], e),
          limited: runCli(['failed', '--limit', '1', '--grep', 'smtp 451'], e),
          range: runCli(['failed', '--since', '2020-01-01T00:00:00Z', '--until', '2020-02-01T00:00:00Z'], e),
          badSince: runCli(['failed', '--since', 'yesterday'], e),
          byId: runCli(['inspect', taskIdOf(spilled.cloudTaskName!)], e),
          queued: runCli(['inspect', pending.cloudTaskName!], e),
          nothing: runCli(['inspect', 'no-such-thing'], e),
        };
        await Promise.allSettled(Object.values(started));

        // The table: newest first, one row per failure, the key last.
        const table = await started.table;
        expect(table.code).toBe(0);
        const lines = table.stdout.split('\n');
        expect(lines[0]).toBe(
          `Failed tasks in project ${project} (Datastore emulator ${ctx().clientOptions.apiEndpoint}, Cloud Tasks emulator 127.0.0.1:${rt.emulator.port}), namespace "${ctx().namespace}", newest first:`,
        );
        expect(lines[2]).toMatch(/^when\s+task\s+queue\s+attempts\s+last error\s+key$/);
        const rows = lines.slice(4, 7);
        expect(rows).toHaveLength(3);
        expect(rows.map((row) => row.split(/\s{2,}/)[1])).toEqual(expect.arrayContaining(['sendReport', 'ingest']));
        const spilledKey = `${spilled.entityKey!.name}`;
        expect(rows.find((row) => row.includes('ingest'))).toMatch(
          new RegExp(
            `^\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\dZ\\s+ingest\\s+${rt.queue}\\s+1\\s+PermanentTaskFailure: schema v3 is not supported\\s+${spilledKey}$`,
          ),
        );
        expect(table.stdout).toMatch(
          /\n3 failed task\(s\)\. Details: deferred failed show <key>; replay: deferred retry <key>\.\n$/,
        );

        const json = JSON.parse((await started.json).stdout) as {
          tasks: { key: string; attempts: number; lastError: string }[];
          cursor: null;
        };
        expect(json.cursor).toBeNull();
        expect(json.tasks.map((t) => t.key).sort()).toEqual(
          reports.map((r) => `failed.${rt.queue}.${taskIdOf(r.cloudTaskName!)}`).sort(),
        );
        expect(json.tasks[0]).toMatchObject({ attempts: 2 });
        const limited = await started.limited;
        expect(limited.stdout).toMatch(
          /\n1 shown; there are more: raise --limit, or narrow with --task, --queue, --since, --grep\.\n$/,
        );
        expect((await started.range).stdout).toMatch(
          /^No failed tasks in .* \(since 2020-01-01T00:00:00Z, until 2020-02-01T00:00:00Z\)\.\n$/,
        );
        expect((await started.badSince).code).toBe(2);

        // show = inspect, with the attempts; inspect also takes the Cloud Task id from a log line.
        const ann = json.tasks.find((t) => t.key.endsWith(taskIdOf(reports[0]!.cloudTaskName!)))!;
        const shown = await runCli(['failed', 'show', ann.key], e);
        expect(shown.code).toBe(0);
        expect(shown.stdout).toMatch(/^key\s+failed\.\S+\s+\(namespace /);
        expect(shown.stdout).toMatch(/\nretention\s+7d\n/);
        expect(shown.stdout).toMatch(
          /\nhistory\s+2 attempt\(s\), oldest first:\n\s+#1 .* retry 0 {2}answered 500 {2}retry in \S+: Error: SMTP 451 for ann: try again later \(attempt 1\)\n\s+at /,
        );
        expect(shown.stdout).toMatch(
          /\n\s+#2 .* retry 1 {2}answered 200 {2}failed in \S+: Error: SMTP 451 for ann: try again later \(attempt 2\) \(gave up after 2 of 2 attempts\)\n/,
        );
        expect(shown.stdout).toMatch(/\narguments\n\s+\[0\] 'ann'\n/);
        // Each traced attempt: the Cloud Logging query of its run's lines (its trace and its own span).
        const queries = [...shown.stdout.matchAll(/\n {8}logs: (.+)/g)].map((m) => m[1]);
        expect(queries).toHaveLength(2);
        queries.forEach((query, i) => {
          expect(query).toMatch(
            new RegExp(
              `^trace="projects/${project}/traces/${annTrace}" AND spanId="[0-9a-f]{16}" AND labels\\.task="sendReport" AND labels\\.attempt="${i + 1}" AND timestamp>="[^"]+" AND timestamp<="[^"]+"$`,
            ),
          );
        });
        expect(shown.stdout).toContain(`(read them with: gcloud logging read '<query>' --project ${project}`);
        const byId = await started.byId;
        expect(byId.code).toBe(0);
        expect(byId.stdout).toMatch(
          new RegExp(
            `^Cloud Task ${taskIdOf(spilled.cloudTaskName!)} failed; its failure record is ${spilledKey}:\n\nkey\\s+${spilledKey}`,
          ),
        );
        const queued = await started.queued;
        expect(queued.stdout).toMatch(
          new RegExp(
            `^Cloud Task ${pending.cloudTaskName} carries entity ${pending.entityKey!.name}:\n\nkey\\s+${pending.entityKey!.name}`,
          ),
        );
        expect(queued.stdout).toMatch(/\nstate\s+pending\n/);
        const nothing = await started.nothing;
        expect(nothing.code).toBe(1);
        expect(nothing.stderr).toMatch(
          new RegExp(
            `^deferred: nothing named no-such-thing in .*: no _DeferredTask entity named no-such-thing; no failure record of a Cloud Task no-such-thing; no Cloud Task no-such-thing in the \\d+ queue\\(s\\) of ${project}/us-central1\\.`,
          ),
        );

        // retry: needs the app's secret and handler URL (except for a dry run); retries once; keys that are no failure fail.
        const noSecret = await runCli(['retry', ann.key], e);
        expect(noSecret.code).toBe(3);
        expect(noSecret.stderr).toBe(
          "deferred: This needs the app's signing secret: pass --secret or set DEFERRED_SECRET.\n",
        );
        const app = env(ctx(), rt, { DEFERRED_SECRET: SECRET, DEFERRED_HANDLER_URL: `${rt.origin}/_deferred` });
        broken = false;
        const retried = await runCli(['retry', ann.key], app);
        expect(retried.code).toBe(0);
        const replay = `projects/${project}/locations/us-central1/queues/${rt.queue}/tasks/${taskIdOf(reports[0]!.cloudTaskName!)}-r1`;
        expect(retried.stdout).toBe(
          `result   key${' '.repeat(ann.key.length - 3)}  replay\n-------  ${'-'.repeat(ann.key.length)}  ${'-'.repeat(replay.length + 3)}\nretried  ${ann.key}  as ${replay}\n\nRetried 1 of 1.\n`,
        );
        await rt.advance(5 * 60_000); // the CLI schedules by the real clock, a little ahead of the emulator's manual one
        expect(ran.filter((u) => u === 'ann')).toHaveLength(3);
        const again = await runCli(['retry', ann.key], app);
        expect(again.code).toBe(0);
        expect(again.stdout).toMatch(/already retried\s+\S+\s+as \S+-r1: not run again\n/);
        const wrong = await runCli(['retry', ann.key, pending.entityKey!.name!, 'missing-record'], { ...app, CI: '1' });
        expect(wrong.code).toBe(2); // several keys are a bulk action: no terminal to confirm on, no --yes
        expect(wrong.stderr).toMatch(
          /^deferred: Retrying 3 failed task\(s\) needs a confirmation, and there is no terminal to ask on: pass --yes/,
        );
        const mixed = await runCli(['retry', ann.key, pending.entityKey!.name!, 'missing-record', '--yes'], app);
        expect(mixed.code).toBe(1);
        expect(mixed.stdout).toMatch(/not failed\s+\S+\s+state pending: left alone\n/);
        expect(mixed.stdout).toMatch(/missing\s+missing-record\s+no such record\n/);

        // A bulk retry by filter: a dry run first (the names it would create), then --yes.
        const dry = await runCli(['retry', '--task', 'sendReport', '--dry-run'], e);
        expect(dry.code).toBe(0);
        expect(dry.stdout).toMatch(/would retry\s+failed\.\S+\s+as \S+-r1\n/);
        expect(dry.stdout).toMatch(/\nWould retry 1 of 1\.\n$/);
        const bulk = await runCli(['retry', '--task', 'sendReport', '--yes', '--json'], app);
        expect(bulk.code).toBe(0);
        expect((JSON.parse(bulk.stdout) as { results: { status: string }[] }).results.map((r) => r.status)).toEqual([
          'retried',
        ]);
        await rt.advance(5 * 60_000);
        expect(ran.filter((u) => u === 'bob')).toHaveLength(3);

        // discard: the spilled record and its chunks; a live task is never discarded.
        const refused = await runCli(['discard', pending.entityKey!.name!], e);
        expect(refused.code).toBe(1);
        expect(refused.stdout).toMatch(
          /not failed\s+\S+\s+state pending: left alone \(only failure records are discarded\)/,
        );
        const discarded = await runCli(['discard', '--task', 'ingest', '--yes'], e);
        expect(discarded.code).toBe(0);
        expect(discarded.stdout).toMatch(
          new RegExp(`discarded\\s+${spilledKey}\\s+ingest: record and payload deleted\n\nDiscarded 1 of 1\\.\n$`),
        );
        expect((await runCli(['failed'], e)).stdout).toMatch(/^No failed tasks in /);
        expect((await runCli(['discard'], e)).code).toBe(2);
      },
    );

    it(
      "says which other namespaces of the runtime hold failures (a tenant's entity group), lists them there, or all at once with --all-namespaces",
      { timeout: 120_000 },
      async () => {
        const rt = await setup(ctx(), { projectId: ctx().clientOptions.projectId });
        const tenant = `${ctx().namespace}-acme`;
        try {
          let declined = true;
          const charged: string[] = [];
          const charge = rt.deferred.task('charge', (id: string) => {
            if (declined) throw new PermanentTaskFailure(`card of order ${id} declined`);
            charged.push(id);
          });
          await rt.deferred.transaction(async (tx) => {
            tx.save({ key: ctx().datastore.key({ namespace: tenant, path: ['Order', 'o1'] }), data: { paid: false } });
            return tx.defer(charge, 'o1');
          });
          await rt.advance();
          const e = env(ctx(), rt);
          const [home, there, narrowed] = await Promise.all([
            runCli(['failed'], e),
            runCli(['failed', '--namespace', tenant], e),
            runCli(['failed', '--task', 'other'], e),
          ]);
          expect(home.stdout).toMatch(/^No failed tasks in /);
          expect(home.stdout).toContain(
            `\nAlso failed tasks in namespace(s) "${tenant}", where this runtime writes task entities: list them with deferred failed --namespace <namespace>, or all at once with deferred failed --all-namespaces.\n`,
          );
          expect(there.stdout).toMatch(new RegExp(`namespace "${tenant}", newest first:\n`));
          expect(there.stdout).toMatch(
            /\s+charge\s+.*PermanentTaskFailure: card of order o1\b.*\s+Order:o1\/_DeferredTask:/,
          );
          expect(narrowed.stdout).not.toContain('Also failed tasks'); // the filter applies there too
          // --all-namespaces: one table per namespace holding failures, each record where `show` finds it.
          await rt.deferred.transaction(async (tx) => tx.defer(charge, 'h1')); // a failure in the runtime's own
          await rt.advance();
          const [all, allJson, allNarrowed] = await Promise.all([
            runCli(['failed', '--all-namespaces'], e),
            runCli(['failed', '-A', '--json'], e),
            runCli(['failed', '-A', '--grep', 'no such error'], e),
          ]);
          expect(all.code).toBe(0);
          const homeNamespace = ctx().namespace;
          const homeAt = all.stdout.indexOf(`\nnamespace "${homeNamespace}", newest first:\n`);
          const tenantAt = all.stdout.indexOf(`\nnamespace "${tenant}", newest first:\n`);
          expect(homeAt).toBeGreaterThan(0);
          expect(tenantAt).toBeGreaterThan(homeAt);
          expect(all.stdout.slice(homeAt, tenantAt)).toMatch(/card of order h1\b/);
          expect(all.stdout.slice(homeAt, tenantAt)).not.toMatch(/card of order o1\b/);
          expect(all.stdout.slice(tenantAt)).toMatch(/card of order o1\b.*\s+Order:o1\/_DeferredTask:/);
          expect(all.stdout).toMatch(
            /\n2 failed task\(s\) in 2 namespace\(s\)\. Details: deferred failed show <key> --namespace <namespace>;/,
          );
          const sections = (
            JSON.parse(allJson.stdout) as { namespaces: { namespace: string; tasks: { key: string }[] }[] }
          ).namespaces;
          expect(sections.map((section) => [section.namespace, section.tasks.length])).toEqual([
            [homeNamespace, 1],
            [tenant, 1],
          ]);
          const tenantKey = sections[1]!.tasks[0]!.key;
          const shownThere = await runCli(['failed', 'show', tenantKey, '--namespace', tenant], e);
          expect(shownThere.code).toBe(0);
          expect(shownThere.stdout).toMatch(/card of order o1\b/);
          expect(allNarrowed.stdout).toMatch(
            /^No failed tasks in .*, nor in the namespaces it writes task entities to\.\n$/,
          );
          // What the line suggests works through: the record, retried in its namespace, runs once.
          declined = false;
          const app = env(ctx(), rt, { DEFERRED_SECRET: SECRET, DEFERRED_HANDLER_URL: `${rt.origin}/_deferred` });
          const retried = await runCli(['retry', '--task', 'charge', '--namespace', tenant, '--yes'], app);
          expect(retried.code).toBe(0);
          expect(retried.stdout).toMatch(/\nRetried 1 of 1\.\n$/);
          await rt.advance(5 * 60_000);
          expect(charged).toEqual(['o1']);
        } finally {
          await clearNamespace(ctx().datastore, tenant);
        }
      },
    );

    it(
      "--all-namespaces lists a failure in the default namespace, when the registry names it, as the default namespace's",
      { timeout: 120_000 },
      async () => {
        const rt = await setup(ctx(), { projectId: ctx().clientOptions.projectId });
        // The default namespace is shared with other tests: an entity group of this test's own, deleted at the end,
        // and the CLI narrowed to this test's queue.
        const order = ctx().datastore.key({ path: ['Order', `o-${ctx().namespace}`] }); // no namespace: the default
        try {
          const charge = rt.deferred.task('charge', (id: string) => {
            throw new PermanentTaskFailure(`card of order ${id} declined`);
          });
          await rt.deferred.transaction(async (tx) => {
            tx.save({ key: order, data: { paid: false } }); // registers '' in the runtime's registry
            return tx.defer(charge, 'd1');
          });
          await rt.deferred.transaction(async (tx) => tx.defer(charge, 'h1')); // one in the runtime's own
          await rt.advance();
          const e = env(ctx(), rt);
          const [all, allJson] = await Promise.all([
            runCli(['failed', '-A', '--queue', rt.queue], e),
            runCli(['failed', '-A', '--queue', rt.queue, '--json'], e),
          ]);
          const sections = (
            JSON.parse(allJson.stdout) as {
              namespaces: { namespace: string; tasks: { key: string; lastError: string }[] }[];
            }
          ).namespaces;
          expect(sections.map((section) => [section.namespace, section.tasks.map((t) => t.lastError)])).toEqual([
            [ctx().namespace, [expect.stringMatching(/card of order h1 declined$/)]],
            ['', [expect.stringMatching(/card of order d1 declined$/)]],
          ]);
          const [homeKey, defaultKey] = sections.map((section) => section.tasks[0]!.key);
          expect(defaultKey).toMatch(new RegExp(`^Order:o-${ctx().namespace}/_DeferredTask:\\w+$`));
          // The table: each record once, under its own namespace.
          expect(all.code).toBe(0);
          const homeAt = all.stdout.indexOf(`\nnamespace "${ctx().namespace}", newest first:\n`);
          const defaultAt = all.stdout.indexOf('\nthe default namespace, newest first:\n');
          expect(homeAt).toBeGreaterThan(0);
          expect(defaultAt).toBeGreaterThan(homeAt);
          expect(all.stdout.split(homeKey!)).toHaveLength(2);
          expect(all.stdout.split(defaultKey!)).toHaveLength(2);
          expect(all.stdout.slice(homeAt, defaultAt)).toContain(homeKey);
          expect(all.stdout.slice(defaultAt)).toMatch(
            new RegExp(`\\s+charge\\s+${rt.queue}\\s+1\\s+.*\\s+${defaultKey}\n`),
          );
          expect(all.stdout).toMatch(/\n2 failed task\(s\) in 2 namespace\(s\)\. /);
        } finally {
          await clearGroup(ctx().datastore, order);
        }
      },
    );
  });

  describeStorage('sweep', (ctx) => {
    it(
      'a sweep that scans nothing says how many entities were too young or retained',
      { timeout: 120_000 },
      async () => {
        const rt = await setup(ctx(), { projectId: ctx().clientOptions.projectId });
        const later = rt.deferred.task('later', () => undefined, { entityBacked: true });
        await later.with({ delay: '1h' }).defer();
        await later.with({ delay: '1h' }).defer();
        const result = await runCli(['sweep', '--older-than', '2h', '--dry-run'], env(ctx(), rt));
        expect(result.code).toBe(0);
        expect(result.stdout).toMatch(/\nscanned\s+0\n/);
        expect(result.stdout).toMatch(
          /\nScanned 0 of 2 task entities: 2 created less than 2h ago \(--older-than\)\. None was old enough to look at\.\n$/,
        );
      },
    );
  });
});
