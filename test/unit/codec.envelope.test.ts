// Unit tests of the v1 envelope: encodeEnvelope writes readable JSON, parseEnvelope validates it, decodeEnvelopeArgs rebuilds the call.
import { describe, expect, it } from 'vitest';
import {
  BadEnvelopeError,
  CodecRegistry,
  InvalidArgumentError,
  NotSerializableError,
  decodeEnvelopeArgs,
  encodeEnvelope,
  parseEnvelope,
  type ClassCodec,
} from '../../src/index.js';

function parseError(bytes: Buffer | string, maxDepth?: number): BadEnvelopeError {
  try {
    parseEnvelope(typeof bytes === 'string' ? Buffer.from(bytes) : bytes, maxDepth === undefined ? {} : { maxDepth });
  } catch (error) {
    expect(error).toBeInstanceOf(BadEnvelopeError);
    expect((error as BadEnvelopeError).code).toBe('BAD_ENVELOPE');
    return error as BadEnvelopeError;
  }
  throw new Error('expected BadEnvelopeError');
}

describe('encodeEnvelope', () => {
  it('writes the readable v1 envelope as UTF-8 JSON bytes', () => {
    const bytes = encodeEnvelope({
      task: 'sendReport',
      args: ['u1', new Date('2026-01-02T03:04:05.000Z'), 'ü'],
      meta: { chain: 'parent-1' },
    });
    expect(Buffer.isBuffer(bytes)).toBe(true);
    expect(bytes.toString('utf8')).toBe(
      '{"v":1,"task":"sendReport","args":["u1",{"$date":"2026-01-02T03:04:05.000Z"},"ü"],"meta":{"chain":"parent-1"}}',
    );
  });

  it("writes the README's example envelope", () => {
    const bytes = encodeEnvelope({
      task: 'sendReport',
      args: ['u1', new Date('2026-01-02T03:04:05.000Z'), { limit: 9007199254740993n }],
      bound: { region: 'eu' },
    });
    expect(JSON.parse(bytes.toString())).toEqual({
      v: 1,
      task: 'sendReport',
      args: ['u1', { $date: '2026-01-02T03:04:05.000Z' }, { limit: { $bigint: '9007199254740993' } }],
      bound: { region: 'eu' },
    });
  });

  it('writes bound and ref only when given', () => {
    const bytes = encodeEnvelope({
      task: 't',
      args: [],
      bound: { rate: 1n },
      ref: { namespace: 'ns', path: ['_DeferredTask', 12] },
    });
    expect(JSON.parse(bytes.toString())).toEqual({
      v: 1,
      task: 't',
      args: [],
      bound: { rate: { $bigint: '1' } },
      ref: { namespace: 'ns', path: ['_DeferredTask', 12] },
    });
  });

  it('names the argument path of anything that cannot travel', () => {
    const attempt = (input: Parameters<typeof encodeEnvelope>[0]) => {
      try {
        encodeEnvelope(input);
      } catch (error) {
        expect(error).toBeInstanceOf(NotSerializableError);
        return (error as NotSerializableError).path;
      }
      return undefined;
    };
    expect(attempt({ task: 't', args: ['a', { user: { callback: () => 1 } }] })).toBe('args[1].user.callback');
    expect(attempt({ task: 't', args: [], bound: { db: new (class Pool {})() } })).toBe('bound.db');
  });

  it('rejects a malformed call with InvalidArgumentError', () => {
    expect(() => encodeEnvelope({ task: '', args: [] })).toThrow(InvalidArgumentError);
    expect(() => encodeEnvelope({ task: 't', args: 'x' as unknown as unknown[] })).toThrow(InvalidArgumentError);
    expect(() => encodeEnvelope({ task: 't', args: [], meta: [] as unknown as Record<string, unknown> })).toThrow(
      InvalidArgumentError,
    );
    expect(() => encodeEnvelope({ task: 't', args: [], ref: { path: [] } })).toThrow(InvalidArgumentError);
  });

  it('encodes no arguments as an empty array, and refuses them where even that is too deep', () => {
    const ref = { path: ['_DeferredTask', 'e1'] };
    const bytes = encodeEnvelope({ task: 't', args: [], meta: { maxAttempts: 2 }, ref });
    expect(JSON.parse(bytes.toString('utf8'))).toEqual({ v: 1, task: 't', args: [], meta: { maxAttempts: 2 }, ref });
    expect(parseEnvelope(encodeEnvelope({ task: 't', args: [] }, { maxDepth: 2 }), { maxDepth: 2 }).args).toEqual([]);
    expect(() => encodeEnvelope({ task: 't', args: [] }, { maxDepth: 1 })).toThrow(/args: it is nested deeper/);
  });

  it('never writes an envelope that parseEnvelope would refuse as too deep', () => {
    for (const maxDepth of [3, 10, 64]) {
      let value: unknown = 1;
      for (let depth = 0; depth < maxDepth + 2; depth++) {
        value = [value, new Map([[1, new Set([value])]])];
        let bytes: Buffer;
        try {
          bytes = encodeEnvelope({ task: 't', args: [value], bound: value }, { maxDepth });
        } catch (error) {
          expect(error).toBeInstanceOf(NotSerializableError);
          continue;
        }
        expect(() => parseEnvelope(bytes, { maxDepth })).not.toThrow();
      }
    }
  });
});

