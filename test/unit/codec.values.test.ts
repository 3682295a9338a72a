// Unit tests of encodeValue/decodeValue: every supported type round-trips through JSON, every unsupported one is refused clearly.
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import datastore from '@google-cloud/datastore';
import {
  BadEnvelopeError,
  CodecRegistry,
  NotSerializableError,
  decodeValue,
  encodeValue,
  type ClassCodec,
} from '../../src/index.js';

const { Datastore, Key } = datastore;
/** The app's client: the decoder rebuilds keys and Datastore wrappers with it (no connection is made). */
const ds = new Datastore({ projectId: 'codec-test' });

/** encode -> JSON text -> parse -> decode, as a payload travels. */
async function roundTrip(value: unknown, registry?: CodecRegistry): Promise<unknown> {
  const text = JSON.stringify(encodeValue(value, { registry, datastore: ds }));
  return decodeValue(JSON.parse(text), { registry, datastore: ds });
}

function notSerializable(fn: () => unknown): NotSerializableError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(NotSerializableError);
    return error as NotSerializableError;
  }
  throw new Error('expected NotSerializableError');
}

async function badEnvelope(promise: Promise<unknown>): Promise<BadEnvelopeError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(BadEnvelopeError);
  return error as BadEnvelopeError;
}

describe('encodeValue/decodeValue: primitives', () => {
  it.each([
    ['a string', 'héllo \u{1F600} "quoted" \\ \n'],
    ['an empty string', ''],
    ['a lone surrogate', '\ud800x'],
    ['true', true],
    ['false', false],
    ['null', null],
    ['zero', 0],
    ['an integer', 42],
    ['a float', -3.25],
    ['MAX_VALUE', Number.MAX_VALUE],
    ['MIN_VALUE', Number.MIN_VALUE],
  ])('round-trips %s as itself', async (_name, value) => {
    expect(encodeValue(value)).toBe(value);
    expect(await roundTrip(value)).toBe(value);
  });

  it.each([
    ['NaN', NaN],
    ['Infinity', Infinity],
    ['-Infinity', -Infinity],
    ['-0', -0],
  ])('round-trips %s', async (name, value) => {
    expect(encodeValue(value)).toEqual({ $number: name });
    expect(Object.is(await roundTrip(value), value)).toBe(true);
  });

  it('round-trips undefined at the top level, in arrays and as an own property', async () => {
    expect(encodeValue(undefined)).toEqual({ $undefined: true });
    expect(await roundTrip(undefined)).toBeUndefined();
    const arr = (await roundTrip([1, undefined, 3])) as unknown[];
    expect(arr).toHaveLength(3);
    expect(1 in arr).toBe(true);
    expect(arr[1]).toBeUndefined();
    const obj = (await roundTrip({ a: undefined })) as Record<string, unknown>;
    expect(Object.keys(obj)).toEqual(['a']);
    expect(obj.a).toBeUndefined();
  });

  it('turns holes of sparse arrays into undefined', async () => {
    // eslint-disable-next-line no-sparse-arrays
    expect(await roundTrip([1, , 3])).toEqual([1, undefined, 3]);
  });

  it.each([0n, 123n, -123n, 2n ** 64n, -(10n ** 40n)])('round-trips the BigInt %s', async (value) => {
    expect(encodeValue(value)).toEqual({ $bigint: value.toString() });
    expect(await roundTrip(value)).toBe(value);
  });
});

