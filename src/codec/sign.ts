/** Payload signatures: HMAC-SHA256 over what a body is for and its exact bytes, verified against the current and retired secrets. */
import { createHmac, createSecretKey, timingSafeEqual, type Hmac, type KeyObject } from 'node:crypto';
import { Buffer } from 'node:buffer';
import { InvalidArgumentError } from '../errors/invalid-argument.js';

/** The HTTP header (lower-case, as Node exposes it) that carries a payload's signature. */
export const SIGNATURE_HEADER = 'x-deferred-signature';

/**
 * What a signed body is for: `'task'`, a task delivery (`<basePath>/tasks/<name>`), or `'sweep'`, a request to the
 * sweep route (`<basePath>/sweep`). The purpose is signed with the body, so a body signed for one route does not
 * verify on the other (a captured task body cannot start a sweep).
 */
export type SignaturePurpose = 'task' | 'sweep';

/** Options of {@link verify}. */
export interface VerifyOptions {
  /**
   * Also accept `v1=` signatures, which cloud-deferred 0.1 wrote over the body alone, bound to no purpose. Only for a
   * rotation window after upgrading (see `legacySignatures` in the runtime's configuration).
   * @default false
   */
  readonly acceptLegacy?: boolean;
}

/** What a signature turned out to be: valid for the purpose asked, a v1 one, valid for the other purpose, or none. */
export type SignatureCheck = 'valid' | 'legacy' | 'other-purpose' | 'invalid';

const V1 = 'v1=';
const V2 = 'v2=';
const SIGNATURE = /^v[12]=[A-Za-z0-9_-]{43}$/;
const PURPOSES: readonly SignaturePurpose[] = ['task', 'sweep'];

function usableSecret(secret: unknown): secret is string | Buffer {
  return (typeof secret === 'string' || Buffer.isBuffer(secret)) && secret.length > 0;
}

function checkPurpose(purpose: unknown, call: string): asserts purpose is SignaturePurpose {
  if (!PURPOSES.includes(purpose as SignaturePurpose)) {
    throw new InvalidArgumentError(
      `${call} needs what the body is for as its purpose: 'task' (a task delivery) or 'sweep' (a sweep request), got ${JSON.stringify(purpose)}.`,
    );
  }
}

/** What each purpose's MAC starts with. */
const PREFIX: Readonly<Record<SignaturePurpose, string>> = {
  task: 'cloud-deferred task\n',
  sweep: 'cloud-deferred sweep\n',
};

/** The key object of the last string secret used: createHmac derives one from a string on every call otherwise. */
let lastSecret: { readonly text: string; readonly key: KeyObject } | null = null;

/** `secret` as createHmac's key; a string one (immutable, unlike a Buffer) through {@link lastSecret}. */
function hmacKey(secret: string | Buffer): KeyObject | Buffer {
  if (typeof secret !== 'string') return secret;
  if (lastSecret?.text !== secret) lastSecret = { text: secret, key: createSecretKey(Buffer.from(secret, 'utf8')) };
  return lastSecret.key;
}

/** The HMAC of a v2 signature, not yet digested: the purpose, a newline, then the exact bytes. */
function hmacOf(bytes: Uint8Array, secret: string | Buffer, purpose: SignaturePurpose | null): Hmac {
  const hmac = createHmac('sha256', hmacKey(secret));
  if (purpose !== null) hmac.update(PREFIX[purpose]);
  return hmac.update(bytes);
}

/** The MAC of a v2 signature: the purpose, a newline, then the exact bytes. */
function mac(bytes: Uint8Array, secret: string | Buffer, purpose: SignaturePurpose | null): Buffer {
  return hmacOf(bytes, secret, purpose).digest();
}

/**
 * Signs the exact bytes for a purpose: `"v2=<base64url HMAC-SHA256 of 'cloud-deferred <purpose>\n' + bytes>"`, sent in
 * the `X-Deferred-Signature` header.
 *
 * @example
 * const body = Buffer.from('{}');
 * await fetch(`${workerUrl}/_deferred/sweep`, { method: 'POST', body, headers: { 'X-Deferred-Signature': sign(body, secret, 'sweep') } });
 */
export function sign(bytes: Buffer, secret: string | Buffer, purpose: SignaturePurpose): string {
  if (!usableSecret(secret)) {
    throw new InvalidArgumentError(
      'The signing secret is empty; configure a secret (a long random string) for cloud-deferred.',
    );
  }
  checkPurpose(purpose, 'sign(bytes, secret, purpose)');
  return V2 + hmacOf(bytes, secret, purpose).digest('base64url');
}

/** True when `given` is the MAC of `bytes` under one of `secrets` (constant time per secret). */
function matches(bytes: Uint8Array, given: Buffer, secrets: readonly unknown[], purpose: SignaturePurpose | null) {
  let ok = false;
  for (const secret of secrets) {
    if (usableSecret(secret) && timingSafeEqual(mac(bytes, secret, purpose), given)) ok = true;
  }
  return ok;
}

/**
 * Classifies a signature of `bytes` for `purpose` (pure, never throws): `valid`, `legacy` (a valid v1 signature, bound
 * to no purpose), `other-purpose` (a valid v2 signature for the other purpose) or `invalid`. The other purpose is only
 * tried when the asked one fails, so a valid request costs one MAC per secret.
 */
export function checkSignature(
  bytes: Buffer,
  signature: string | undefined,
  secrets: readonly (string | Buffer)[],
  purpose: SignaturePurpose,
): SignatureCheck {
  try {
    if (typeof signature !== 'string' || !SIGNATURE.test(signature) || !Array.isArray(secrets)) return 'invalid';
    if (!(bytes instanceof Uint8Array) || !PURPOSES.includes(purpose)) return 'invalid';
    const given = Buffer.from(signature.slice(V2.length), 'base64url');
    if (given.length !== 32) return 'invalid';
    if (signature.startsWith(V1)) return matches(bytes, given, secrets, null) ? 'legacy' : 'invalid';
    if (matches(bytes, given, secrets, purpose)) return 'valid';
    const other = purpose === 'task' ? 'sweep' : 'task';
    return matches(bytes, given, secrets, other) ? 'other-purpose' : 'invalid';
  } catch {
    return 'invalid';
  }
}

/**
 * True when `signature` is a valid signature of `bytes` for `purpose` under any of `secrets` (put the current secret
 * first, then retired ones, so payloads signed before a key rotation still verify). Compares in constant time; never
 * throws on bad input. A signature for the other purpose is refused; a v1 one only with `acceptLegacy`.
 */
export function verify(
  bytes: Buffer,
  signature: string | undefined,
  secrets: readonly (string | Buffer)[],
  purpose: SignaturePurpose,
  options: VerifyOptions = {},
): boolean {
  const check = checkSignature(bytes, signature, secrets, purpose);
  return check === 'valid' || (check === 'legacy' && options.acceptLegacy === true);
}
