/** Verifying the OIDC ID tokens Cloud Tasks attaches to HTTP tasks (RS256, issuer, audience, service account, expiry). */
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { UnauthenticatedError } from '../errors/runtime.js';
import type { TimeSource } from '../types.js';

/** What a token must say. */
export interface OidcVerifierOptions {
  readonly audience: string;
  readonly issuers: readonly string[];
  readonly jwksUri: string;
  readonly clock: TimeSource;
}

/**
 * Returns a function that checks an `Authorization` header value and throws {@link UnauthenticatedError} unless it is
 * a valid token of one of `accounts`.
 */
export function oidcVerifier(
  options: OidcVerifierOptions,
): (authorization: string | undefined, accounts: readonly string[]) => Promise<void> {
  const keys = createRemoteJWKSet(new URL(options.jwksUri));
  return async (authorization, accounts) => {
    const match = /^Bearer\s+(\S+)$/i.exec(authorization ?? '');
    if (!match) throw new UnauthenticatedError('missing OIDC bearer token (Authorization: Bearer ...)');
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
