// Closures as a task plus a bound environment, methods of registered classes, class codecs, the defer(fn) style, typed names.
import { describe, expect, it } from 'vitest';
import { CodecRegistry } from '../src/codec/index.js';
import type { Deferral, Deferred, DeferredTasks } from '../src/types.js';
import { describeStorage } from './support/backends.js';
import { useRuntime } from './support/runtime.js';

class Money {
  constructor(
    readonly cents: bigint,
    readonly currency: string,
  ) {}
  plus(other: Money): Money {
    return new Money(this.cents + other.cents, this.currency);
  }
}

class Account {
  static loaded: string[] = [];
  constructor(
    readonly id: string,
    public balance = 0,
  ) {}
  static async load(id: string): Promise<Account> {
    Account.loaded.push(id);
    return new Account(id, 100);
  }
  async credit(amount: number, note: string): Promise<void> {
    this.balance += amount;
    Account.credited.push([this.id, this.balance, note]);
  }
  static credited: [string, number, string][] = [];
}

/** The methods handle of Account on `deferred` (instances rebuilt by id), with Account's records emptied. */
function accountMethods(deferred: Deferred) {
  Account.loaded = [];
  Account.credited = [];
  return deferred.methods('Account', Account, {
    key: (account) => account.id,
    load: (id: string) => Account.load(id),
  });
}

declare module '../src/types.js' {
  interface DeferredTasks {
    typedGreeting: (name: string, times: number) => void;
  }
}

