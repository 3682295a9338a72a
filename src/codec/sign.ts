/** Payload signatures: HMAC-SHA256 over the exact payload bytes, verified against the current and retired secrets. */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { Buffer } from 'node:buffer';
import { InvalidArgumentError } from '../errors/invalid-argument.js';

/** The HTTP header (lower-case, as Node exposes it) that carries a payload's signature. */
export const SIGNATURE_HEADER = 'x-deferred-signature';

const PREFIX = 'v1=';
const SIGNATURE = /^v1=[A-Za-z0-9_-]{43}$/;

function usableSecret(secret: unknown): secret is string | Buffer {
  return (typeof secret === 'string' || Buffer.isBuffer(secret)) && secret.length > 0;
}

function mac(bytes: Uint8Array, secret: string | Buffer): Buffer {
  return createHmac('sha256', secret).update(bytes).digest();
}

/** Signs the exact bytes: `"v1=<base64url HMAC-SHA256>"`, sent in the `X-Deferred-Signature` header. */
export function sign(bytes: Buffer, secret: string | Buffer): string {
  if (!usableSecret(secret)) {
    throw new InvalidArgumentError(
      'The signing secret is empty; configure a secret (a long random string) for cloud-deferred.',
    );
  }
  return PREFIX + mac(bytes, secret).toString('base64url');
}

/**
 * True when `signature` is a valid signature of `bytes` under any of `secrets` (put the current secret first, then retired
 * ones, so payloads signed before a key rotation still verify). Compares in constant time; never throws on bad input.
 */
export function verify(bytes: Buffer, signature: string | undefined, secrets: readonly (string | Buffer)[]): boolean {
  try {
    if (typeof signature !== 'string' || !SIGNATURE.test(signature) || !Array.isArray(secrets)) return false;
    if (!(bytes instanceof Uint8Array)) return false;
    const given = Buffer.from(signature.slice(PREFIX.length), 'base64url');
    if (given.length !== 32) return false;
    let ok = false;
    for (const secret of secrets) {
      if (usableSecret(secret) && timingSafeEqual(mac(bytes, secret), given)) ok = true;
    }
    return ok;
  } catch {
    return false;
  }
}