describe('encodeValue/decodeValue: objects and arrays', () => {
  it('round-trips nested plain objects and arrays', async () => {
    const value = {
      a: [1, 'two', { three: [3, [4, [5]]] }],
      b: {},
      c: [],
      'weird key': { 'x.y': 1 },
      7: 'numeric key',
    };
    expect(await roundTrip(value)).toEqual(value);
    expect(encodeValue(value)).toEqual(value); // plain JSON stays as it is: readable in the console
  });

  it('keeps key order, including integer-like keys', async () => {
    const value = { b: 1, a: 2, 10: 3, 2: 4 };
    expect(Object.keys((await roundTrip(value)) as object)).toEqual(Object.keys(value));
  });

  it('round-trips objects whose keys look like tags', async () => {
    const value = {
      $date: '2020-01-01',
      $ref: 1,
      $id: 2,
      $arrayid: 3,
      $class: 'Evil',
      data: 'x',
      $$escaped: 'y',
      $: 'dollar',
      $undefined: true,
    };
    const encoded = encodeValue(value) as Record<string, unknown>;
    expect(encoded.$$date).toBe('2020-01-01');
    expect(encoded.$$$escaped).toBe('y');
    expect(await roundTrip(value)).toEqual(value);
  });

  it('round-trips values that look exactly like tagged forms', async () => {
    const lookalikes = [
      { $date: '2020-01-01T00:00:00.000Z' },
      { $ref: 1 },
      { $map: [[1, 2]] },
      { $undefined: true },
      { $number: 'NaN' },
      { $class: 'User', data: {} },
      [{ $arrayid: 1 }, 2],
      { $id: 1 },
    ];
    for (const value of lookalikes) expect(await roundTrip(value)).toEqual(value);
  });

  it('round-trips "__proto__" as an own key without touching any prototype', async () => {
    const value = JSON.parse(
      '{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}},"a":1}',
    ) as object;
    const back = (await roundTrip(value)) as Record<string, unknown>;
    expect(Object.getPrototypeOf(back)).toBe(Object.prototype);
    expect(Object.keys(back)).toEqual(['__proto__', 'constructor', 'a']);
    expect(Object.getOwnPropertyDescriptor(back, '__proto__')?.value).toEqual({ polluted: true });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect((back as { polluted?: unknown }).polluted).toBeUndefined();
  });

  it('does not let a decoded payload pollute prototypes', async () => {
    const hostile = JSON.parse(
      '{"__proto__":{"polluted":1},"m":{"$map":[["__proto__",{"polluted":2}]]},"c":{"constructor":{"prototype":{"polluted":3}}}}',
    ) as unknown;
    const back = (await decodeValue(hostile)) as Record<string, unknown>;
    expect(Object.getPrototypeOf(back)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect((back.m as Map<string, unknown>).get('__proto__')).toEqual({ polluted: 2 });
  });

  it('encodes null-prototype objects as plain objects', async () => {
    const value = Object.assign(Object.create(null) as object, { a: 1 });
    expect(await roundTrip(value)).toEqual({ a: 1 });
  });

  it('encodes plain objects from another realm as plain objects', async () => {
    const foreign = runInNewContext('({ a: 1, nested: { b: [2] } })') as object;
    expect(Object.getPrototypeOf(foreign)).not.toBe(Object.prototype);
    expect(await roundTrip(foreign)).toEqual({ a: 1, nested: { b: [2] } });
  });

  it('reads getters once and ignores non-enumerable and symbol-keyed properties', async () => {
    let reads = 0;
    const value = {
      get g() {
        reads++;
        return 'got';
      },
      [Symbol('s')]: 1,
    };
    Object.defineProperty(value, 'hidden', { value: 1, enumerable: false });
    expect(await roundTrip(value)).toEqual({ g: 'got' });
    expect(reads).toBe(1);
  });
});

describe('encodeValue/decodeValue: built-in types', () => {
  it('round-trips Dates, including invalid ones and extreme years', async () => {
    const date = new Date('2026-03-04T05:06:07.089Z');
    expect(encodeValue(date)).toEqual({ $date: '2026-03-04T05:06:07.089Z' });
    expect(await roundTrip(date)).toEqual(date);
    expect(encodeValue(new Date(NaN))).toEqual({ $date: null });
    const invalid = await roundTrip(new Date(NaN));
    expect(invalid).toBeInstanceOf(Date);
    expect(Number.isNaN((invalid as Date).getTime())).toBe(true);
    for (const t of [8.64e15, -8.64e15, -1]) expect(((await roundTrip(new Date(t))) as Date).getTime()).toBe(t);
  });

  it('writes every Date exactly as toISOString() does, across the whole time range', async () => {
    let seed = 7;
    const times = [
      0, -1, 1, 951_782_400_000, 253_402_300_799_999, 253_402_300_800_000, -62_167_219_200_000, -62_167_219_200_001,
    ];
    for (let i = 0; i < 20_000; i++) {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      const scale = [8.64e15, 2.6e14, 4e12][i % 3]!;
      times.push(Math.round(((seed / 2 ** 31) * 2 - 1) * scale));
    }
    for (const t of times) {
      const date = new Date(t);
      expect((encodeValue(date) as { $date: string }).$date).toBe(date.toISOString());
    }
    expect(((await roundTrip(new Date(-62_167_219_200_001))) as Date).getTime()).toBe(-62_167_219_200_001);
  });

  it('round-trips Maps with keys of any type, in order', async () => {
    const objKey = { k: 1 };
    const value = new Map<unknown, unknown>([
      ['s', 1],
      [1, 's'],
      [objKey, [1]],
      [undefined, null],
      [NaN, 'nan'],
      [new Date(0), new Map([[1, 2]])],
      [1n, new Set([1])],
    ]);
    const back = (await roundTrip(value)) as Map<unknown, unknown>;
    expect(back).toBeInstanceOf(Map);
    expect([...back.keys()]).toEqual([...value.keys()]);
    expect([...back.values()]).toEqual([...value.values()]);
    expect(back.get(NaN)).toBe('nan');
    expect(encodeValue(new Map([['a', 1]]))).toEqual({ $map: [['a', 1]] });
  });

  it('round-trips Sets', async () => {
    const value = new Set<unknown>([1, 'a', { b: 2 }, [3], undefined, -0]);
    const back = (await roundTrip(value)) as Set<unknown>;
    expect(back).toBeInstanceOf(Set);
    expect([...back]).toEqual([...value]);
    expect(encodeValue(new Set([1]))).toEqual({ $set: [1] });
  });

  it('round-trips Buffers as Buffers', async () => {
    const value = Buffer.from([0, 1, 2, 250, 255]);
    expect(encodeValue(value)).toEqual({ $buffer: value.toString('base64') });
    const back = await roundTrip(value);
    expect(Buffer.isBuffer(back)).toBe(true);
    expect(back).toEqual(value);
    expect(await roundTrip(Buffer.alloc(0))).toEqual(Buffer.alloc(0));
  });

  const typedArrays = [
    new Int8Array([-128, 0, 127]),
    new Uint8Array([0, 255]),
    new Uint8ClampedArray([0, 255]),
    new Int16Array([-32768, 32767]),
    new Uint16Array([65535]),
    new Int32Array([-(2 ** 31), 2 ** 31 - 1]),
    new Uint32Array([2 ** 32 - 1]),
    new Float32Array([1.5, -0, NaN, Infinity]),
    new Float64Array([Math.PI, -Infinity, NaN, Number.MIN_VALUE]),
    new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n]),
    new BigUint64Array([2n ** 64n - 1n]),
    new Float64Array(0),
  ];
  it.each(typedArrays.map((a) => [a.constructor.name, a] as const))('round-trips a %s', async (name, value) => {
    const back = (await roundTrip(value)) as ArrayBufferView;
    expect(back.constructor).toBe(value.constructor);
    expect(back).toEqual(value);
    expect((encodeValue(value) as { $typed: string }).$typed).toBe(name);
  });

  it('round-trips a typed array that views part of a larger buffer, copying only its bytes', async () => {
    const buffer = new ArrayBuffer(64);
    new Uint8Array(buffer).fill(7);
    const view = new Uint16Array(buffer, 8, 4);
    view.set([1, 2, 3, 4]);
    const back = (await roundTrip(view)) as Uint16Array;
    expect([...back]).toEqual([1, 2, 3, 4]);
    expect(back.buffer.byteLength).toBe(8);
  });

  it('round-trips ArrayBuffer and DataView', async () => {
    const buffer = new Uint8Array([1, 2, 3]).buffer;
    const back = (await roundTrip(buffer)) as ArrayBuffer;
    expect(back).toBeInstanceOf(ArrayBuffer);
    expect([...new Uint8Array(back)]).toEqual([1, 2, 3]);
    const view = new DataView(new Uint8Array([9, 8, 7, 6]).buffer, 1, 2);
    const viewBack = (await roundTrip(view)) as DataView;
    expect(viewBack).toBeInstanceOf(DataView);
    expect([viewBack.getUint8(0), viewBack.getUint8(1), viewBack.byteLength]).toEqual([8, 7, 2]);
  });

  it('round-trips RegExps with their flags', async () => {
    const value = /a+(b)?\/[x-z]/giu;
    const back = (await roundTrip(value)) as RegExp;
    expect(back).toBeInstanceOf(RegExp);
    expect([back.source, back.flags]).toEqual([value.source, value.flags]);
  });
});

