/** Verifying the OIDC ID tokens Cloud Tasks attaches to HTTP tasks (RS256, issuer, audience, service account, expiry). */
import type { JSONWebKeySet, JWTVerifyGetKey } from 'jose';
import { UnauthenticatedError } from '../errors/runtime.js';
import type { TimeSource } from '../types.js';

/** What a token must say. */
export interface OidcVerifierOptions {
  readonly audience: string;
  readonly issuers: readonly string[];
  readonly jwksUri: string;
  /** The keys themselves: then `jwksUri` is not fetched. */
  readonly jwks?: { readonly keys: readonly Readonly<Record<string, unknown>>[] } | null;
  readonly clock: TimeSource;
}

/**
 * Returns a function that checks an `Authorization` header value and throws {@link UnauthenticatedError} unless it is
 * a valid token of one of `accounts`.
 */
export function oidcVerifier(
  options: OidcVerifierOptions,
): (authorization: string | undefined, accounts: readonly string[]) => Promise<void> {
  const jwksUrl = new URL(options.jwksUri);
  // jose is loaded when a verifier is made, not at import: an app without OIDC never loads it (cold starts count).
  let loaded: Promise<{ jwtVerify: typeof import('jose').jwtVerify; keys: JWTVerifyGetKey }> | undefined;
  const load = () =>
    (loaded ??= import('jose').then((jose) => ({
      jwtVerify: jose.jwtVerify,
      keys: options.jwks
        ? jose.createLocalJWKSet(options.jwks as unknown as JSONWebKeySet)
        : jose.createRemoteJWKSet(jwksUrl),
    })));
  // Started now (the handler builds its verifier on the first request), awaited by the first token's check.
  load().catch(() => undefined);
  return async (authorization, accounts) => {
    const match = /^Bearer\s+(\S+)$/i.exec(authorization ?? '');
    if (!match) throw new UnauthenticatedError('missing OIDC bearer token (Authorization: Bearer ...)');
    const { jwtVerify, keys } = await load();
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(match[1]!, keys, {
        algorithms: ['RS256'],
        issuer: [...options.issuers],
        audience: options.audience,
        currentDate: new Date(options.clock.now()),
        clockTolerance: 60,
      }));
    } catch (error) {
      throw new UnauthenticatedError(`OIDC token rejected: ${(error as Error).message}`, { cause: error });
    }
    if (typeof payload.email !== 'string' || !accounts.includes(payload.email) || payload.email_verified !== true) {
      throw new UnauthenticatedError(
        `OIDC token is for ${String(payload.email)}, not a configured service account (${accounts.join(', ')})`,
      );
    }
  };
}