describe('parseEnvelope', () => {
  it('returns the envelope without decoding values', () => {
    const envelope = parseEnvelope(encodeEnvelope({ task: 'sendReport', args: [new Date(0)], bound: 1 }));
    expect(envelope).toEqual({ v: 1, task: 'sendReport', args: [{ $date: '1970-01-01T00:00:00.000Z' }], bound: 1 });
  });

  it('accepts a Buffer slice of a larger buffer', () => {
    const inner = encodeEnvelope({ task: 'x', args: [1] });
    const outer = Buffer.concat([Buffer.from('garbage{'), inner, Buffer.from('}garbage')]);
    const slice = outer.subarray(8, 8 + inner.length);
    expect(parseEnvelope(slice).task).toBe('x');
  });

  it.each([
    ['empty bytes', '', /not valid JSON/],
    ['truncated JSON', '{"v":1,"task":"t","args":[', /not valid JSON/],
    ['plain text', 'hello', /not valid JSON/],
    ['a JSON array', '[1]', /JSON object envelope/],
    ['JSON null', 'null', /JSON object envelope/],
    ['no version', '{"task":"t","args":[]}', /no envelope version/],
    ['a newer version', '{"v":2,"task":"t","args":[]}', /Unsupported payload version 2: this worker reads version 1/],
    ['a string version', '{"v":"1","task":"t","args":[]}', /Unsupported payload version "1"/],
    ['no task', '{"v":1,"args":[]}', /"task" must be a non-empty string/],
    ['an empty task', '{"v":1,"task":"","args":[]}', /"task"/],
    ['args not an array', '{"v":1,"task":"t","args":{}}', /"args" must be an array/],
    ['missing args', '{"v":1,"task":"t"}', /"args" must be an array/],
    ['meta not an object', '{"v":1,"task":"t","args":[],"meta":[1]}', /"meta" must be an object/],
    ['ref without a path', '{"v":1,"task":"t","args":[],"ref":{"namespace":"x"}}', /"ref" must be/],
    ['ref with a bad path element', '{"v":1,"task":"t","args":[],"ref":{"path":["K",{}]}}', /"ref" must be/],
  ])('refuses %s', (_name, text, message) => {
    expect(parseError(text).message).toMatch(message);
  });

  it('refuses non-bytes', () => {
    expect(parseError('x').message).toMatch(/not valid JSON/);
    expect(() => parseEnvelope('{"v":1}' as unknown as Buffer)).toThrow(BadEnvelopeError);
  });

  it('refuses a million nested brackets quickly and without a stack overflow', () => {
    const deep = '{"v":1,"task":"t","args":[' + '['.repeat(1_000_000) + ']'.repeat(1_000_000) + ']}';
    expect(parseError(deep).message).toBe('Malformed payload: payload nested deeper than 64 levels.');
    expect(parseError('['.repeat(1_000_000)).message).toMatch(/deeper than 64/);
    expect(parseError('{"a":'.repeat(1_000_000)).message).toMatch(/deeper than 64/);
  });

  it('counts depth exactly, ignoring brackets and escaped quotes inside strings', () => {
    const nest = (n: number) => '['.repeat(n) + ']'.repeat(n);
    const envelope = (inner: string) => `{"v":1,"task":"t","args":${inner}}`;
    expect(() => parseEnvelope(Buffer.from(envelope(nest(63))))).not.toThrow(); // 1 + 63 = 64
    expect(parseError(envelope(nest(64))).message).toMatch(/deeper than 64/);
    expect(() => parseEnvelope(Buffer.from(envelope(nest(4))), { maxDepth: 5 })).not.toThrow();
    expect(parseError(envelope(nest(5)), 5).message).toMatch(/deeper than 5/);
    const tricky = envelope(`["[[[[[[\\"[[[[", "\\\\", "{{{{\\\\\\"{{{"]`);
    expect(parseEnvelope(Buffer.from(tricky), { maxDepth: 2 }).args).toEqual(['[[[[[["[[[[', '\\', '{{{{\\"{{{']);
  });
});

