// Every defer-time error: fails at once, before any RPC, with a message naming what was wrong and what to do.
import { describe, expect, it } from 'vitest';
import {
  ConfigurationError,
  DuplicateTaskNameError,
  InvalidArgumentError,
  NotSerializableError,
  UnregisteredTaskError,
} from '../../src/errors/index.js';
import { createDeferred } from '../../src/runtime/deferred-runtime.js';
import { failure, offlineConfig } from '../support/offline-runtime.js';
import type { DeferredConfig } from '../../src/types.js';

// Clients that would fail if called: these errors must happen before any RPC.
const config = offlineConfig;

describe('defer() errors, at defer time', () => {
  const deferred = createDeferred(config);
  const report = deferred.task('report', (_userId: string, _options?: unknown) => undefined);
  const withEnv = deferred.closure('withEnv', (_env: { n: number }) => undefined);

  it('an unregistered function names it and says to register it', async () => {
    function sendMail(_to: string) {}
    const error = await failure(deferred.defer(sendMail, 'a@b.c'));
    expect(error).toBeInstanceOf(UnregisteredTaskError);
    expect(error.code).toBe('UNREGISTERED_TASK');
    expect(error.message).toMatch(/function sendMail.*not a registered task.*deferred\.task\('name', fn\)/);
  });

  it('an inline closure says closures need a registered task plus a bound environment', async () => {
    const amount = 10;
    const error = await failure(deferred.defer(() => amount));
    expect(error).toBeInstanceOf(UnregisteredTaskError);
    expect(error.message).toMatch(
      /inline closure.*deferred\.closure\('name', \(env, \.\.\.args\) => \.\.\.\)\.bind\(env\)/,
    );
  });

  it('an unknown task name, and a closure deferred without its environment', async () => {
    const unknown = await failure(deferred.defer('nope' as never));
    expect(unknown).toBeInstanceOf(UnregisteredTaskError);
    expect(unknown.message).toMatch(/no task is registered as "nope"/);
    const unbound = await failure(deferred.defer('withEnv' as never));
    expect(unbound.message).toMatch(/needs an environment: defer it through \.bind\(env\)/);
    expect(withEnv.name).toBe('withEnv');
  });

  it('an unserializable argument names its path', async () => {
    const fnArg = await failure(report.defer('u1', { callback: () => 1 }));
    expect(fnArg).toBeInstanceOf(NotSerializableError);
    expect(fnArg.path).toBe('args[1].callback');
    expect(fnArg.message).toMatch(/args\[1\]\.callback.*function.*register/i);
    const symbol = await failure(report.defer('u1', { tag: Symbol('x') }));
    expect(symbol).toBeInstanceOf(NotSerializableError);
    expect(symbol.path).toBe('args[1].tag');
    class Unregistered {
      constructor(readonly x = 1) {}
    }
    const instance = await failure(report.defer('u1', { when: new Unregistered() }));
    expect(instance).toBeInstanceOf(NotSerializableError);
    expect(instance.path).toBe('args[1].when');
    const closureEnv = await failure(withEnv.bind({ n: 1, f: () => 2 } as never).defer());
    expect(closureEnv.path).toBe('bound.f');
  });

  it('nesting beyond maxDepth', async () => {
    const shallow = createDeferred({ ...config, maxDepth: 8 });
    const deep = shallow.task('deep', (_v: unknown) => undefined);
    let value: unknown = 'leaf';
    for (let i = 0; i < 20; i++) value = { value };
    const error = await failure(deep.defer(value));
    expect(error).toBeInstanceOf(NotSerializableError);
    expect(error.message).toMatch(/deep/i);
  });

  it.each([
    [{ delay: '5m', eta: new Date() }, /either delay or eta/],
    [{ delay: 'soon' }, /delay: "soon" is not a duration/],
    [{ eta: new Date('nope') }, /eta must be a valid Date/],
    [{ queue: 'projects/p/locations/l/queues/q' }, /not a valid queue id.*short id/],
    [{ name: 'has space' }, /not a valid Cloud Task id/],
    [{ maxAttempts: 0 }, /maxAttempts must be a whole number >= 1/],
    [{ headers: { Authorization: 'x' } }, /header Authorization is reserved/],
    [{ headers: { 'X-CloudTasks-QueueName': 'x' } }, /reserved/],
    [{ headers: { 'X-Note': 'a\r\nX-Injected: 1' } }, /header X-Note: its value contains a line break \(CR or LF\)/],
    [{ headers: { 'X-Note': 'trailing\n' } }, /header X-Note: its value contains a line break/],
    [{ headers: { 'X-Note': 'nul\u0000' } }, /another control character/],
    [{ headers: { 'Bad Name': 'x' } }, /header name "Bad Name" is not a valid HTTP header name/],
    [{ dispatchDeadline: '5s' }, /dispatchDeadline must be between 15s and 30m/],
    [{ parent: config.datastore.key(['A', 'b']) }, /parent only applies to transactional defers/],
    [{ ifExists: 'skip' as never }, /ifExists must be 'throw' or 'ignore'/],
  ])('option %j', async (options, message) => {
    const error = await failure(report.with(options).defer('u1'));
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(error.message).toMatch(message);
  });

  it("task() gives the registered function as the handle's fn, typed as it was registered", async () => {
    const double = deferred.task('double', async (n: number) => n * 2);
    const result: Promise<number> = double.fn(21); // a type error if fn's return type were lost
    expect(await result).toBe(42);
  });

  it('registration errors: duplicate and invalid names', () => {
    expect(() => deferred.task('report', () => 1)).toThrow(DuplicateTaskNameError);
    expect(() => deferred.task('bad/name', () => 1)).toThrow(/task name "bad\/name" is not valid/);
    const fn = () => 1;
    deferred.task('fnA', fn);
    expect(deferred.task('fnA', fn).name).toBe('fnA'); // same function, same name: a module reload
    expect(() => deferred.task('fnB', fn)).toThrow(/already registered as "fnA"/);
  });

  it('methods: wrong instance and unlisted method', async () => {
    class Report {
      constructor(readonly id: string) {}
      generate() {}
      secret() {}
    }
    const reports = deferred.methods('Report', Report, {
      key: (r) => r.id,
      load: (id: string) => new Report(id),
      methods: ['generate'],
    });
    expect((await failure(reports.defer({} as Report, 'generate'))).message).toMatch(/instance is not a Report/);
    expect((await failure(reports.defer(new Report('r'), 'secret'))).message).toMatch(
      /Report\.secret is not a registered method/,
    );
  });

  it.each([
    [{ secret: undefined }, /secret is missing or too short/],
    [{ secret: 'short' }, /at least 16 characters/],
    [{ projectId: '' }, /projectId is missing/],
    [{ handlerUrl: 'not a url' }, /handlerUrl "not a url" is not an absolute URL/],
    [{ handlerUrl: undefined, oidc: { serviceAccountEmail: 'a@b' } }, /oidc needs handlerUrl/],
    [{ shards: 0 }, /shards must be a whole number/],
    [{ oidc: { serviceAccountEmail: 'a@b', jwks: { keys: [] } } }, /oidc\.jwks must be a JSON Web Key Set/],
    [{ oidc: { serviceAccountEmail: 'a@b', jwks: {} } }, /oidc\.jwks must be a JSON Web Key Set/],
  ])('configuration %j', (override, message) => {
    expect(() => createDeferred({ ...config, ...override } as DeferredConfig)).toThrow(ConfigurationError);
    expect(() => createDeferred({ ...config, ...override } as DeferredConfig)).toThrow(message);
  });
});
