// createMemoryDatastore (cloud-deferred/testing): the in-memory Datastore answers every operation the runtime uses as
// the emulators do. Each case runs on the in-memory store and on both emulators; where the two emulators differ, the
// in-memory store follows the stricter one (or Firestore's answer where only Firestore answers), as the README lists.
import { Datastore, PropertyFilter, and, or } from '@google-cloud/datastore';
import { expect, it } from 'vitest';
import { describeStores, type StoreContext } from './support/stores.js';

const names = (rows: object[]) => rows.map((r) => (r as Record<symbol, { name?: string }>)[Datastore.KEY]!.name);
const codeOf = (promise: Promise<unknown>) =>
  promise.then(
    () => 'ok',
    (error: { code?: number }) => error.code,
  );

async function seedValues(ctx: StoreContext) {
  const { datastore: ds } = ctx;
  await ds.save([
    { key: ds.key(['Q', 'i0']), data: { v: 0 } },
    { key: ds.key(['Q', 'i5']), data: { v: 5 } },
    { key: ds.key(['Q', 'd2']), data: { v: 2.5 } },
    { key: ds.key(['Q', 's']), data: { v: 'str' } },
    { key: ds.key(['Q', 'n']), data: { v: null } },
    { key: ds.key(['Q', 't']), data: { v: true } },
    { key: ds.key(['Q', 'dt']), data: { v: new Date(5) } },
    { key: ds.key(['Q', 'b']), data: { v: Buffer.from('ab') } },
    { key: ds.key(['Q', 'k']), data: { v: ds.key(['X', 1]) } },
    { key: ds.key(['Q', 'none']), data: { other: 1 } },
    { key: ds.key(['Q', 'hidden']), data: [{ name: 'v', value: 3, excludeFromIndexes: true }] },
  ]);
}