describe('parseEnvelope depth scan (fuzzed)', () => {
  /** Depth of a parsed JSON value, the root container counting as 1. */
  function depthOf(value: unknown): number {
    if (value === null || typeof value !== 'object') return 0;
    const children = Array.isArray(value) ? value : Object.values(value);
    return 1 + Math.max(0, ...children.map(depthOf));
  }
  let seed = 42;
  const random = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  const alphabet = ['[', ']', '{', '}', '"', '\\', 'a', 'ü', '\n', ':', ','];
  const randomString = () => {
    const length = [0, 1, 5, 31, 32, 33, 100, 5000][random(8)]!;
    let s = '';
    for (let i = 0; i < length; i++) s += alphabet[random(alphabet.length)];
    return s;
  };
  const randomValue = (depth: number): unknown => {
    const kind = depth > 8 ? random(3) : random(6);
    if (kind === 0) return randomString();
    if (kind === 1) return random(1000);
    if (kind === 2) return null;
    if (kind === 3) return Array.from({ length: random(4) }, () => randomValue(depth + 1));
    return Object.fromEntries(Array.from({ length: random(4) }, () => [randomString(), randomValue(depth + 1)]));
  };

  it('agrees with the real nesting depth for strings of any length full of quotes, backslashes and brackets', () => {
    for (let i = 0; i < 300; i++) {
      const args = [randomValue(0)];
      const text = JSON.stringify({ v: 1, task: 't', args });
      const depth = depthOf(JSON.parse(text));
      expect(() => parseEnvelope(Buffer.from(text), { maxDepth: depth })).not.toThrow();
      expect(() => parseEnvelope(Buffer.from(text), { maxDepth: depth - 1 })).toThrow(/deeper than/);
    }
  });
});

describe('decodeEnvelopeArgs', () => {
  class Point {
    constructor(
      readonly x: number,
      readonly y: number,
    ) {}
  }
  const registry = new CodecRegistry().register({
    name: 'Point',
    type: Point,
    encode: (p: Point) => [p.x, p.y],
    decode: async (data: unknown) => new Point(...(data as [number, number])),
  } as ClassCodec);

  it('rebuilds the arguments and the bound environment', async () => {
    const since = new Date('2026-01-01T00:00:00Z');
    const args = ['u1', since, new Map([['p', new Point(1, 2)]]), undefined];
    const bytes = encodeEnvelope({ task: 'sendReport', args, bound: { origin: new Point(0, 0) } }, { registry });
    const decoded = await decodeEnvelopeArgs(parseEnvelope(bytes), { registry });
    expect(decoded.args).toEqual(args);
    expect((decoded.args[2] as Map<string, Point>).get('p')).toBeInstanceOf(Point);
    expect(decoded.args).toHaveLength(4);
    expect(decoded.bound).toEqual({ origin: new Point(0, 0) });
  });

  it('gives bound undefined when none was bound', async () => {
    const decoded = await decodeEnvelopeArgs(parseEnvelope(encodeEnvelope({ task: 't', args: [] })));
    expect(decoded).toEqual({ args: [], bound: undefined });
  });

  it('refuses args that do not decode to an array', async () => {
    await expect(decodeEnvelopeArgs({ v: 1, task: 't', args: { $set: [] } })).rejects.toThrow(
      /"args" must decode to an array/,
    );
    await expect(decodeEnvelopeArgs({ v: 1, task: 't', args: [{ $nope: 1 }] })).rejects.toThrow(BadEnvelopeError);
    await expect(decodeEnvelopeArgs({ v: 1, task: 't', args: [1, { a: { $nope: 1 } }] })).rejects.toThrow(
      /^Malformed payload at args\[1\]\.a: unknown tag/,
    );
    await expect(decodeEnvelopeArgs({ v: 1, task: 't', args: [], bound: { a: { $nope: 1 } } })).rejects.toThrow(
      /^Malformed payload at bound\.a: unknown tag/,
    );
  });
});
