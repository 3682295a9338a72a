// Unit tests of payload signing: HMAC-SHA256 "v2=" signatures bound to a purpose, key rotation, v1 signatures of 0.1, and verify() never throwing on garbage.
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { checkSignature } from '../../src/codec/index.js';
import { InvalidArgumentError, SIGNATURE_HEADER, encodeEnvelope, sign, verify } from '../../src/index.js';

const payload = encodeEnvelope({ task: 'sendReport', args: ['u1'] });
const v2 = (purpose: string, secret = 'secret') =>
  createHmac('sha256', secret).update(`cloud-deferred ${purpose}\n`).update(payload).digest('base64url');
/** What cloud-deferred 0.1 wrote: the body alone. */
const v1 = (secret: string) => `v1=${createHmac('sha256', secret).update(payload).digest('base64url')}`;

describe('sign', () => {
  it('is HMAC-SHA256 over the purpose and the exact bytes, as "v2=<base64url>"', () => {
    expect(sign(payload, 'secret', 'task')).toBe(`v2=${v2('task')}`);
    expect(sign(payload, Buffer.from('secret'), 'task')).toBe(`v2=${v2('task')}`);
    expect(sign(payload, 'secret', 'sweep')).toBe(`v2=${v2('sweep')}`);
    expect(sign(payload, 'secret', 'task')).toMatch(/^v2=[A-Za-z0-9_-]{43}$/);
  });

  it('signs with the secret of each call, switching back and forth (and non-ASCII secrets as UTF-8)', () => {
    for (const secret of ['secret', 'other', 'secret', 'sécret-ünïcode', 'other']) {
      expect(sign(payload, secret, 'task')).toBe(`v2=${v2('task', secret)}`);
      expect(verify(payload, `v2=${v2('task', secret)}`, [secret], 'task')).toBe(true);
      expect(verify(payload, sign(payload, secret, 'task'), ['secret-x', 'secret-y'], 'task')).toBe(false);
    }
  });

  it('differs per secret, per purpose and per byte', () => {
    expect(sign(payload, 'a', 'task')).not.toBe(sign(payload, 'b', 'task'));
    expect(sign(payload, 'a', 'task')).not.toBe(sign(payload, 'a', 'sweep'));
    const tampered = Buffer.from(payload);
    tampered[tampered.length - 2] = tampered[tampered.length - 2]! ^ 1;
    expect(sign(tampered, 'a', 'task')).not.toBe(sign(payload, 'a', 'task'));
  });

  it('refuses an empty secret, and a missing or unknown purpose, saying what to pass', () => {
    expect(() => sign(payload, '', 'task')).toThrow(InvalidArgumentError);
    expect(() => sign(payload, Buffer.alloc(0), 'task')).toThrow(/secret is empty/);
    expect(() => (sign as (b: Buffer, s: string) => string)(payload, 'secret')).toThrow(
      /needs what the body is for as its purpose: 'task' \(a task delivery\) or 'sweep'.*got undefined/,
    );
    expect(() => sign(payload, 'secret', 'cron' as never)).toThrow(InvalidArgumentError);
  });

  it('names its header in lower case, as Node exposes headers', () => {
    expect(SIGNATURE_HEADER).toBe('x-deferred-signature');
  });
});

describe('verify', () => {
  const signature = sign(payload, 'current', 'task');

  it('accepts a signature by the current secret, for its purpose only', () => {
    expect(verify(payload, signature, ['current'], 'task')).toBe(true);
    expect(verify(payload, signature, [Buffer.from('current')], 'task')).toBe(true);
    expect(verify(payload, signature, ['current'], 'sweep')).toBe(false);
    expect(verify(payload, sign(payload, 'current', 'sweep'), ['current'], 'task')).toBe(false);
  });

  it('accepts signatures by retired secrets during key rotation', () => {
    const old = sign(payload, 'retired', 'task');
    expect(verify(payload, old, ['current', 'retired'], 'task')).toBe(true);
    expect(verify(payload, signature, ['current', 'retired'], 'task')).toBe(true);
    expect(verify(payload, old, ['current'], 'task')).toBe(false);
  });

  it("accepts 0.1's v1 signatures (bound to no purpose) only when asked to", () => {
    expect(verify(payload, v1('current'), ['current'], 'task')).toBe(false);
    expect(verify(payload, v1('current'), ['current'], 'task', { acceptLegacy: true })).toBe(true);
    expect(verify(payload, v1('other'), ['current'], 'task', { acceptLegacy: true })).toBe(false);
  });

  it('refuses tampered bytes, a wrong secret and a tampered signature', () => {
    const tampered = Buffer.from(payload.toString().replace('u1', 'u2'));
    expect(verify(tampered, signature, ['current'], 'task')).toBe(false);
    expect(verify(payload, signature, ['other'], 'task')).toBe(false);
    const flipped = signature.slice(0, 10) + (signature[10] === 'A' ? 'B' : 'A') + signature.slice(11);
    expect(verify(payload, flipped, ['current'], 'task')).toBe(false);
    expect(verify(Buffer.concat([payload, Buffer.from(' ')]), signature, ['current'], 'task')).toBe(false);
  });

  it.each([
    ['undefined', undefined],
    ['empty', ''],
    ['no prefix', signature.slice(3)],
    ['another version', 'v3=' + signature.slice(3)],
    ['the v2 MAC under the v1 prefix', 'v1=' + signature.slice(3)],
    ['a truncated MAC', signature.slice(0, -1)],
    ['an extended MAC', signature + 'A'],
    ['standard base64', 'v2=' + Buffer.from(signature.slice(3), 'base64url').toString('base64')],
    ['whitespace', ` ${signature}`],
    ['two signatures', `${signature},${signature}`],
    ['a number', 42 as unknown as string],
    ['an object', { toString: () => signature } as unknown as string],
  ])('returns false, never throws, for a signature that is %s', (_name, garbage) => {
    expect(verify(payload, garbage, ['current'], 'task', { acceptLegacy: true })).toBe(false);
  });

  it('returns false, never throws, for bad secrets, bytes or purposes', () => {
    expect(verify(payload, signature, [], 'task')).toBe(false);
    expect(verify(payload, signature, [''], 'task')).toBe(false);
    expect(verify(payload, signature, ['', 'current'], 'task')).toBe(true);
    expect(verify(payload, signature, [null as unknown as string, 'current'], 'task')).toBe(true);
    expect(verify(payload, signature, undefined as unknown as string[], 'task')).toBe(false);
    expect(verify('text' as unknown as Buffer, signature, ['current'], 'task')).toBe(false);
    expect(verify(payload, signature, ['current'], 'cron' as never)).toBe(false);
  });
});

describe('checkSignature', () => {
  it('says what a signature is: valid, for the other purpose, v1, or invalid', () => {
    const secrets = ['current', 'retired'];
    expect(checkSignature(payload, sign(payload, 'retired', 'sweep'), secrets, 'sweep')).toBe('valid');
    expect(checkSignature(payload, sign(payload, 'current', 'task'), secrets, 'sweep')).toBe('other-purpose');
    expect(checkSignature(payload, v1('retired'), secrets, 'sweep')).toBe('legacy');
    expect(checkSignature(payload, v1('stranger'), secrets, 'task')).toBe('invalid');
    expect(checkSignature(payload, sign(payload, 'stranger', 'task'), secrets, 'task')).toBe('invalid');
  });
});
