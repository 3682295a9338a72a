/** The copy of google-gax that each of the app's Google clients runs on: insecure channels for the emulators must come from it, or the client rejects them. */
import { createRequire } from 'node:module';
import type * as Gax from 'google-gax';

/** The app's Google client packages (peer dependencies). */
export type ClientPackage = '@google-cloud/tasks' | '@google-cloud/datastore';

const loaded = new Map<ClientPackage, typeof Gax>();

/**
 * google-gax as resolved from the app's client package, so that credentials made with its `grpc` are ones that client
 * accepts: two copies of `@grpc/grpc-js` reject each other's credentials.
 */
export function googleGax(from: ClientPackage = '@google-cloud/tasks'): typeof Gax {
  let gax = loaded.get(from);
  if (gax === undefined) {
    const require = createRequire(import.meta.url);
    gax = createRequire(require.resolve(from))('google-gax') as typeof Gax;
    loaded.set(from, gax);
  }
  return gax;
}

/**
 * Options that keep a client pointed at a local emulator from asking for credentials: without a universe domain,
 * google-gax asks google-auth-library for the credentials' one, which probes the GCE metadata server (a
 * `MetadataLookupWarning` and a timeout off Google Cloud).
 */
export const EMULATOR_AUTH_OPTIONS = { universeDomain: 'googleapis.com' } as const;