describe('encodeValue/decodeValue: shared references and cycles', () => {
  it('keeps shared objects shared and writes ids only on those', async () => {
    const shared = { n: 1 };
    const value = { a: shared, b: shared, c: { n: 1 } };
    const encoded = encodeValue(value);
    expect(JSON.stringify(encoded)).toBe('{"a":{"n":1,"$id":1},"b":{"$ref":1},"c":{"n":1}}');
    const back = (await roundTrip(value)) as typeof value;
    expect(back.a).toBe(back.b);
    expect(back.c).not.toBe(back.a);
    expect(back).toEqual(value);
  });

  it('round-trips a self-referencing object and a self-containing array', async () => {
    const obj: Record<string, unknown> = { name: 'loop' };
    obj.self = obj;
    const back = (await roundTrip(obj)) as Record<string, unknown>;
    expect(back.self).toBe(back);

    const arr: unknown[] = [1];
    arr.push(arr);
    const arrBack = (await roundTrip(arr)) as unknown[];
    expect(arrBack).toHaveLength(2);
    expect(arrBack[0]).toBe(1);
    expect(arrBack[1]).toBe(arrBack);
  });

  it('keeps shared arrays, Maps, Sets, Dates and buffers shared', async () => {
    const list = [1, 2];
    const map = new Map([[1, 1]]);
    const set = new Set([1]);
    const date = new Date(1);
    const bytes = new Uint8Array([1]);
    const buf = Buffer.from('x');
    const value = [list, map, set, date, bytes, buf, { list, map, set, date, bytes, buf }];
    const back = (await roundTrip(value)) as unknown[];
    const inner = back[6] as Record<string, unknown>;
    expect(inner.list).toBe(back[0]);
    expect(inner.map).toBe(back[1]);
    expect(inner.set).toBe(back[2]);
    expect(inner.date).toBe(back[3]);
    expect(inner.bytes).toBe(back[4]);
    expect(inner.buf).toBe(back[5]);
    expect(back[0]).toEqual([1, 2]);
  });

  it('round-trips cycles through Maps and Sets', async () => {
    const map = new Map<unknown, unknown>();
    map.set(map, map);
    const set = new Set<unknown>();
    set.add(set);
    const back = (await roundTrip({ map, set })) as { map: Map<unknown, unknown>; set: Set<unknown> };
    expect(back.map.get(back.map)).toBe(back.map);
    expect(back.set.has(back.set)).toBe(true);
  });

  it('round-trips a graph: a doubly linked list', async () => {
    type Node = { v: number; prev?: Node; next?: Node };
    const nodes: Node[] = Array.from({ length: 20 }, (_, v) => ({ v }));
    nodes.forEach((n, i) => {
      n.prev = nodes[i - 1];
      n.next = nodes[i + 1];
    });
    const back = (await roundTrip(nodes)) as Node[];
    for (let i = 0; i < 20; i++) {
      expect(back[i]!.v).toBe(i);
      expect(back[i]!.next).toBe(back[i + 1]);
      expect(back[i]!.prev).toBe(back[i - 1]);
    }
  });
});

