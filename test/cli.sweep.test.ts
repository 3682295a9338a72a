// The `deferred` CLI against both emulators: sweep (table, --json, --dry-run), stats and inspect as child processes.
import { Datastore } from '@google-cloud/datastore';
import type { CloudTasksClient } from '@google-cloud/tasks';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTasksEmulator, type RunningTasksEmulator } from '../src/tasks-emulator/index.js';
import { NamespaceRegistry } from '../src/store/namespace-registry.js';
import { clearNamespace, describeStorage } from './support/backends.js';
import { cliEnv, runCli } from './support/cli.js';
import { remainingIds, seedTasks, type TaskSpec } from './support/task-fixture.js';
import { MINUTE, DAY } from './support/time.js';

let emulator: RunningTasksEmulator;
let tasks: CloudTasksClient;
beforeAll(async () => {
  emulator = await startTasksEmulator({ autoCreateQueues: true });
  tasks = emulator.createClient();
});
afterAll(async () => {
  await tasks?.close();
  await emulator?.stop();
});

const specs = (now: number): TaskSpec[] => [
  { id: 'done1', state: 'done', finishedAt: now - 60 * MINUTE, chunks: 2 },
  { id: 'done2', state: 'done', finishedAt: now - 60 * MINUTE },
  { id: 'failed1', state: 'failed', attempts: 3, finishedAt: now - 60 * MINUTE },
  { id: 'leak1', state: 'running', attempts: 1, leaseUntil: now - 30 * MINUTE, cloudTask: 'absent' },
  { id: 'outbox1', transactional: true, cloudTask: 'absent' },
  { id: 'live1', cloudTask: 'queued' },
  { id: 'young1', created: now - MINUTE, eta: now + DAY, cloudTask: 'queued' },
];

