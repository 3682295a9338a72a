/** The emulator's OpenID provider: signs RS256 OIDC tokens for tasks and serves its JWKS and discovery document over HTTP. */
import { createHash, generateKeyPair, sign, type KeyObject } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';

/** Lifetime of the tokens, as Google's (one hour). */
const TOKEN_LIFETIME_S = 3600;

/** Where verifiers find the emulator's keys. */
export interface OidcEndpoints {
  /** The `iss` claim of every token, and the base of the discovery document `/.well-known/openid-configuration`. */
  readonly issuer: string;
  /** The JSON Web Key Set (like https://www.googleapis.com/oauth2/v3/certs). */
  readonly jwksUri: string;
  /** The same key as `{kid: PEM}` (like https://www.googleapis.com/oauth2/v1/certs), for google-auth-library. */
  readonly pemCertsUri: string;
}

function base64url(data: string | Buffer): string {
  return Buffer.from(data).toString('base64url');
}

/** A stable 21-digit numeric id for a service account email, like the `sub` Google puts in its tokens. */
export function numericIdFor(email: string): string {
  const digest = createHash('sha256').update(email).digest();
  return ('1' + digest.readBigUInt64BE(0).toString() + digest.readBigUInt64BE(8).toString()).slice(0, 21);
}

let signingKey: Promise<{ privateKey: KeyObject; publicKey: KeyObject }> | undefined;

/** Signs tokens with an RSA key and serves the public half; one per emulator. */
export class OidcProvider {
  private server: http.Server | undefined;
  private endpoints: OidcEndpoints | undefined;

  private constructor(
    private readonly privateKey: KeyObject,
    private readonly publicKey: KeyObject,
    private readonly kid: string,
    private readonly issuerOverride: string | undefined,
  ) {}

  /** A provider with the process's signing key (RSA 2048, generated once: it takes a while and tests start many emulators). */
  static async create(issuer?: string): Promise<OidcProvider> {
    signingKey ??= promisify(generateKeyPair)('rsa', { modulusLength: 2048 });
    const { privateKey, publicKey } = await signingKey;
    const jwk = publicKey.export({ format: 'jwk' });
    const kid = createHash('sha256').update(String(jwk.n)).digest('hex').slice(0, 40);
    return new OidcProvider(privateKey, publicKey, kid, issuer);
  }

  /** Starts the HTTP server on host:port (0 = a free port) and returns the endpoints. */
  async listen(host: string, port: number): Promise<OidcEndpoints> {
    const server = http.createServer((req, res) => this.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    this.server = server;
    const address = server.address() as AddressInfo;
    const hostPart = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    const origin = `http://${hostPart}:${address.port}`;
    this.endpoints = {
      issuer: this.issuerOverride ?? origin,
      jwksUri: `${origin}/oauth2/v3/certs`,
      pemCertsUri: `${origin}/oauth2/v1/certs`,
    };
    return this.endpoints;
  }

  /** The public key as a JSON Web Key Set (what `/oauth2/v3/certs` serves), for a verifier that is handed its keys. */
  jwks(): { keys: Record<string, unknown>[] } {
    const jwk = this.publicKey.export({ format: 'jwk' });
    return { keys: [{ kty: jwk.kty, n: jwk.n, e: jwk.e, alg: 'RS256', use: 'sig', kid: this.kid }] };
  }

  /** Closes the HTTP server. */
  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** An RS256 ID token with Google's claims (iss, aud, azp, sub, email, email_verified, iat, exp). */
  sign(claims: { email: string; audience: string }, nowMs: number): string {
    const issuer = this.endpoints?.issuer ?? this.issuerOverride;
    if (!issuer) throw new Error('OidcProvider.sign() before listen(), without an issuer of its own');
    const iat = Math.floor(nowMs / 1000);
    const id = numericIdFor(claims.email);
    const header = { alg: 'RS256', kid: this.kid, typ: 'JWT' };
    const payload = {
      aud: claims.audience,
      azp: id,
      email: claims.email,
      email_verified: true,
      exp: iat + TOKEN_LIFETIME_S,
      iat,
      iss: issuer,
      sub: id,
    };
    const input = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(payload))}`;
    return `${input}.${base64url(sign('sha256', Buffer.from(input), this.privateKey))}`;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const endpoints = this.endpoints!;
    let body: unknown;
    if (path === '/.well-known/openid-configuration') {
      body = {
        issuer: endpoints.issuer,
        jwks_uri: endpoints.jwksUri,
        response_types_supported: ['id_token'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['RS256'],
        claims_supported: ['aud', 'azp', 'email', 'email_verified', 'exp', 'iat', 'iss', 'sub'],
      };
    } else if (path === '/oauth2/v3/certs') {
      body = this.jwks();
    } else if (path === '/oauth2/v1/certs') {
      body = { [this.kid]: this.publicKey.export({ format: 'pem', type: 'spki' }).toString() };
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    res
      .writeHead(200, { 'content-type': 'application/json; charset=UTF-8', 'cache-control': 'public, max-age=3600' })
      .end(JSON.stringify(body));
  }
}