class Money {
  constructor(
    readonly cents: bigint,
    readonly currency: string,
  ) {}
}
class Euro extends Money {
  constructor(cents: bigint) {
    super(cents, 'EUR');
  }
}
const moneyCodec: ClassCodec<Money> = {
  name: 'Money',
  type: Money,
  encode: (m) => ({ cents: m.cents, currency: m.currency }),
  decode: (data) => {
    const d = data as { cents: bigint; currency: string };
    return new Money(d.cents, d.currency);
  },
};

class User {
  constructor(
    readonly id: string,
    readonly loadedFrom = 'payload',
  ) {}
}
/** Like a codec that reloads an entity by key: async, and not trusting anything but the id. */
const asyncUserCodec: ClassCodec<User> = {
  name: 'User',
  type: User,
  encode: (u) => ({ id: u.id, secretCopy: 'ignored' }),
  decode: async (data) => {
    await new Promise((resolve) => setImmediate(resolve));
    return new User((data as { id: string }).id, 'store');
  },
};

class Order {
  constructor(
    readonly owner: User,
    readonly total: Money,
  ) {}
}
const orderCodec: ClassCodec<Order> = {
  name: 'Order',
  type: Order,
  encode: (o) => ({ owner: o.owner, total: o.total }),
  decode: (data) => {
    const d = data as { owner: User; total: Money };
    if (!(d.owner instanceof User)) throw new Error('owner was not rebuilt before Order.decode');
    return new Order(d.owner, d.total);
  },
};

function registry(...codecs: ClassCodec[]): CodecRegistry {
  const r = new CodecRegistry();
  for (const c of codecs) r.register(c as ClassCodec);
  return r;
}