describeStores('createMemoryDatastore', (ctx) => {
  it('round-trips every value type through save and get, and reports missing keys', async () => {
    const { datastore: ds } = ctx();
    const key = ds.key(['Thing', 'one']);
    const data = {
      int: 42,
      big: ds.int('9007199254740993'),
      double: 1.5,
      date: new Date('2026-01-02T03:04:05.678Z'),
      text: 'héllo',
      bytes: Buffer.from([0, 1, 2, 255]),
      flag: false,
      nothing: null,
      ref: ds.key(['Other', 7]),
      where: ds.geoPoint({ latitude: 48.85, longitude: 2.35 }),
      list: [1, 'two', { three: 3 }],
      nested: { a: { b: 'c' } },
    };
    await ds.save({ key, data });
    const [back] = await ds.get(key, { wrapNumbers: true });
    expect(back.int.value).toBe('42');
    expect(back.big.value).toBe('9007199254740993');
    expect(back.double).toBe(1.5);
    expect(back.date).toEqual(data.date);
    expect(back.text).toBe('héllo');
    expect(back.bytes).toEqual(data.bytes);
    expect(back.flag).toBe(false);
    expect(back.nothing).toBeNull();
    expect(ds.isKey(back.ref)).toBe(true);
    expect(back.ref.path).toEqual(['Other', '7']);
    expect(back.where).toEqual({ latitude: 48.85, longitude: 2.35 });
    expect([back.list[0].value, back.list[1], back.list[2].three.value]).toEqual(['1', 'two', '3']);
    expect(back.nested).toEqual({ a: { b: 'c' } });
    expect(back[ds.KEY].path).toEqual(['Thing', 'one']);
    expect(back[ds.KEY].namespace).toBe(ctx().namespace);

    const [found] = await ds.get([ds.key(['Thing', 'missing']), key], { wrapNumbers: true });
    expect(found.map((e: Record<symbol, { name: string }>) => e[ds.KEY]!.name)).toEqual(['one']);
    expect((await ds.get(ds.key(['Thing', 'missing'])))[0]).toBeUndefined();
  });

  it('gives incomplete keys an id on save and from allocateIds', async () => {
    const { datastore: ds } = ctx();
    const key = ds.key(['Auto']);
    await ds.save({ key, data: { a: 1 } });
    expect(key.id).toMatch(/^\d+$/);
    expect((await ds.get(key))[0].a).toBe(1);
    const [ids] = await ds.allocateIds(ds.key(['Auto']), 2);
    expect(ids).toHaveLength(2);
    for (const id of ids) expect(id.id).toMatch(/^\d+$/);
  });

  it('answers insert of an existing key ALREADY_EXISTS, update of a missing one NOT_FOUND, both keys of a commit INVALID_ARGUMENT', async () => {
    const { datastore: ds } = ctx();
    await ds.save({ key: ds.key(['A', 'a']), data: { n: 1 } });
    expect(await codeOf(ds.insert({ key: ds.key(['A', 'a']), data: { n: 2 } }))).toBe(6);
    expect(await codeOf(ds.update({ key: ds.key(['A', 'nope']), data: { n: 2 } }))).toBe(5);
    const twice = ds.save([
      { key: ds.key(['A', 'd']), data: { n: 1 } },
      { key: ds.key(['A', 'd']), data: { n: 2 } },
    ]);
    await expect(twice).rejects.toMatchObject({
      code: 3,
      details: 'A non-transactional commit may not contain multiple mutations affecting the same entity.',
    });
    expect((await ds.get(ds.key(['A', 'a'])))[0].n).toBe(1);
    expect((await ds.get(ds.key(['A', 'd'])))[0]).toBeUndefined();
  });

  it('refuses indexed strings over 1500 bytes, values over 1,048,487 bytes, reserved kinds and names', async () => {
    const { datastore: ds } = ctx();
    await expect(ds.save({ key: ds.key(['A', 'long']), data: { s: 'x'.repeat(1501) } })).rejects.toMatchObject({
      code: 3,
      details: 'The value of property "s" is longer than 1500 bytes.',
    });
    await ds.save({ key: ds.key(['A', 'ok']), data: { s: 'x'.repeat(1500) } });
    await ds.save({
      key: ds.key(['A', 'unindexed']),
      data: [{ name: 's', value: 'x'.repeat(5000), excludeFromIndexes: true }],
    });
    await expect(
      ds.save({
        key: ds.key(['A', 'big']),
        data: [{ name: 'b', value: Buffer.alloc(1_048_488), excludeFromIndexes: true }],
      }),
    ).rejects.toMatchObject({ code: 3, details: 'The value of property "b" is longer than 1048487 bytes.' });
    await ds.save({
      key: ds.key(['A', 'max']),
      data: [{ name: 'b', value: Buffer.alloc(1_048_487), excludeFromIndexes: true }],
    });
    await expect(ds.save({ key: ds.key(['__x__', 'a']), data: {} })).rejects.toMatchObject({
      code: 3,
      details: 'The kind "__x__" is reserved.',
    });
    await expect(ds.save({ key: ds.key(['A', '__x__']), data: {} })).rejects.toMatchObject({
      code: 3,
      details: 'The key path element name "__x__" is reserved.',
    });
  });

  it('orders values across types as the index does, and ranges take in the types between', async () => {
    await seedValues(ctx());
    const { datastore: ds } = ctx();
    const query = () => ds.createQuery('Q');
    // Unindexed and missing properties are not in the index: `hidden` and `none` never appear.
    expect(names((await ds.runQuery(query().order('v')))[0])).toEqual([
      'n',
      'i0',
      'i5',
      'dt',
      't',
      'b',
      's',
      'd2',
      'k',
    ]);
    expect(names((await ds.runQuery(query().order('v', { descending: true })))[0])).toEqual(
      ['n', 'i0', 'i5', 'dt', 't', 'b', 's', 'd2', 'k'].reverse(),
    );
    expect(names((await ds.runQuery(query().filter(new PropertyFilter('v', '>', 0))))[0])).toEqual([
      'i5',
      'dt',
      't',
      'b',
      's',
      'd2',
      'k',
    ]);
    expect(names((await ds.runQuery(query().filter(new PropertyFilter('v', '<', 'a'))))[0])).toEqual([
      'n',
      'i0',
      'i5',
      'dt',
      't',
    ]);
    // Integers and doubles are different types.
    expect(names((await ds.runQuery(query().filter(new PropertyFilter('v', '=', 5))))[0])).toEqual(['i5']);
    expect(names((await ds.runQuery(query().filter(new PropertyFilter('v', '=', ds.double(5)))))[0])).toEqual([]);
    expect(names((await ds.runQuery(query().filter(new PropertyFilter('v', '=', null))))[0])).toEqual(['n']);
    // Keys: numeric ids before names, ids numerically, names by bytes; the default order of a query is by key.
    await ds.save([10, 9, 'B', 'a'].map((id) => ({ key: ds.key(['N', id]), data: {} })));
    const [byKey] = await ds.runQuery(ds.createQuery('N'));
    expect(byKey.map((e) => e[ds.KEY].path)).toEqual([
      ['N', '9'],
      ['N', '10'],
      ['N', 'B'],
      ['N', 'a'],
    ]);
  });

  it('matches multi-valued properties by any value, orders them by the value that matched, projects one row per value', async () => {
    const { datastore: ds } = ctx();
    await ds.save([0, 1, 2, 3, 4].map((i) => ({ key: ds.key(['M', `m${i}`]), data: { arr: [i, i + 10], v: i } })));
    const q = () => ds.createQuery('M');
    expect(names((await ds.runQuery(q().filter(new PropertyFilter('arr', '=', 12))))[0])).toEqual(['m2']);
    expect(
      names(
        (
          await ds.runQuery(
            q()
              .filter(new PropertyFilter('arr', '>', 11))
              .order('arr'),
          )
        )[0],
      ),
    ).toEqual(['m2', 'm3', 'm4']);
    const [projected] = await ds.runQuery(q().select('arr'));
    expect(projected.map((e) => [e[ds.KEY].name, e.arr])).toEqual([
      ['m0', 0],
      ['m1', 1],
      ['m2', 2],
      ['m3', 3],
      ['m4', 4],
      ['m0', 10],
      ['m1', 11],
      ['m2', 12],
      ['m3', 13],
      ['m4', 14],
    ]);
  });

  it('answers projections from the index (dates as microseconds), keys-only queries, and embedded properties', async () => {
    const { datastore: ds } = ctx();
    await ds.save([
      { key: ds.key(['P', 'a']), data: { d: new Date(1_700_000_000_003), s: 'x', o: { city: 'Paris' } } },
      { key: ds.key(['P', 'b']), data: { d: null, s: 'y', o: { city: 'Lyon' } } },
    ]);
    const [rows] = await ds.runQuery(ds.createQuery('P').select(['d', 's']));
    expect(rows.map((r) => ({ name: r[ds.KEY].name, d: r.d, s: r.s }))).toEqual([
      { name: 'b', d: null, s: 'y' },
      { name: 'a', d: 1_700_000_000_003_000, s: 'x' },
    ]);
    const [keys] = await ds.runQuery(ds.createQuery('P').select('__key__'));
    expect(keys.map((r) => [r[ds.KEY].name, Object.keys(r)])).toEqual([
      ['a', []],
      ['b', []],
    ]);
    expect(
      names((await ds.runQuery(ds.createQuery('P').filter(new PropertyFilter('o.city', '=', 'Lyon'))))[0]),
    ).toEqual(['b']);
  });

  it('pages with limit, offset and cursors (a cursor is a position: later writes after it are found)', async () => {
    const { datastore: ds } = ctx();
    await ds.save([0, 1, 2, 3, 4].map((i) => ({ key: ds.key(['C', `c${i}`]), data: { v: i } })));
    const [first, info] = await ds.runQuery(ds.createQuery('C').order('v').limit(2));
    expect(names(first)).toEqual(['c0', 'c1']);
    expect(info.moreResults).toBe('MORE_RESULTS_AFTER_LIMIT');
    await ds.save([
      { key: ds.key(['C', 'early']), data: { v: 0.5 } }, // doubles sort after integers: after the cursor
      { key: ds.key(['C', 'c1b']), data: { v: 1 } }, // same value as c1, key after it: after the cursor
      { key: ds.key(['C', 'c0b']), data: { v: 0 } }, // before the cursor
    ]);
    const [rest, end] = await ds.runQuery(ds.createQuery('C').order('v').start(info.endCursor!));
    expect(names(rest)).toEqual(['c1b', 'c2', 'c3', 'c4', 'early']);
    // Exhausted without a limit: Firestore's emulator (and the in-memory store) say so; the Datastore emulator does not.
    expect(end.moreResults).toBe(ctx().backend === 'datastore' ? 'MORE_RESULTS_AFTER_LIMIT' : 'NO_MORE_RESULTS');
    expect(names((await ds.runQuery(ds.createQuery('C').order('v').offset(2).limit(2)))[0])).toEqual(['c1', 'c1b']);
    const [, upTo] = await ds.runQuery(ds.createQuery('C').order('__key__').limit(2));
    expect(names((await ds.runQuery(ds.createQuery('C').order('__key__').end(upTo.endCursor!)))[0])).toEqual([
      'c0',
      'c0b',
    ]);
    // The sweeper's range on its age key: strings between two bounds.
    await ds.save(
      ['0001|000', '0001|005', '0001|F|001', '0002|000'].map((a) => ({ key: ds.key(['T', a]), data: { ageKey: a } })),
    );
    const [range] = await ds.runQuery(
      ds
        .createQuery('T')
        .filter(and([new PropertyFilter('ageKey', '>=', '0001|'), new PropertyFilter('ageKey', '<', '0001|F')])),
    );
    expect(range.map((r) => r.ageKey)).toEqual(['0001|000', '0001|005']);
    const [top] = await ds.runQuery(
      ds.createQuery('T').select('ageKey').order('ageKey', { descending: true }).limit(1),
    );
    expect(top.map((r) => r.ageKey)).toEqual(['0002|000']);
  });

  it('keeps namespaces apart, answers ancestor and kindless queries, and kind queries where the Datastore emulator does', async () => {
    const { datastore: ds } = ctx();
    const other = await ctx().client(`${ctx().namespace}-b`);
    await ds.save({ key: ds.key(['K', 'same']), data: { where: 'a' } });
    await other.save({ key: other.key(['K', 'same']), data: { where: 'b' } });
    await ds.save({ key: ds.key(['G', 'g', 'Child', 'c']), data: {} });
    await ds.save({ key: ds.key(['G', 'g']), data: {} });
    expect((await ds.get(ds.key(['K', 'same'])))[0].where).toBe('a');
    expect((await other.get(other.key(['K', 'same'])))[0].where).toBe('b');
    const [kindless] = await ds.runQuery(ds.createQuery([]).hasAncestor(ds.key(['G', 'g'])));
    expect(kindless.map((e) => e[ds.KEY].path)).toEqual([
      ['G', 'g'],
      ['G', 'g', 'Child', 'c'],
    ]);
    const [children] = await ds.runQuery(ds.createQuery('Child').hasAncestor(ds.key(['G', 'g'])));
    expect(children).toHaveLength(1);
    const kinds = ds.runQuery(ds.createQuery('__kind__').select('__key__'));
    if (ctx().backend === 'firestore') {
      await expect(kinds).rejects.toMatchObject({ code: 3 }); // "Kind queries are not supported in the Datastore Mode emulator."
    } else {
      expect((await kinds)[0].map((e) => e[ds.KEY].name)).toEqual(['Child', 'G', 'K']);
    }
    await other.delete(other.key(['K', 'same']));
  });

  it('answers !=, IN and OR as Firestore does (the Datastore emulator cannot), and refuses two inequality properties as the Datastore emulator does', async () => {
    await seedValues(ctx());
    const { datastore: ds, backend } = ctx();
    const neq = () => ds.runQuery(ds.createQuery('Q').filter(new PropertyFilter('v', '!=', 5)));
    const inList = () => ds.runQuery(ds.createQuery('Q').filter(new PropertyFilter('v', 'IN', [0, 'str'])));
    const orFilter = () =>
      ds.runQuery(
        ds.createQuery('Q').filter(or([new PropertyFilter('v', '=', 0), new PropertyFilter('v', '=', true)])),
      );
    const twoInequalities = () =>
      ds.runQuery(
        ds.createQuery('Q').filter(and([new PropertyFilter('v', '>', 0), new PropertyFilter('other', '<', 5)])),
      );
    if (backend === 'datastore') {
      await expect(neq()).rejects.toMatchObject({ code: 2 });
      await expect(inList()).rejects.toMatchObject({ code: 3 });
      await expect(orFilter()).rejects.toMatchObject({ code: 3, details: 'unsupported composite property operator' });
    } else {
      expect(names((await neq())[0])).toEqual(['n', 'i0', 'dt', 't', 'b', 's', 'd2', 'k']);
      expect(names((await inList())[0]).sort()).toEqual(['i0', 's']);
      expect(names((await orFilter())[0]).sort()).toEqual(['i0', 't']);
    }
    if (backend === 'firestore') expect((await twoInequalities())[0]).toEqual([]);
    else {
      await expect(twoInequalities()).rejects.toMatchObject({
        code: 3,
        details: 'Only one inequality filter per query is supported.  Encountered both v and other',
      });
    }
  });

  it('never commits both of two transactions that read and write the same entity: the loser gets ABORTED', async () => {
    const { datastore: ds, backend } = ctx();
    const key = ds.key(['Counter', 'c']);
    await ds.save({ key, data: { n: 0 } });
    const t1 = ds.transaction();
    const t2 = ds.transaction();
    await t1.run();
    await t2.run();
    const [[e1], [e2]] = await Promise.all([t1.get(key), t2.get(key)]);
    t1.save({ key, data: { n: e1.n + 1 } });
    t2.save({ key, data: { n: e2.n + 10 } });
    const outcomes = await Promise.all([codeOf(t1.commit()), codeOf(t2.commit())]);
    // No lost update: at most one commits, every other is ABORTED (10). Under the Firestore emulator's locks both can
    // be aborted (each holds a read lock the other's write needs); the in-memory store, optimistic, commits one.
    expect(outcomes.filter((o) => o !== 'ok' && o !== 10)).toEqual([]);
    expect(outcomes.filter((o) => o === 'ok').length).toBeLessThanOrEqual(1);
    if (backend === 'memory') expect([...outcomes].sort()).toEqual([10, 'ok']);
    const [final] = await ds.get(key);
    expect(final.n).toBe(outcomes[0] === 'ok' ? 1 : outcomes[1] === 'ok' ? 10 : 0);
  }, 120_000);

  it('rolls back, refuses non-ancestor queries and more than 25 entity groups in a transaction where the Datastore emulator does', async () => {
    const { datastore: ds, backend } = ctx();
    const rolled = ds.transaction();
    await rolled.run();
    rolled.save({ key: ds.key(['R', 'r']), data: { a: 1 } });
    await rolled.rollback();
    expect((await ds.get(ds.key(['R', 'r'])))[0]).toBeUndefined();

    const blind = ds.transaction();
    await blind.run();
    await blind.get(ds.key(['Other', 'o']));
    await ds.save({ key: ds.key(['B', 'b']), data: { x: 1 } });
    blind.save({ key: ds.key(['B', 'b']), data: { x: 2 } }); // a write it never read: no conflict
    await blind.commit();
    expect((await ds.get(ds.key(['B', 'b'])))[0].x).toBe(2);

    const strict = backend !== 'firestore';
    const query = ds.transaction();
    await query.run();
    const nonAncestor = query.runQuery(query.createQuery('B'));
    if (strict) {
      await expect(nonAncestor).rejects.toMatchObject({
        code: 3,
        details: 'Only ancestor queries are allowed inside transactions.',
      });
    } else expect((await nonAncestor)[0]).toHaveLength(1);
    await query.rollback().catch(() => undefined);

    const wide = ds.transaction();
    await wide.run();
    for (let i = 0; i < 26; i++) wide.save({ key: ds.key(['W', `w${i}`]), data: { i } });
    const committed = wide.commit();
    if (strict) {
      await expect(committed).rejects.toMatchObject({
        code: 3,
        details: 'operating on too many entity groups in a single transaction.',
      });
    } else await committed;
  });

  it('aborts a transaction whose entity group changed since it read it, where the Datastore emulator does (entity groups)', async () => {
    const { datastore: ds, backend } = ctx();
    const t = ds.transaction();
    await t.run();
    await t.get(ds.key(['G', 'g']));
    await ds.save({ key: ds.key(['G', 'g', 'C', 'c']), data: { x: 1 } }); // another entity of the same group
    t.save({ key: ds.key(['G', 'g']), data: { y: 1 } });
    expect(await codeOf(t.commit())).toBe(backend === 'firestore' ? 'ok' : 10);
  });
});
