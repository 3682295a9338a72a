// Faults: bad input to the API and the CLI: one line saying what to do, a stable error code or exit code, nothing done.
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { Datastore } from '@google-cloud/datastore';
import pLimit from 'p-limit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDeferred } from '../src/runtime/deferred-runtime.js';
import { DeferredError } from '../src/errors/index.js';
import { MemoryLogger } from '../src/core/logger.js';
import { sweep, sweepShard, type SweepOptions } from '../src/sweeper/index.js';
import { ManualClock, startTasksEmulator, type RunningTasksEmulator } from '../src/tasks-emulator/index.js';
import type { DeferOptions, DeferredConfig } from '../src/types.js';
import { emulators } from './support/backends.js';
import { runCli } from './support/cli.js';
import { freePort, leftovers } from './support/faults.js';
import { LOCATION, PROJECT, SECRET } from './support/runtime.js';
import { silentLogger } from '../src/core/logger.js';

/** The error a call threw or rejected with. */
async function failure(call: () => unknown): Promise<Error> {
  try {
    await call();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a failure');
}

/** One line that names what was wrong, with the package's stable code. */
function expectOneLine(error: Error, code: string, message: RegExp): void {
  expect(error).toBeInstanceOf(DeferredError);
  expect((error as DeferredError).code).toBe(code);
  expect(error.message).toMatch(message);
  expect(error.message).not.toMatch(/\n/);
}

describe('bad input to the API', () => {
  let emulator: RunningTasksEmulator;
  let datastore: Datastore;
  const namespace = `bad-input-${process.pid}`;
  beforeAll(async () => {
    emulator = await startTasksEmulator({ clock: new ManualClock(), autoCreateQueues: true });
    datastore = new Datastore({ ...emulators()[0]!, namespace });
  });
  afterAll(async () => {
    await emulator?.stop();
  });
  const config = (): DeferredConfig => ({
    projectId: PROJECT,
    location: LOCATION,
    handlerUrl: 'http://127.0.0.1:9/_deferred',
    secret: SECRET,
    datastore,
    tasks: emulator.createClient(),
    logger: new MemoryLogger(),
  });

  it.each([
    [{ lease: 'a while' }, 'INVALID_ARGUMENT', /lease: "a while" is not a duration/],
    [{ expireAfter: '-1d' }, 'INVALID_ARGUMENT', /expireAfter: "-1d" is not a duration/],
    [{ expireAfter: -5 }, 'INVALID_ARGUMENT', /expireAfter must be a non-negative number of milliseconds/],
    [{ inlineThreshold: 0 }, 'CONFIGURATION', /inlineThreshold must be a positive number/],
    [{ maxBodyBytes: Number.NaN }, 'CONFIGURATION', /maxBodyBytes must be a positive number/],
    [{ maxDepth: -1 }, 'CONFIGURATION', /maxDepth must be a positive number/],
    [{ shards: -4 }, 'CONFIGURATION', /shards must be a whole number from 1 to 9999, got -4/],
    [{ queue: 'projects/p/queues/q' }, 'INVALID_ARGUMENT', /not a valid queue id/],
    [{ location: '' }, 'CONFIGURATION', /location is missing/],
    [{ datastore: undefined }, 'CONFIGURATION', /datastore is missing: pass a @google-cloud\/datastore client/],
    [{ tasks: undefined }, 'CONFIGURATION', /tasks is missing/],
    [{ secret: undefined, secrets: [] }, 'CONFIGURATION', /secret is missing or too short/],
  ])('createDeferred %j', async (override, code, message) => {
    expectOneLine(await failure(() => createDeferred({ ...config(), ...override } as DeferredConfig)), code, message);
  });

  it.each([
    [{ retention: 'forever' }, /retention: "forever" is not a duration/],
    [{ delay: -5 }, /delay must be a non-negative number of milliseconds, got -5/],
    [{ delay: Number.POSITIVE_INFINITY }, /delay must be a non-negative number/],
    [{ delay: '5 minutes' }, /delay: "5 minutes" is not a duration/],
    [{ eta: '2026-01-01' as never }, /eta must be a valid Date or epoch milliseconds/],
    [{ eta: Number.NaN }, /eta must be a valid Date or epoch milliseconds/],
    [{ maxAttempts: 2.5 }, /maxAttempts must be a whole number >= 1/],
    [{ dispatchDeadline: '2h' }, /dispatchDeadline must be between 15s and 30m/],
  ])('defer option %j', async (options: DeferOptions, message) => {
    const deferred = createDeferred(config());
    const task = deferred.task('t', () => undefined);
    expectOneLine(await failure(() => task.with(options).defer()), 'INVALID_ARGUMENT', message);
  });

  it.each([
    ['a string', 'Order:o1'],
    ['an incomplete key', 'incomplete'],
    ['a plain object', { kind: 'Order', name: 'o1' }],
  ])(
    'a transactional defer with a malformed parent key (%s) fails at defer time and commits nothing',
    async (_, raw) => {
      const deferred = createDeferred(config());
      const task = deferred.task('t', () => undefined);
      const parent = raw === 'incomplete' ? datastore.key(['Order']) : raw;
      const orderKey = datastore.key(['Order', 'must-not-exist']);
      const error = await failure(() =>
        deferred.transaction(async (tx) => {
          tx.save({ key: orderKey, data: { paid: true } });
          await task.with({ transaction: tx, parent: parent as never }).defer();
        }),
      );
      expectOneLine(
        error,
        'INVALID_ARGUMENT',
        /parent must be a complete Datastore key.*datastore\.key\(\['Order', 'o1'\]\)/,
      );
      expect((await datastore.get(orderKey))[0]).toBeUndefined();
      expect(await leftovers({ datastore, namespace, backend: 'datastore', clientOptions: emulators()[0]! })).toEqual(
        {},
      );
    },
  );

  it.each([
    [{ shards: -1 }, /shards must be a whole number from 1 to 9999, got -1/],
    [{ shards: 1.5 }, /shards must be a whole number from 1 to 9999, got 1.5/],
    [{ shards: 10_000 }, /shards must be a whole number from 1 to 9999, got 10000/],
    [{ graceMs: -1 }, /graceMs must be a non-negative number of milliseconds/],
    [{ olderThanMs: Number.NaN }, /olderThanMs must be a non-negative number of milliseconds/],
    [{ concurrency: 0 }, /concurrency must be a whole number >= 1, got 0/],
    [{ pageSize: 0 }, /pageSize must be a whole number >= 1, got 0/],
    [{ kinds: ['Order'] }, /Order/],
  ])('sweep %j', async (override, message) => {
    const options = { datastore, tasks: emulator.createClient(), log: silentLogger, ...override } as SweepOptions;
    expectOneLine(await failure(() => sweep(options)), 'INVALID_ARGUMENT', message);
  });

  it.each([
    [{ shard: -1 }, /shard must be a whole number >= 0, got -1/],
    [{ shard: 0, budgetMs: -1 }, /budgetMs must be >= 0/],
    [{ shard: 0, cursor: 'not-a-cursor' }, /cursor/],
  ])('sweepShard %j', async (override, message) => {
    const options = { datastore, tasks: emulator.createClient(), log: silentLogger, ...override };
    expectOneLine(await failure(() => sweepShard(options)), 'INVALID_ARGUMENT', message);
  });
});

describe('bad input to the CLI (a child process per case)', { timeout: 120_000 }, () => {
  const env = { ...process.env, METADATA_SERVER_DETECTION: 'none', GOOGLE_CLOUD_PROJECT: 'demo-x' };
  const limit = pLimit(4);
  const cases: [string[] | 'unreachable', number, RegExp][] = [
    [['swep'], 2, /^deferred: unknown command "swep": did you mean "sweep"\?/],
    [['sweep', '--shard', '4'], 2, /^deferred: unknown option --shard of deferred sweep\./],
    [['sweep', '--grace=-5m'], 2, /^deferred: --grace: "-5m" is not a duration; write e\.g\./],
    [['sweep', '--retention-done', 'forever'], 2, /^deferred: --retention-done: "forever" is not a duration/],
    [['sweep', '--concurrency', '0'], 2, /^deferred: --concurrency must be a whole number from 1 to 1000, got 0/],
    [['sweep', '--shards', 'many'], 2, /^deferred: --shards must be a whole number from 1 to 9999/],
    [
      ['stats', '--datastore-emulator-host', '127.0.0.1:99999'],
      2,
      /^deferred: --datastore-emulator-host must be host:port/,
    ],
    [['stats', '--project', 'My Project'], 2, /^deferred: --project "My Project" is not a Google Cloud project id/],
    [['inspect', ' '], 2, /^deferred: the key is empty: give a _DeferredTask name/],
    [['inspect', 'Account:acme/_DeferredTask:'], 2, /^deferred: malformed key .* at "_DeferredTask:"/],
    [
      ['emulator', 'tasks', '--tombstone-ms', '-1'],
      2,
      /^deferred: --tombstone-ms: "-1" is not a duration; write e\.g\. "90s"/,
    ],
    [
      'unreachable',
      3,
      /^deferred: cannot reach the Datastore emulator at 127\.0\.0\.1:\d+ \(connection refused: nothing listens there, ECONNREFUSED\): start it/,
    ],
  ];
  const results = new Map<number, Promise<Awaited<ReturnType<typeof runCli>>>>();
  beforeAll(() => {
    cases.forEach(([args], i) =>
      results.set(
        i,
        limit(async () => {
          if (args !== 'unreachable') return runCli(args, env);
          const [datastorePort, tasksPort] = [await freePort(), await freePort()];
          return runCli(
            [
              'stats',
              '--datastore-emulator-host',
              `127.0.0.1:${datastorePort}`,
              '--tasks-emulator-host',
              `127.0.0.1:${tasksPort}`,
            ],
            env,
          );
        }),
      ),
    );
  });

  it.each(cases.map((c, i) => [JSON.stringify(c[0]), c[1], c[2], i] as const))(
    'deferred %s exits %i with one line on stderr and nothing on stdout',
    async (_, code, message, i) => {
      const result = await results.get(i)!;
      expect({ code: result.code, stdout: result.stdout }).toEqual({ code, stdout: '' });
      const lines = result.stderr.trimEnd().split('\n');
      expect(lines[0]).toMatch(message);
      expect(lines).toHaveLength(1);
    },
  );

  it(
    'an emulator port that accepts connections but never answers fails a command within seconds, naming it (exit 3)',
    { timeout: 120_000 },
    async () => {
      const held: Socket[] = [];
      const silent = createServer((socket) => void held.push(socket.on('error', () => undefined)));
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      const at = `127.0.0.1:${(silent.address() as AddressInfo).port}`;
      try {
        const timed = async (args: string[]) => {
          const started = Date.now();
          return { ...(await runCli(args, env)), ms: Date.now() - started };
        };
        // `stats` reads Datastore only; `inspect` of a name that is no entity looks for a Cloud Task of that id.
        const [datastore, tasks] = await Promise.all([
          timed(['stats', '--datastore-emulator-host', at]),
          timed([
            'inspect',
            'no-such-task',
            '--datastore-emulator-host',
            emulators()[0]!.apiEndpoint,
            '--tasks-emulator-host',
            at,
          ]),
        ]);
        for (const [result, what, flag] of [
          [datastore, 'Datastore emulator', '--datastore-emulator-host'],
          [tasks, 'Cloud Tasks emulator', '--tasks-emulator-host'],
        ] as const) {
          expect({ code: result.code, stdout: result.stdout, stderr: result.stderr }).toEqual({
            code: 3,
            stdout: '',
            stderr: `deferred: cannot reach the ${what} at ${at} (it accepts connections but gave no answer within 15 s): start it (e.g. \`deferred dev\`) or fix ${flag}.\n`,
          });
          expect(result.ms).toBeLessThan(50_000); // the clients' own deadline is a minute
        }
      } finally {
        for (const socket of held) socket.destroy();
        await new Promise((resolve) => silent.close(resolve));
      }
    },
  );
});