describe('encodeValue/decodeValue: registered classes', () => {
  it('writes a readable $class node and rebuilds a real instance', async () => {
    const r = registry(moneyCodec as ClassCodec);
    const value = new Money(1999n, 'USD');
    expect(encodeValue(value, { registry: r })).toEqual({
      $class: 'Money',
      data: { cents: { $bigint: '1999' }, currency: 'USD' },
    });
    const back = await roundTrip(value, r);
    expect(back).toBeInstanceOf(Money);
    expect(back).toEqual(value);
  });

  it('uses the nearest registered ancestor for subclasses', async () => {
    const r = registry(moneyCodec as ClassCodec);
    expect((encodeValue(new Euro(5n), { registry: r }) as { $class: string }).$class).toBe('Money');
  });

  it('awaits async decoders, wherever the instance sits (object, array, Map key and value, Set, shared)', async () => {
    const r = registry(asyncUserCodec as ClassCodec);
    const alice = new User('alice');
    const bob = new User('bob');
    const value = {
      one: alice,
      list: [alice, bob],
      map: new Map<unknown, unknown>([
        [alice, 'a'],
        ['b', bob],
      ]),
      set: new Set([bob]),
    };
    const back = (await roundTrip(value, r)) as typeof value;
    expect(back.one).toBeInstanceOf(User);
    expect(back.one.loadedFrom).toBe('store');
    expect(back.list[0]).toBe(back.one);
    expect(back.list[1]).toBeInstanceOf(User);
    const [mapKey] = [...back.map.keys()];
    expect(mapKey).toBe(back.one);
    expect(back.map.get(back.one)).toBe('a');
    expect(back.map.get('b')).toBe(back.list[1]);
    expect([...back.set][0]).toBe(back.list[1]);
    expect([...back.map.keys()][1]).toBe('b'); // order kept after the Map was patched
  });

  it('awaits an async instance at the top level', async () => {
    const r = registry(asyncUserCodec as ClassCodec);
    const back = await roundTrip(new User('carol'), r);
    expect(back).toEqual(new User('carol', 'store'));
  });

  it('decodes inner async instances before the outer class decoder runs', async () => {
    const r = registry(asyncUserCodec as ClassCodec, moneyCodec as ClassCodec, orderCodec as ClassCodec);
    const back = (await roundTrip([new Order(new User('dave'), new Money(1n, 'EUR'))], r)) as Order[];
    expect(back[0]).toBeInstanceOf(Order);
    expect(back[0]!.owner).toEqual(new User('dave', 'store'));
    expect(back[0]!.total).toEqual(new Money(1n, 'EUR'));
  });

  it('propagates errors thrown by decoders, sync or async', async () => {
    const failing = registry({
      name: 'User',
      type: User,
      encode: (u: User) => u.id,
      decode: async () => {
        throw new Error('entity not found');
      },
    } as ClassCodec);
    await expect(roundTrip([new User('x'), new User('y')], failing)).rejects.toThrow('entity not found');
  });

  it('refuses an instance whose codec data refers back to it, naming the path', () => {
    class Node {
      children: Node[] = [];
      parent?: Node;
    }
    const r = registry({
      name: 'Node',
      type: Node,
      encode: (n: Node) => ({ children: n.children }),
      decode: () => new Node(),
    } as ClassCodec);
    const root = new Node();
    const child = new Node();
    child.parent = root;
    root.children.push(child);
    const r2 = registry({
      name: 'Node',
      type: Node,
      encode: (n: Node) => ({ children: n.children, parent: n.parent }),
      decode: () => new Node(),
    } as ClassCodec);
    expect(() => encodeValue(root, { registry: r })).not.toThrow();
    const error = notSerializable(() => encodeValue(root, { registry: r2 }));
    expect(error.path).toBe('value<Node>.children[0]<Node>.parent');
    expect(error.message).toMatch(/cycle through a class codec/);
  });

  it('reports a codec whose encode throws', () => {
    const r = registry({
      name: 'User',
      type: User,
      encode: () => {
        throw new Error('boom');
      },
      decode: () => new User('x'),
    } as ClassCodec);
    const error = notSerializable(() => encodeValue({ u: new User('a') }, { registry: r }));
    expect(error.path).toBe('value.u');
    expect(error.message).toMatch(/encode\(\) of class codec "User" threw boom/);
    expect(error.cause).toBeInstanceOf(Error);
  });

  it('refuses a $class unknown to the decoding registry with a message saying to register it', async () => {
    const encoded = encodeValue(new Money(1n, 'X'), { registry: registry(moneyCodec as ClassCodec) });
    const error = await badEnvelope(decodeValue(encoded));
    expect(error.message).toMatch(
      /class "Money".*createDeferred\(\{ codecs: new CodecRegistry\(\)\.register\(codec\) \}\)/,
    );
    expect(error.message).not.toMatch(/registerClass/);
  });
});