describe('closures, methods and codecs', () => {
  const setup = useRuntime();

  describeStorage('through the emulator', (ctx) => {
    it('a closure is a registered task plus a bound, serializable environment', async () => {
      const rt = await setup(ctx());
      const credited: [string, number][] = [];
      const addCredit = rt.deferred.closure('addCredit', (env: { amount: number }, accountId: string) => {
        credited.push([accountId, env.amount]);
      });
      await addCredit.bind({ amount: 10 }).defer('a1');
      await addCredit.bind({ amount: 25 }).with({ delay: '1s' }).defer('a2');
      await rt.advance(1000);
      expect(credited).toEqual([
        ['a1', 10],
        ['a2', 25],
      ]);
    });

    it("methods of a registered class run on an instance rebuilt from its key, not the payload's copy", async () => {
      const rt = await setup(ctx());
      const accounts = accountMethods(rt.deferred);
      const stale = new Account('acc-7', 999_999);
      const deferral = await accounts.defer(stale, 'credit', 5, 'refund');
      expect(deferral.task).toBe('Account.credit');
      expect(rt.deferred.taskNames()).toEqual(['Account.credit']);
      await rt.advance();
      expect(Account.loaded).toEqual(['acc-7']);
      expect(Account.credited).toEqual([['acc-7', 105, 'refund']]);
    });

    it('methods handles deferMany: many instances and methods in one call, with per-call and shared options', async () => {
      const rt = await setup(ctx());
      const accounts = accountMethods(rt.deferred);
      const deferrals = await accounts.with({ entityBacked: true }).deferMany([
        { instance: new Account('acc-1'), method: 'credit', args: [1, 'one'] },
        { instance: new Account('acc-2'), method: 'credit', args: [2, 'two'], options: { name: 'credit-acc-2' } },
      ]);
      expect(deferrals.map((d) => [d.task, d.status, d.entityKey !== null])).toEqual([
        ['Account.credit', 'enqueued', true],
        ['Account.credit', 'enqueued', true],
      ]);
      expect(deferrals[1]!.cloudTaskName).toMatch(/\/tasks\/credit-acc-2$/);
      const inline = await accounts.deferMany([
        { instance: new Account('acc-3'), method: 'credit', args: [3, 'three'] },
      ]);
      expect(inline[0]!.entityKey).toBeNull();
      await rt.advance();
      expect(Account.loaded.sort()).toEqual(['acc-1', 'acc-2', 'acc-3']);
      expect(Account.credited.sort()).toEqual([
        ['acc-1', 101, 'one'],
        ['acc-2', 102, 'two'],
        ['acc-3', 103, 'three'],
      ]);
    });

    it('methods handles deferMany refuses the whole call, naming it, when one call is not an instance or not a registered method', async () => {
      const rt = await setup(ctx());
      Account.credited = [];
      const accounts = rt.deferred.methods('Account', Account, {
        key: (account) => account.id,
        load: (id: string) => Account.load(id),
        methods: ['credit'],
      });
      const good = { instance: new Account('acc-1'), method: 'credit' as const, args: [1, 'one'] as [number, string] };
      await expect(
        accounts.deferMany([good, { instance: { id: 'x' } as Account, method: 'credit', args: [1, 'x'] }]),
      ).rejects.toThrow(
        /^deferMany: calls\[1\] \(of 2\) was refused, so nothing was deferred: .*instance is not a Account/,
      );
      await expect(
        accounts.deferMany([
          good,
          good,
          { instance: new Account('acc-2'), method: 'load' as 'credit', args: [1, 'y'] },
        ]),
      ).rejects.toThrow(/calls\[2\] \(of 3\) .*Account\.load is not a registered method/);
      await expect(accounts.deferMany('nope' as never)).rejects.toThrow(
        /Account\.deferMany\(calls\) needs an array of calls \{ instance, method, args, options\? \}, got string/,
      );
      await rt.advance();
      expect(Account.credited).toEqual([]);
    });

    it('instances of a class with a ClassCodec travel as arguments', async () => {
      const codecs = new CodecRegistry().register({
        name: 'Money',
        type: Money,
        encode: (m: Money) => ({ cents: m.cents, currency: m.currency }),
        decode: (data) => {
          const d = data as { cents: bigint; currency: string };
          return new Money(d.cents, d.currency);
        },
      });
      const rt = await setup(ctx(), { codecs });
      let total: Money | undefined;
      const sum = rt.deferred.task('sum', (a: Money, b: Money) => {
        total = a.plus(b);
      });
      await sum.defer(new Money(150n, 'EUR'), new Money(250n, 'EUR'));
      await rt.advance();
      expect(total).toBeInstanceOf(Money);
      expect(total).toEqual(new Money(400n, 'EUR'));
    });

    it('a class codec whose decode is async rebuilds arguments and the bound environment before the run; its rejection is retried', async () => {
      let failLoads = 0;
      const codecs = new CodecRegistry().register({
        name: 'Money',
        type: Money,
        encode: (m: Money) => ({ cents: m.cents, currency: m.currency }),
        decode: async (data) => {
          await new Promise((resolve) => setTimeout(resolve, 5));
          if (failLoads > 0) {
            failLoads--;
            throw new Error('rates service unavailable');
          }
          const d = data as { cents: bigint; currency: string };
          return new Money(d.cents, d.currency);
        },
      });
      const rt = await setup(ctx(), { codecs });
      const seen: Money[] = [];
      const addFee = rt.deferred.closure('addFee', (env: { fee: Money }, amount: Money) => {
        seen.push(amount.plus(env.fee));
      });
      await addFee.bind({ fee: new Money(5n, 'EUR') }).defer(new Money(100n, 'EUR'));
      await rt.advance();
      expect(seen).toEqual([new Money(105n, 'EUR')]);

      failLoads = 1; // the first decode of the next delivery fails: the attempt is retried, then it runs
      await addFee.bind({ fee: new Money(1n, 'EUR') }).defer(new Money(10n, 'EUR'));
      await rt.advance();
      await rt.advance(60_000);
      expect(seen).toEqual([new Money(105n, 'EUR'), new Money(11n, 'EUR')]);
    });

    it('App Engine style: defer(fn, ...args) with the registered function, and typed task names', async () => {
      const rt = await setup(ctx());
      const greetings: string[] = [];
      function greet(name: string, times: number) {
        greetings.push(name.repeat(times));
      }
      rt.deferred.task('typedGreeting', greet);
      await rt.deferred.defer(greet, 'ab', 2);
      await rt.deferred.defer('typedGreeting', 'c', 3);
      await rt.advance();
      expect(greetings.sort()).toEqual(['abab', 'ccc']);
      const check: DeferredTasks['typedGreeting'] = greet;
      expect(check).toBe(greet);
      const _typed: Promise<Deferral> = rt.deferred.defer('typedGreeting', 'x', 1);
      await _typed;
      // @ts-expect-error wrong argument types are compile errors
      await rt.deferred.defer('typedGreeting', 1, 'x').catch(() => undefined);
    });
  });
});
