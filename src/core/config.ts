/** Checking a {@link DeferredConfig} and filling in its defaults, once, into the runtime's resolved configuration. */
import type { Datastore } from '@google-cloud/datastore';
import type { CloudTasksClient } from '@google-cloud/tasks';
import type { CodecRegistry } from '../codec/index.js';
import { ConfigurationError } from '../errors/runtime.js';
import { defaultLogger } from './logger.js';
import { DEFAULT_SHARDS, SHARD_COUNT } from '../store/schema.js';
import type { TimeSource, DeferredConfig, Logger, TaskOptions } from '../types.js';
import { parseDuration } from '../util/duration.js';
import { optionalWholeNumber } from '../util/whole-number.js';
import type { TaskTarget } from './cloud-task-request.js';
import { checkQueueId } from './task-names.js';

/** Default threshold above which a payload spills into an entity. */
export const DEFAULT_INLINE_THRESHOLD = 100_000;
/** Default request body limit of the handler (a Cloud Task is at most 1 MB). */
export const DEFAULT_MAX_BODY_BYTES = 1_100_000;
/** Default budget of request-body bytes held at once before their signature is checked (32 MiB). */
export const DEFAULT_MAX_UNVERIFIED_BODY_BYTES = 32 * 1024 * 1024;
/** Default nesting limit of argument values. */
export const DEFAULT_MAX_DEPTH = 64;
/** Google's OIDC token issuers and keys, the defaults of `oidc.issuer` and `oidc.jwksUri`. */
export const GOOGLE_ISSUERS = ['https://accounts.google.com', 'accounts.google.com'] as const;
export const GOOGLE_JWKS_URI = 'https://www.googleapis.com/oauth2/v3/certs';
/** Cloud Tasks' default dispatch deadline for HTTP targets. */
export const DEFAULT_DISPATCH_DEADLINE_MS = 10 * 60_000;

/** `oidc.jwks`, checked: a JSON Web Key Set with at least one key, or null when none is given. */
function jwksOf(value: unknown): { readonly keys: readonly Readonly<Record<string, unknown>>[] } | null {
  if (value === undefined || value === null) return null;
  const keys = (value as { keys?: unknown }).keys;
  if (!Array.isArray(keys) || keys.length === 0 || !keys.every((k) => k && typeof k === 'object')) {
    throw new ConfigurationError(
      'oidc.jwks must be a JSON Web Key Set, { keys: [...] } with at least one key (or leave it out to fetch oidc.jwksUri).',
    );
  }
  return { keys: keys as Readonly<Record<string, unknown>>[] };
}

/** The configuration with every default applied. */
export interface ResolvedConfig {
  readonly projectId: string;
  readonly location: string;
  readonly queue: string;
  readonly target: TaskTarget;
  readonly basePath: string;
  readonly secrets: readonly string[];
  readonly datastore: Datastore;
  readonly tasks: CloudTasksClient;
  readonly inlineThreshold: number;
  readonly maxBodyBytes: number;
  readonly maxUnverifiedBodyBytes: number;
  readonly maxDepth: number;
  readonly codecs: CodecRegistry | undefined;
  readonly defaults: TaskOptions;
  readonly expireAfterMs: number;
  /** Explicit lease, or null to derive it from each task's dispatch deadline. */
  readonly leaseMs: number | null;
  readonly shards: number;
  readonly oidc: {
    readonly serviceAccountEmail: string;
    readonly audience: string;
    readonly verify: boolean;
    readonly issuers: readonly string[];
    readonly jwksUri: string;
    /** The keys themselves, when given (`oidc.jwks`): then `jwksUri` is not fetched. */
    readonly jwks: { readonly keys: readonly Readonly<Record<string, unknown>>[] } | null;
    readonly sweepServiceAccounts: readonly string[];
  } | null;
  readonly trustAppEngineHeaders: boolean;
  readonly unknownTasks: 'fail' | 'retry';
  readonly legacySignatures: 'accept' | 'refuse';
  /** Use `@opentelemetry/api` when it is installed. */
  readonly openTelemetry: boolean;
  readonly logger: Logger;
  readonly clock: TimeSource;
}

function sweepAccountsOf(value: unknown): readonly string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || !value.every((email) => typeof email === 'string' && email.includes('@'))) {
    throw new ConfigurationError(
      `oidc.sweepServiceAccounts must be a list of service account e-mails, got ${JSON.stringify(value)}.`,
    );
  }
  return [...value] as string[];
}

function unknownTasksOf(value: unknown): 'fail' | 'retry' {
  if (value === undefined) return 'fail';
  if (value === 'fail' || value === 'retry') return value;
  throw new ConfigurationError(`unknownTasks must be 'fail' or 'retry', got ${JSON.stringify(value)}.`);
}

function legacySignaturesOf(value: unknown): 'accept' | 'refuse' {
  if (value === undefined) return 'accept';
  if (value === 'accept' || value === 'refuse') return value;
  throw new ConfigurationError(`legacySignatures must be 'accept' or 'refuse', got ${JSON.stringify(value)}.`);
}

function booleanOf(value: unknown, fallback: boolean, what: string): boolean {
  if (value === undefined) return fallback;
  if (typeof value === 'boolean') return value;
  throw new ConfigurationError(`${what} must be true or false, got ${JSON.stringify(value)}.`);
}

const systemClock: TimeSource = { now: () => Date.now() };

function normalizeBasePath(path: string): string {
  const trimmed = `/${path.replace(/^\/+|\/+$/g, '')}`;
  return trimmed === '/' ? '' : trimmed;
}