describe('encodeValue/decodeValue: Datastore keys', () => {
  it.each([
    ['a named key', ds.key(['User', 'alice'])],
    ['a numeric id', ds.key(['User', 123])],
    ['an int64 id beyond 2^53', ds.key(['User', Datastore.int('9223372036854775807')])],
    ['an ancestor path', ds.key(['Org', 'acme', 'User', 'alice', 'Order', Datastore.int('5629499534213120')])],
    ['a namespace', ds.key({ namespace: 'tenant-1', path: ['User', 'alice'] })],
    ['an incomplete key', ds.key(['Org', 'acme', 'User'])],
  ])('round-trips %s as a real Key', async (_name, key) => {
    const back = (await roundTrip({ key })) as { key: InstanceType<typeof Key> };
    expect(back.key).toBeInstanceOf(Key);
    expect(back.key.path).toEqual(key.path);
    expect(back.key.namespace).toEqual(key.namespace);
    expect(back.key.id).toEqual(key.id);
    expect(back.key.name).toEqual(key.name);
    expect(back.key.parent?.path).toEqual(key.parent?.path);
  });

  it('writes keys readably', () => {
    const key = ds.key({ namespace: 'ns', path: ['Org', 'acme', 'User', Datastore.int('5629499534213120'), 'Pet', 7] });
    expect(encodeValue(key)).toEqual({
      $key: ['Org', 'acme', 'User', { id: '5629499534213120' }, 'Pet', 7],
      namespace: 'ns',
    });
  });

  it('keeps the key of an entity read with @google-cloud/datastore (datastore.KEY)', async () => {
    const key = ds.key(['User', 'alice']);
    const entity = { name: 'Alice', [Datastore.KEY]: key };
    const encoded = encodeValue({ entity }) as { entity: Record<string, unknown> };
    expect(encoded.entity).toEqual({ name: 'Alice', $entitykey: { $key: ['User', 'alice'] } });
    const back = (await roundTrip({ entity, bare: { [Datastore.KEY]: key } })) as Record<
      string,
      Record<symbol, unknown>
    >;
    expect(Object.keys(back.entity!)).toEqual(['name']);
    expect((back.entity as { name?: unknown }).name).toBe('Alice');
    expect(back.entity![Datastore.KEY]).toBeInstanceOf(Key);
    expect((back.entity![Datastore.KEY] as InstanceType<typeof Key>).path).toEqual(['User', 'alice']);
    expect((back.bare![Datastore.KEY] as InstanceType<typeof Key>).path).toEqual(['User', 'alice']);
    await expect(decodeValue({ $entitykey: 5 }, { datastore: ds })).rejects.toThrow(/\$entitykey must hold/);
    const error = notSerializable(() => encodeValue({ e: { [Datastore.KEY]: () => 1 } }, { datastore: ds }));
    expect(error.path).toBe('value.e[datastore.KEY]');
  });

  it('round-trips datastore.int(), datastore.double() and datastore.geoPoint() values', async () => {
    const value = {
      big: Datastore.int('9223372036854775807'),
      small: Datastore.int(7),
      double: Datastore.double(1),
      nan: Datastore.double(NaN),
      where: Datastore.geoPoint({ latitude: 52.5, longitude: 13.4 }),
    };
    expect(encodeValue(value)).toEqual({
      big: { $dsint: '9223372036854775807' },
      small: { $dsint: '7' },
      double: { $dsdouble: 1 },
      nan: { $dsdouble: { $number: 'NaN' } },
      where: { $geopoint: { latitude: 52.5, longitude: 13.4 } },
    });
    const back = (await roundTrip(value)) as typeof value;
    expect(Datastore.isInt(back.big)).toBe(true);
    expect(back.big.value).toBe('9223372036854775807');
    expect(back.small.value).toBe('7');
    expect(Datastore.isDouble(back.double)).toBe(true);
    expect(back.double.value).toBe(1);
    expect(back.nan.value).toBeNaN();
    expect(Datastore.isGeoPoint(back.where)).toBe(true);
    expect(back.where.value).toEqual({ latitude: 52.5, longitude: 13.4 });
  });

  it('accepts Key objects from another copy of the library (duck-typed) and rebuilds our Key', async () => {
    class Key {
      namespace = undefined;
      kind = 'User';
      name = 'alice';
      id = undefined;
      parent = undefined;
      path = ['User', 'alice'];
    }
    const back = await roundTrip(new Key());
    expect(back).toBeInstanceOf(datastore.Key);
    expect((back as InstanceType<typeof datastore.Key>).path).toEqual(['User', 'alice']);
  });

  it("rebuilds keys, entity keys and wrappers with the decoding app's own client, not a copy of the package", async () => {
    class AppKey extends Key {}
    const app = new Datastore({ projectId: 'codec-test' });
    const makeKey = app.key.bind(app);
    app.key = ((options: never) => Object.setPrototypeOf(makeKey(options), AppKey.prototype)) as typeof app.key;
    const key = ds.key({ namespace: 'tenant', path: ['Org', 'acme', 'User', Datastore.int('9223372036854775807')] });
    const encoded = JSON.parse(JSON.stringify(encodeValue({ key, entity: { [ds.KEY]: key } }, { datastore: ds })));
    const back = (await decodeValue(encoded, { datastore: app })) as { key: unknown; entity: Record<symbol, unknown> };
    expect(back.key).toBeInstanceOf(AppKey);
    expect(back.entity[app.KEY]).toBeInstanceOf(AppKey);
    expect((back.key as InstanceType<typeof Key>).namespace).toBe('tenant');
    expect((back.key as InstanceType<typeof Key>).id).toBe('9223372036854775807');
  });

  it("refuses to decode a Datastore value without the app's client, saying to pass it", async () => {
    for (const input of [{ $key: ['User', 'a'] }, { $dsint: '1' }, { a: { $entitykey: { $key: ['User', 'a'] } } }]) {
      const error = await badEnvelope(decodeValue(input));
      expect(error.message).toMatch(/needs the app's Datastore client: pass \{ datastore \} to decodeValue/);
    }
  });

  it('recognises keys and wrappers without a client by their shape, and an entity key by its KEY symbol', () => {
    const key = ds.key(['User', 'alice']);
    expect(encodeValue({ key, n: Datastore.int('5'), g: Datastore.geoPoint({ latitude: 1, longitude: 2 }) })).toEqual({
      key: { $key: ['User', 'alice'] },
      n: { $dsint: '5' },
      g: { $geopoint: { latitude: 1, longitude: 2 } },
    });
    expect(encodeValue({ [Symbol('KEY')]: key, a: 1 })).toEqual({ a: 1, $entitykey: { $key: ['User', 'alice'] } });
  });
});

describe('encodeValue: what cannot travel', () => {
  it.each([
    [
      'a named function',
      { user: { callback: function notify() {} } },
      'value.user.callback',
      /function \(notify\).*deferred\.task\(name, fn\).*deferred\.closure\('name', \(env, \.\.\.args\) => \.\.\.\)\.bind\(env\)/,
    ],
    ['an arrow function in an array', [1, () => 1], 'value[1]', /function.*\.bind\(env\)/],
    ['a symbol', { s: Symbol('tag') }, 'value.s', /symbol \(tag\).*string/],
    ['a Promise', { p: Promise.resolve(1) }, 'value.p', /Promise.*Await it/],
    ['a WeakMap', { w: new WeakMap() }, 'value.w', /WeakMap.*Map/],
    ['a WeakSet', new Map([['k', new WeakSet()]]), 'value.get("k")', /WeakSet/],
    ['a WeakRef', new Set([new WeakRef({})]), 'value.values()[0]', /WeakRef/],
    ['a Map key', new Map([[Symbol('k'), 1]]), 'value.keys()[0]', /symbol/],
    [
      'an Error',
      { e: new TypeError('x') },
      'value.e',
      /Error \(TypeError\).*message.*createDeferred\(\{ codecs: new CodecRegistry\(\)\.register/,
    ],
    ['a boxed primitive', { n: new Number(1) }, 'value.n', /class Number/],
    [
      'an object with a custom prototype',
      { o: Object.create({ inherited: 1 }) as object },
      'value.o',
      /custom prototype.*\{ \.\.\.value \}/,
    ],
    ['a key needing brackets', { 'my key': [{ 'x-y': () => 1 }] }, 'value["my key"][0]["x-y"]', /function/],
  ])('refuses %s, naming the path and what to do', (_name, value, path, message) => {
    const error = notSerializable(() => encodeValue(value));
    expect(error.code).toBe('NOT_SERIALIZABLE');
    expect(error.path).toBe(path);
    expect(error.message).toContain(`Cannot serialize ${path}:`);
    expect(error.message).toMatch(message);
    expect(error.message).not.toContain('\n');
  });

  it('refuses an unregistered class instance, saying how to register it', () => {
    class Invoice {
      amount = 1;
    }
    const error = notSerializable(() => encodeValue([1, { user: { invoice: new Invoice() } }], { path: 'args' }));
    expect(error.path).toBe('args[1].user.invoice');
    expect(error.message).toMatch(
      /instance of class Invoice.*createDeferred\(\{ codecs: new CodecRegistry\(\)\.register\(\{ name: 'Invoice', type: Invoice/,
    );
    expect(error.message).not.toMatch(/registerClass/);
  });

  it('refuses an object whose getter throws, with the cause', () => {
    const value = {
      ok: 1,
      get broken(): number {
        throw new Error('nope');
      },
    };
    const error = notSerializable(() => encodeValue({ outer: value }));
    expect(error.path).toBe('value.outer.broken');
    expect(error.message).toMatch(/reading it threw nope/);
    expect((error.cause as Error).message).toBe('nope');
  });

  it('refuses a Proxy whose traps throw', () => {
    const proxy = new Proxy(
      {},
      {
        ownKeys() {
          throw new Error('trap');
        },
      },
    );
    expect(notSerializable(() => encodeValue({ p: proxy })).message).toMatch(/threw trap/);
  });

  it('refuses values nested deeper than the limit, at encode time, without a stack overflow', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    const error = notSerializable(() => encodeValue(deep));
    expect(error.message).toMatch(/nested deeper than 64 levels/);
    let ok: unknown = 1;
    for (let i = 0; i < 64; i++) ok = [ok];
    expect(() => encodeValue(ok)).not.toThrow();
    expect(() => encodeValue([ok])).toThrow(NotSerializableError);
    expect(() => encodeValue(ok, { maxDepth: 10 })).toThrow(/deeper than 10 levels/);
  });

  it('counts tagged containers and the shared-array marker against the limit, so what encodes also decodes', async () => {
    const check = async (value: unknown, maxDepth: number) => {
      let encoded: unknown;
      try {
        encoded = encodeValue(value, { maxDepth });
      } catch {
        return 'refused';
      }
      await decodeValue(JSON.parse(JSON.stringify(encoded)), { maxDepth });
      return 'ok';
    };
    const shared = [1];
    for (let depth = 1; depth <= 6; depth++) {
      for (const value of [
        new Map([[1, 2]]),
        new Set([1]),
        undefined,
        NaN,
        1n,
        [shared, shared],
        { a: new Map([[{ b: 1 }, [NaN]]]) },
        [[[[-0]]]],
      ]) {
        await check(value, depth); // throws if encode produced something decode refuses
      }
    }
    expect(await check([[1]], 2)).toBe('ok');
    // outer array 1, inner array 2, shared array 3, its identity marker 4
    expect(await check([[shared, shared]], 3)).toBe('refused');
    expect(await check([[shared, shared]], 4)).toBe('ok');
  });
});

describe('decodeValue: malformed input', () => {
  it.each([
    ['an unknown tag', { $nope: 1 }, /unknown tag "\$nope"/],
    ['an unescaped tag inside an object', { a: 1, $date: 'x' }, /unexpected tag "\$date"/],
    ['a dangling reference', { $ref: 9 }, /unknown id 9/],
    ['a bad id', { a: 1, $id: 'x' }, /invalid id/],
    ['a duplicated id', [{ $id: 1 }, { $id: 1 }], /defined twice/],
    ['a bad number', { $number: 'one' }, /invalid \$number/],
    ['a bad bigint', { $bigint: '1.5' }, /invalid \$bigint/],
    ['a bad date', { $date: 5 }, /invalid \$date/],
    ['a bad map', { $map: [[1]] }, /\$map needs/],
    ['a bad set', { $set: 1 }, /\$set needs/],
    ['an unknown typed array', { $typed: 'Array', data: '' }, /unknown typed array/],
    ['misaligned typed array bytes', { $typed: 'Float64Array', data: 'AAA=' }, /invalid Float64Array bytes/],
    ['a bad buffer', { $buffer: 1 }, /invalid \$buffer/],
    ['a bad regexp', { $regexp: '(', flags: '' }, /invalid \$regexp/],
    ['a bad key', { $key: ['User', 'a', 'Pet', { id: 'x' }] }, /invalid Datastore \$key/],
    ['a function', { a: () => 1 }, /function is not valid/],
    ['a bad datastore int', { $dsint: 1.5 }, /invalid \$dsint/],
    ['a bad datastore double', { $dsdouble: 'x' }, /invalid \$dsdouble/],
    ['a bad geopoint', { $geopoint: { latitude: 1 } }, /invalid \$geopoint/],
    [
      'a reference into a class being rebuilt',
      { $class: 'Money', data: { $ref: 1 }, $id: 1 },
      /class instance being rebuilt/,
    ],
  ])('refuses %s with BadEnvelopeError', async (_name, input, message) => {
    const error = await badEnvelope(
      decodeValue(input, { registry: registry(moneyCodec as ClassCodec), datastore: ds }),
    );
    expect(error.code).toBe('BAD_ENVELOPE');
    expect(error.message).toMatch(message);
  });

  it.each([
    [{ a: [1, { b: { $nope: 1 } }] }, 'value.a[1].b'],
    [[{ $arrayid: 1 }, 1, { $nope: 1 }], 'value[1]'],
    [{ 'odd key': { $map: [[1, { $nope: 1 }]] } }, 'value["odd key"].values()[0]'],
    [{ $map: [[{ $nope: 1 }, 1]] }, 'value.keys()[0]'],
    [{ $set: [1, 2, { $nope: 1 }] }, 'value.values()[2]'],
    [{ $class: 'Money', data: { cents: { $nope: 1 } } }, 'value<Money>.cents'],
    [{ $$a: { $entitykey: { $nope: 1 } } }, 'value.$a[datastore.KEY]'],
  ])('names where a malformed value sits: %j at %s', async (input, path) => {
    const error = await badEnvelope(
      decodeValue(input, { registry: registry(moneyCodec as ClassCodec), datastore: ds }),
    );
    expect(error.message).toBe(
      `Malformed payload at ${path}: unknown tag "$nope" (written by a newer cloud-deferred?).`,
    );
  });

  it('names where an instance of an unregistered class sits', async () => {
    const error = await badEnvelope(decodeValue([{ owner: { $class: 'User', data: 'u1' } }], { path: 'args' }));
    expect(error.message).toMatch(
      /^Cannot decode args\[0\]\.owner: it is an instance of class "User", which has no class codec/,
    );
  });

  it('refuses input nested deeper than maxDepth without recursion blowing the stack', async () => {
    let deep: unknown = 1;
    for (let i = 0; i < 200_000; i++) deep = [deep];
    expect((await badEnvelope(decodeValue(deep))).message).toMatch(/nested deeper than 64 levels/);
    let objects: unknown = 1;
    for (let i = 0; i < 100; i++) objects = { a: objects };
    await badEnvelope(decodeValue(objects));
    await expect(decodeValue(objects, { maxDepth: 101 })).resolves.toEqual(objects);
  });
});
