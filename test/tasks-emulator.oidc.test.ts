// OIDC tokens of the Cloud Tasks emulator: signed RS256 JWTs with Google's claims, verified against the served keys.
import { createPublicKey, verify, type JsonWebKey } from 'node:crypto';
import type { CloudTasksClient } from '@google-cloud/tasks';
import { googleAuthLibrary } from 'google-gax';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTasksEmulator, type RunningTasksEmulator } from '../src/tasks-emulator/index.js';
import { startReceiver, type Receiver } from './support/tasks-emulator.js';

const LOCATION = 'projects/oidc-project/locations/us-central1';
const QUEUE = `${LOCATION}/queues/oidc`;
const EMAIL = 'invoker@oidc-project.iam.gserviceaccount.com';

interface Jwks {
  keys: Array<JsonWebKey & { kid: string; alg: string; use: string }>;
}

/** Verifies a compact RS256 JWT against a JWKS with Node's crypto; returns the claims or throws. */
function verifyWithJwks(token: string, jwks: Jwks): Record<string, unknown> {
  const [headerB64, payloadB64, signatureB64] = token.split('.') as [string, string, string];
  const header = JSON.parse(Buffer.from(headerB64, 'base64url').toString()) as { alg: string; kid: string };
  if (header.alg !== 'RS256') throw new Error(`alg ${header.alg}`);
  const jwk = jwks.keys.find((k) => k.kid === header.kid);
  if (!jwk) throw new Error(`no key ${header.kid}`);
  const key = createPublicKey({ key: jwk, format: 'jwk' });
  const ok = verify('sha256', Buffer.from(`${headerB64}.${payloadB64}`), key, Buffer.from(signatureB64, 'base64url'));
  if (!ok) throw new Error('bad signature');
  return JSON.parse(Buffer.from(payloadB64, 'base64url').toString()) as Record<string, unknown>;
}

describe('Cloud Tasks emulator OIDC tokens', () => {
  let emulator: RunningTasksEmulator;
  let client: CloudTasksClient;
  let receiver: Receiver;

  beforeAll(async () => {
    emulator = await startTasksEmulator();
    client = emulator.createClient();
    receiver = await startReceiver(() => 200);
    await client.createQueue({ parent: LOCATION, queue: { name: QUEUE } });
  });
  afterAll(async () => {
    await client.close();
    await emulator.stop();
    await receiver.close();
  });

  /** Creates a task, waits for its delivery and returns the request's Authorization header. */
  async function deliver(httpRequest: Record<string, unknown>): Promise<string | undefined> {
    const before = receiver.requests.length;
    await client.createTask({
      parent: QUEUE,
      task: { httpRequest: { url: `${receiver.url}/secure`, ...httpRequest } },
    });
    await receiver.waitFor(before + 1);
    return receiver.requests[before]!.headers.authorization;
  }

  it('sends an RS256 ID token with Google-style claims that verifies against the served JWKS', async () => {
    const authorization = await deliver({ oidcToken: { serviceAccountEmail: EMAIL, audience: 'https://my-service' } });
    expect(authorization).toMatch(/^Bearer [\w-]+\.[\w-]+\.[\w-]+$/);
    const token = authorization!.slice('Bearer '.length);
    const jwks = (await (await fetch(emulator.oidc.jwksUri)).json()) as Jwks;
    expect(jwks.keys[0]).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'sig' });
    const claims = verifyWithJwks(token, jwks);
    const now = Math.floor(Date.now() / 1000);
    expect(claims).toMatchObject({
      iss: emulator.oidc.issuer,
      aud: 'https://my-service',
      email: EMAIL,
      email_verified: true,
    });
    expect(claims.sub).toMatch(/^\d{21}$/);
    expect(claims.azp).toBe(claims.sub);
    expect(Math.abs((claims.iat as number) - now)).toBeLessThan(60);
    expect(claims.exp).toBe((claims.iat as number) + 3600);

    const tampered = token.replace(/\.([\w-]+)\./, (_m, p: string) => {
      const payload = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
      return `.${Buffer.from(JSON.stringify({ ...payload, email: 'attacker@evil.example' })).toString('base64url')}.`;
    });
    expect(() => verifyWithJwks(tampered, jwks)).toThrow('bad signature');
  });

  it("verifies with google-auth-library's OAuth2Client against the served PEM keys", async () => {
    const authorization = await deliver({ oidcToken: { serviceAccountEmail: EMAIL, audience: 'https://aud.example' } });
    const token = authorization!.slice('Bearer '.length);
    const certs = (await (await fetch(emulator.oidc.pemCertsUri)).json()) as Record<string, string>;
    const oauth = new googleAuthLibrary.OAuth2Client();
    const ticket = await oauth.verifySignedJwtWithCertsAsync(token, certs, 'https://aud.example', [
      emulator.oidc.issuer,
    ]);
    expect(ticket.getPayload()).toMatchObject({ email: EMAIL, aud: 'https://aud.example' });
    await expect(
      oauth.verifySignedJwtWithCertsAsync(token, certs, 'https://other-audience', [emulator.oidc.issuer]),
    ).rejects.toThrow(/audience/i);
  });

  it('serves an OpenID discovery document at the issuer', async () => {
    const config = (await (await fetch(`${emulator.oidc.issuer}/.well-known/openid-configuration`)).json()) as Record<
      string,
      unknown
    >;
    expect(config).toMatchObject({
      issuer: emulator.oidc.issuer,
      jwks_uri: emulator.oidc.jwksUri,
      id_token_signing_alg_values_supported: ['RS256'],
    });
  });

  it('uses the target URL as audience when none is given, and overrides an Authorization header', async () => {
    const authorization = await deliver({
      headers: { Authorization: 'Bearer forged' },
      oidcToken: { serviceAccountEmail: EMAIL },
    });
    const jwks = (await (await fetch(emulator.oidc.jwksUri)).json()) as Jwks;
    const claims = verifyWithJwks(authorization!.slice('Bearer '.length), jwks);
    expect(claims.aud).toBe(`${receiver.url}/secure`);
  });

  it('sends an OAuth bearer token for oauthToken, and no Authorization header without a token', async () => {
    expect(await deliver({ oauthToken: { serviceAccountEmail: EMAIL } })).toMatch(/^Bearer \S+/);
    expect(await deliver({})).toBeUndefined();
  });
});