// Each CLI run is a Node process: slow on a loaded machine, hence the long timeout.
describeStorage('deferred sweep / stats / inspect', (ctx) => {
  const env = () =>
    cliEnv({
      projectId: ctx().clientOptions.projectId,
      datastore: ctx().clientOptions.apiEndpoint,
      tasks: `127.0.0.1:${emulator.port}`,
      namespace: ctx().namespace,
    });

  it('sweep --dry-run changes nothing; sweep --json then does what it said', { timeout: 120_000 }, async () => {
    const now = Date.now();
    const keys = await seedTasks(ctx().datastore, tasks, `cli-${ctx().namespace}`, specs(now), { now, shards: 16 });
    const dry = await runCli(['sweep', '--dry-run'], env());
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(
      new RegExp(
        `^Dry run \\(nothing changed\\) of project ${ctx().clientOptions.projectId} \\(Datastore emulator .*\\), namespace "${ctx().namespace}": 16 shards in `,
      ),
    );
    expect(dry.stdout).toMatch(/deleted: done\s+2\n/);
    expect(dry.stdout).toMatch(/deleted: leaked\s+1\n/);
    expect(dry.stdout).toMatch(/re-driven\s+1\n/);
    expect((await remainingIds(ctx().datastore, keys)).size).toBe(7);

    const real = await runCli(['sweep', '--json'], env());
    expect(real.code).toBe(0);
    const result = JSON.parse(real.stdout) as { dryRun: boolean; shards: number; stats: Record<string, unknown> };
    expect(result).toMatchObject({ dryRun: false, shards: 16 });
    expect(result.stats).toEqual({
      scanned: 6,
      deleted: { done: 2, failed: 1, retried: 0, leaked: 1, expired: 0, transientKind: 0 },
      redriven: 1,
      kept: 1,
      keptBy: {
        'not-due': 0,
        'task-exists': 1,
        leased: 0,
        retention: 0,
        'redrive-exists': 0,
        changed: 0,
        'unknown-state': 0,
        'no-task-name': 0,
      },
      errors: 0,
    });
    expect([...(await remainingIds(ctx().datastore, keys))].sort()).toEqual(['live1', 'outbox1', 'young1']);

    const stats = await runCli(['stats', '--json'], env());
    expect(stats.code).toBe(0);
    const counts = JSON.parse(stats.stdout) as {
      totalTasks: number;
      tasks: Record<string, Record<string, number>>;
      chunks: number;
    };
    expect(counts.totalTasks).toBe(3);
    expect(counts.tasks.pending).toEqual({ '< 1h': 1, '1h - 1d': 2, '1d - 7d': 0, '>= 7d': 0 });
    expect(counts.chunks).toBe(0);
    const table = await runCli(['stats'], env());
    expect(table.stdout).toMatch(
      new RegExp(
        `^_DeferredTask entities in project ${ctx().clientOptions.projectId} \\(.*\\), namespace "${ctx().namespace}", by state and age:`,
      ),
    );
    expect(table.stdout).toMatch(/pending\s+1\s+2\s+0\s+0\s+3\n/);

    const inspected = await runCli(['inspect', 'outbox1'], env());
    expect(inspected.code).toBe(0);
    expect(inspected.stdout).toMatch(/task\s+sample/);
    expect(inspected.stdout).toMatch(/state\s+pending\s+transactional/);
    expect(inspected.stdout).toMatch(/cloud task\s+\S+\/tasks\/outbox1 \(exists\)/);
    expect(inspected.stdout).toMatch(/sweep\s+keep \(task-exists\)/);
  });

  it('stats and sweep cover and show every namespace the runtime writes to', { timeout: 120_000 }, async () => {
    const now = Date.now();
    const tenant = `${ctx().namespace}-tenant`;
    const inTenant = new Datastore({ ...ctx().clientOptions, namespace: tenant });
    try {
      await new NamespaceRegistry(() => ({ datastore: ctx().datastore, clock: { now: () => now } })).ensure(tenant);
      const home = await seedTasks(ctx().datastore, tasks, `cli-${ctx().namespace}`, specs(now).slice(0, 2), { now });
      const there = await seedTasks(inTenant, tasks, `cli-${tenant}`, specs(now).slice(0, 3), { now, shards: 16 });
      const stats = await runCli(['stats', '--json'], env());
      expect(stats.code).toBe(0);
      const counts = JSON.parse(stats.stdout) as {
        totalTasks: number;
        namespaces: { namespace: string; totalTasks: number }[];
      };
      expect(counts.totalTasks).toBe(5);
      expect(counts.namespaces.map((n) => [n.namespace, n.totalTasks])).toEqual([
        [ctx().namespace, 2],
        [tenant, 3],
      ]);
      const table = await runCli(['stats'], env());
      expect(table.stdout).toMatch(/^_DeferredTask entities in .* \(2 namespaces\), by state and age:/);
      expect(table.stdout).toMatch(new RegExp(`By namespace:[\\s\\S]*\\n${tenant}\\s+3\\s+0\\s+0\\s+2\\s+1\\s+0\\s`));

      const swept = await runCli(['sweep', '--json'], env());
      expect(swept.code).toBe(0);
      const result = JSON.parse(swept.stdout) as {
        namespaces: { namespace: string; shards: number; stats: { deleted: Record<string, number> } }[];
      };
      expect(result.namespaces.map((n) => n.namespace)).toEqual([ctx().namespace, tenant]);
      expect(result.namespaces[1]!.stats.deleted).toMatchObject({ done: 2, failed: 1 });
      expect((await remainingIds(inTenant, there)).size).toBe(0);
      expect((await remainingIds(ctx().datastore, home)).size).toBe(0);
    } finally {
      await clearNamespace(ctx().datastore, tenant);
    }
  });

  it('inspect: a missing entity is a failure, a malformed key is bad usage', { timeout: 120_000 }, async () => {
    const missing = await runCli(['inspect', 'nope'], env());
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^deferred: nothing named nope in .*: no _DeferredTask entity named nope; /);
    const malformed = await runCli(['inspect', 'Account:acme/Order:1'], env());
    expect(malformed.code).toBe(2);
    expect(malformed.stderr.split('\n')[0]).toMatch(/is not a _DeferredTask key/);
  });
});
