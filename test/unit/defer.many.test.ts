// deferMany's pure parts: the commit plan (by mutation count and bytes), and the refusals made before any RPC.
import { describe, expect, it } from 'vitest';
import { COMMIT_LIMITS, CommitPlanner, DeferManyError, planCommits } from '../../src/defer/defer-many.js';
import { InvalidArgumentError, NotSerializableError, UnregisteredTaskError } from '../../src/errors/index.js';
import { createDeferred } from '../../src/runtime/deferred-runtime.js';
import { failure, offlineConfig } from '../support/offline-runtime.js';

describe('planCommits', () => {
  const small = { mutations: 1, bytes: 2_000 };

  it('packs 1,000 one-entity tasks into commits of 500 mutations, in order', () => {
    const commits = planCommits(Array.from({ length: 1000 }, () => small));
    expect(commits.map((c) => c.items.length)).toEqual([500, 500]);
    expect(commits.every((c) => !c.split)).toBe(true);
    expect(commits.flatMap((c) => c.items)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
  });

  it("keeps a task's entity and chunks in one commit: 3-mutation tasks fill 498 of 500", () => {
    const commits = planCommits(Array.from({ length: 400 }, () => ({ mutations: 3, bytes: 3_000 })));
    expect(commits.map((c) => c.items.length)).toEqual([166, 166, 68]);
  });

  it('closes a commit at the byte limit', () => {
    const limits = { mutations: 500, bytes: 10_000 };
    const commits = planCommits(
      Array.from({ length: 7 }, () => ({ mutations: 1, bytes: 3_000 })),
      limits,
    );
    expect(commits.map((c) => c.items)).toEqual([[0, 1, 2], [3, 4, 5], [6]]);
  });

  it('gives a task too big for one commit a split commit of its own, between the others', () => {
    const limits = { mutations: 10, bytes: 10_000 };
    const commits = planCommits(
      [small, small, { mutations: 12, bytes: 9_000 }, small, { mutations: 2, bytes: 20_000 }, small],
      limits,
    );
    expect(commits).toEqual([
      { items: [0, 1], split: false },
      { items: [2], split: true },
      { items: [3], split: false },
      { items: [4], split: true },
      { items: [5], split: false },
    ]);
  });

  it('starts with a small first commit and doubles it up to the limit (CommitPlanner closes a full commit at once)', () => {
    const commits = planCommits(
      Array.from({ length: 1000 }, () => small),
      COMMIT_LIMITS,
      50,
    );
    expect(commits.map((c) => c.items.length)).toEqual([50, 100, 200, 400, 250]);
    const planner = new CommitPlanner({ mutations: 4, bytes: 1e6 }, 2);
    expect(planner.add(0, small)).toEqual([]);
    expect(planner.add(1, small)).toEqual([{ items: [0, 1], split: false }]);
    expect(planner.add(2, { mutations: 3, bytes: 10 })).toEqual([]);
    expect(planner.add(3, { mutations: 2, bytes: 10 })).toEqual([{ items: [2], split: false }]);
    expect(planner.finish()).toEqual([{ items: [3], split: false }]);
    expect(planner.finish()).toEqual([]);
  });

  it("uses Datastore's 500 mutations and the runtime's 3 MiB by default; nothing to write, no commit", () => {
    expect(COMMIT_LIMITS).toEqual({ mutations: 500, bytes: 3 * 1024 * 1024 });
    expect(planCommits([])).toEqual([]);
  });
});

// Clients that would fail if called: these refusals happen before any RPC.
const config = offlineConfig;

describe('deferMany refusals, before anything is written', () => {
  const deferred = createDeferred(config);
  const report = deferred.task('report', (_userId: string, _options?: unknown) => undefined);

  it('an argument that cannot travel in calls[7] rejects naming calls[7], with its own error class and path', async () => {
    const argsList: [string, unknown?][] = Array.from({ length: 10 }, (_, i) => [`u${i}`]);
    argsList[7] = ['u7', { callback: () => 1 }];
    const error = await failure(report.deferMany(argsList));
    expect(error).toBeInstanceOf(NotSerializableError);
    expect(error.code).toBe('NOT_SERIALIZABLE');
    expect(error.path).toBe('args[1].callback');
    expect(error.message).toMatch(/^deferMany: calls\[7\] \(of 10\) was refused, so nothing was deferred: .*callback/);
    expect(error.stack).toContain('calls[7]');
  });

  it('a bad option of one call names it; so does an unregistered task or a call that is not { task, args }', async () => {
    const badDelay = await failure(
      deferred.deferMany([
        { task: report, args: ['a'] },
        { task: report, args: ['b'], options: { delay: 'soon' } },
      ]),
    );
    expect(badDelay).toBeInstanceOf(InvalidArgumentError);
    expect(badDelay.message).toMatch(/calls\[1\] \(of 2\).*delay/);

    function sendMail(_to: string) {}
    const unregistered = await failure(
      deferred.deferMany([
        { task: report, args: ['a'] },
        { task: report, args: ['b'] },
        { task: sendMail, args: ['c'] },
      ]),
    );
    expect(unregistered).toBeInstanceOf(UnregisteredTaskError);
    expect(unregistered.message).toMatch(/calls\[2\] \(of 3\).*function sendMail/);

    const noArgs = await failure(deferred.deferMany([{ task: report, args: ['a'] }, { task: report }] as never));
    expect(noArgs).toBeInstanceOf(InvalidArgumentError);
    expect(noArgs.message).toMatch(/calls\[1\].*args must be an array/);

    const notCall = await failure(deferred.deferMany([null as never]));
    expect(notCall.message).toMatch(/calls\[0\].*\{ task, args, options\? \}/);

    const notArgs = await failure(report.deferMany([['a'], 'b' as never]));
    expect(notArgs.message).toMatch(/calls\[1\].*one run's arguments, an array/);
  });

  it('two calls naming the same task in one queue are refused, naming both', async () => {
    const error = await failure(
      deferred.deferMany([
        { task: report, args: ['a'], options: { name: 'r-1' } },
        { task: report, args: ['b'], options: { name: 'r-2' } },
        { task: report, args: ['c'], options: { name: 'r-1', queue: 'other' } },
        { task: report, args: ['d'], options: { name: 'r-1' } },
      ]),
    );
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(error.message).toMatch(/calls\[3\].*calls\[0\] and calls\[3\] both name task "r-1" in queue default/);
  });

  it('not an array, and a bad concurrency, are refused as such', async () => {
    expect((await failure(deferred.deferMany('x' as never))).message).toMatch(/needs an array of calls/);
    expect((await failure(report.deferMany({} as never))).message).toMatch(
      /report\.deferMany\(argsList\) needs an array/,
    );
    const concurrency = await failure(report.deferMany([['a']], { concurrency: 0 }));
    expect(concurrency).toBeInstanceOf(InvalidArgumentError);
    expect(concurrency.message).toMatch(/concurrency must be a whole number of at least 1.*got 0/);
  });

  it('an empty list defers nothing and resolves with no deferrals', async () => {
    await expect(report.deferMany([])).resolves.toEqual([]);
    await expect(deferred.deferMany([])).resolves.toEqual([]);
  });
});

describe('DeferManyError', () => {
  it('says how many failed, shows the first few, and keeps each outcome by index', () => {
    const deferral = {
      task: 't',
      queue: 'q',
      cloudTaskName: 'n',
      entityKey: null,
      status: 'enqueued' as const,
      eta: new Date(0),
    };
    const results = [
      { index: 0, status: 'fulfilled' as const, deferral },
      { index: 1, status: 'rejected' as const, error: new Error('boom') },
      { index: 2, status: 'fulfilled' as const, deferral },
      { index: 3, status: 'rejected' as const, error: new Error('bang') },
    ];
    const error = new DeferManyError(results);
    expect(error.code).toBe('DEFER_MANY_FAILED');
    expect(error.name).toBe('DeferManyError');
    expect(error.failed).toEqual([1, 3]);
    expect(error.results).toBe(results);
    expect(error.cause).toBe(results[1]!.error);
    expect(error.message).toMatch(
      /^deferMany: 2 of 4 calls failed \(calls\[1\]: Error: boom; calls\[3\]: Error: bang\); the other 2 were deferred/,
    );
  });
});
