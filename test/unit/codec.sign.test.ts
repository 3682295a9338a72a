// Unit tests of payload signing: HMAC-SHA256 "v1=" signatures, key rotation, and verify() never throwing on garbage.
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, SIGNATURE_HEADER, encodeEnvelope, sign, verify } from '../../src/index.js';

const payload = encodeEnvelope({ task: 'sendReport', args: ['u1'] });

describe('sign', () => {
  it('is HMAC-SHA256 over the exact bytes, as "v1=<base64url>"', () => {
    const expected = createHmac('sha256', 'secret').update(payload).digest('base64url');
    expect(sign(payload, 'secret')).toBe(`v1=${expected}`);
    expect(sign(payload, Buffer.from('secret'))).toBe(`v1=${expected}`);
    expect(sign(payload, 'secret')).toMatch(/^v1=[A-Za-z0-9_-]{43}$/);
  });

  it('differs per secret and per byte', () => {
    expect(sign(payload, 'a')).not.toBe(sign(payload, 'b'));
    const tampered = Buffer.from(payload);
    tampered[tampered.length - 2] = tampered[tampered.length - 2]! ^ 1;
    expect(sign(tampered, 'a')).not.toBe(sign(payload, 'a'));
  });

  it('refuses an empty secret', () => {
    expect(() => sign(payload, '')).toThrow(InvalidArgumentError);
    expect(() => sign(payload, Buffer.alloc(0))).toThrow(/secret is empty/);
  });

  it('names its header in lower case, as Node exposes headers', () => {
    expect(SIGNATURE_HEADER).toBe('x-deferred-signature');
  });
});

describe('verify', () => {
  const signature = sign(payload, 'current');

  it('accepts a signature by the current secret', () => {
    expect(verify(payload, signature, ['current'])).toBe(true);
    expect(verify(payload, signature, [Buffer.from('current')])).toBe(true);
  });

  it('accepts signatures by retired secrets during key rotation', () => {
    const old = sign(payload, 'retired');
    expect(verify(payload, old, ['current', 'retired'])).toBe(true);
    expect(verify(payload, signature, ['current', 'retired'])).toBe(true);
    expect(verify(payload, old, ['current'])).toBe(false);
  });

  it('refuses tampered bytes, a wrong secret and a tampered signature', () => {
    const tampered = Buffer.from(payload.toString().replace('u1', 'u2'));
    expect(verify(tampered, signature, ['current'])).toBe(false);
    expect(verify(payload, signature, ['other'])).toBe(false);
    const flipped = signature.slice(0, 10) + (signature[10] === 'A' ? 'B' : 'A') + signature.slice(11);
    expect(verify(payload, flipped, ['current'])).toBe(false);
    expect(verify(Buffer.concat([payload, Buffer.from(' ')]), signature, ['current'])).toBe(false);
  });

  it.each([
    ['undefined', undefined],
    ['empty', ''],
    ['no prefix', signature.slice(3)],
    ['another version', 'v2=' + signature.slice(3)],
    ['a truncated MAC', signature.slice(0, -1)],
    ['an extended MAC', signature + 'A'],
    ['standard base64', 'v1=' + Buffer.from(signature.slice(3), 'base64url').toString('base64')],
    ['whitespace', ` ${signature}`],
    ['two signatures', `${signature},${signature}`],
    ['a number', 42 as unknown as string],
    ['an object', { toString: () => signature } as unknown as string],
  ])('returns false, never throws, for a signature that is %s', (_name, garbage) => {
    expect(verify(payload, garbage, ['current'])).toBe(false);
  });

  it('returns false, never throws, for bad secrets or bytes', () => {
    expect(verify(payload, signature, [])).toBe(false);
    expect(verify(payload, signature, [''])).toBe(false);
    expect(verify(payload, signature, ['', 'current'])).toBe(true);
    expect(verify(payload, signature, [null as unknown as string, 'current'])).toBe(true);
    expect(verify(payload, signature, undefined as unknown as string[])).toBe(false);
    expect(verify('text' as unknown as Buffer, signature, ['current'])).toBe(false);
  });
});