function positive(value: number | undefined, fallback: number, what: string): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0)
    throw new ConfigurationError(`${what} must be a positive number, got ${value}.`);
  return value;
}

/** Checks `config` and applies the defaults; throws {@link ConfigurationError} naming what to set. */
export function resolveConfig(config: DeferredConfig): ResolvedConfig {
  if (!config || typeof config !== 'object')
    throw new ConfigurationError('createDeferred(config) needs a config object.');
  if (!config.projectId)
    throw new ConfigurationError('projectId is missing: set it to the Google Cloud project of the queues.');
  if (!config.location)
    throw new ConfigurationError("location is missing: set it to the queues' region, e.g. 'europe-west1'.");
  if (!config.datastore) throw new ConfigurationError('datastore is missing: pass a @google-cloud/datastore client.');
  if (!config.tasks) throw new ConfigurationError('tasks is missing: pass a @google-cloud/tasks CloudTasksClient.');
  const secrets = config.secrets ? [...config.secrets] : config.secret ? [config.secret] : [];
  if (secrets.length === 0 || secrets.some((s) => typeof s !== 'string' || s.length < 16)) {
    throw new ConfigurationError(
      'secret is missing or too short: set secret (or secrets: [current, ...retired]) to random strings of at least 16 characters, e.g. from Secret Manager.',
    );
  }

  let handlerUrl: URL | null = null;
  if (config.handlerUrl) {
    try {
      handlerUrl = new URL(config.handlerUrl);
    } catch {
      throw new ConfigurationError(`handlerUrl ${JSON.stringify(config.handlerUrl)} is not an absolute URL.`);
    }
  }
  const basePath = normalizeBasePath(config.basePath ?? (handlerUrl ? handlerUrl.pathname : '/_deferred'));
  const urlBase = handlerUrl ? `${handlerUrl.origin}${normalizeBasePath(handlerUrl.pathname)}` : null;

  let oidc: ResolvedConfig['oidc'] = null;
  if (config.oidc) {
    if (!config.oidc.serviceAccountEmail) throw new ConfigurationError('oidc.serviceAccountEmail is missing.');
    if (!urlBase && !config.oidc.audience) {
      throw new ConfigurationError('oidc needs handlerUrl (HTTP targets): App Engine targets carry no OIDC token.');
    }
    oidc = {
      serviceAccountEmail: config.oidc.serviceAccountEmail,
      audience: config.oidc.audience ?? urlBase!,
      verify: config.oidc.verify ?? true,
      issuers: config.oidc.issuer ? [config.oidc.issuer] : [...GOOGLE_ISSUERS],
      jwksUri: config.oidc.jwksUri ?? GOOGLE_JWKS_URI,
      jwks: jwksOf(config.oidc.jwks),
      sweepServiceAccounts: sweepAccountsOf(config.oidc.sweepServiceAccounts),
    };
  }

  const target: TaskTarget = urlBase
    ? {
        kind: 'http',
        handlerUrl: urlBase,
        oidc: oidc ? { serviceAccountEmail: oidc.serviceAccountEmail, audience: oidc.audience } : null,
      }
    : { kind: 'appengine', basePath: basePath || '/', routing: config.appEngineRouting ?? null };

  const shards = optionalWholeNumber(config.shards, DEFAULT_SHARDS, 'shards', SHARD_COUNT, ConfigurationError);

  const maxBodyBytes = positive(config.maxBodyBytes, DEFAULT_MAX_BODY_BYTES, 'maxBodyBytes');
  const maxUnverifiedBodyBytes = positive(
    config.maxUnverifiedBodyBytes,
    Math.max(DEFAULT_MAX_UNVERIFIED_BODY_BYTES, maxBodyBytes),
    'maxUnverifiedBodyBytes',
  );
  if (maxUnverifiedBodyBytes < maxBodyBytes) {
    throw new ConfigurationError(
      `maxUnverifiedBodyBytes (${maxUnverifiedBodyBytes}) must be at least maxBodyBytes (${maxBodyBytes}), or no request of the largest size could ever be read.`,
    );
  }

  return {
    projectId: config.projectId,
    location: config.location,
    queue: checkQueueId(config.queue ?? 'default'),
    target,
    basePath,
    secrets,
    datastore: config.datastore,
    tasks: config.tasks,
    inlineThreshold: positive(config.inlineThreshold, DEFAULT_INLINE_THRESHOLD, 'inlineThreshold'),
    maxBodyBytes,
    maxUnverifiedBodyBytes,
    maxDepth: positive(config.maxDepth, DEFAULT_MAX_DEPTH, 'maxDepth'),
    codecs: config.codecs,
    defaults: config.defaults ?? {},
    expireAfterMs: parseDuration(config.expireAfter ?? '30d', 'expireAfter'),
    leaseMs: config.lease === undefined ? null : parseDuration(config.lease, 'lease'),
    shards,
    oidc,
    // HTTP targets reach App Engine from outside, where App Engine strips X-AppEngine-* headers: trust them only for
    // App Engine targets.
    trustAppEngineHeaders: config.trustAppEngineHeaders ?? (Boolean(process.env.GAE_APPLICATION) && !urlBase),
    unknownTasks: unknownTasksOf(config.unknownTasks),
    legacySignatures: legacySignaturesOf(config.legacySignatures),
    openTelemetry: booleanOf(config.openTelemetry, true, 'openTelemetry'),
    logger: config.logger ?? defaultLogger,
    clock: config.clock ?? systemClock,
  };
}
