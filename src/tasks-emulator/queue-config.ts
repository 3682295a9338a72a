/** A queue's settings: defaults and limits of the real service, validation, UpdateQueue masks, and the Queue message. */
import { httpTargetFrom, httpTargetToMessage, type HttpTargetConfig, type HttpTargetInput } from './http-target.js';
import { invalidArgument } from './rpc-errors.js';
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from './retry.js';
import { fromMs, toMs, type ProtoSecondsNanos } from './time.js';

/** Limits of the real service. */
export const MAX_DISPATCHES_PER_SECOND = 500;
export const MAX_CONCURRENT_DISPATCHES = 5000;
/** Defaults the real service picks. */
export const DEFAULT_DISPATCHES_PER_SECOND = 500;
export const DEFAULT_CONCURRENT_DISPATCHES = 1000;
const DAY_MS = 24 * 3_600_000;
/** v2beta3 `task_ttl`: 31 days by default, from 10 days to 10 years. */
export const DEFAULT_TASK_TTL_MS = 31 * DAY_MS;
const TASK_TTL_RANGE_MS = [10 * DAY_MS, 3650 * DAY_MS] as const;
/** v2beta3 `tombstone_ttl`: from 1 hour to 9 days (the default is the emulator's tombstoneMs, 1 hour unless set). */
const TOMBSTONE_TTL_RANGE_MS = [3_600_000, 9 * DAY_MS] as const;

/** Defaults that come from the emulator's options rather than from the real service. */
export interface QueueDefaults {
  readonly tombstoneMs: number;
}

export interface AppEngineRouting {
  service: string;
  version: string;
  instance: string;
  host: string;
}

export interface RatePolicy {
  readonly maxDispatchesPerSecond: number;
  /** Token bucket size: one second's worth of dispatches, at most 100 (the real default queue shows 100 at 500/s). */
  readonly maxBurstSize: number;
  readonly maxConcurrentDispatches: number;
}

export interface QueueConfig {
  readonly rate: RatePolicy;
  readonly retry: RetryPolicy;
  readonly appEngineRoutingOverride: AppEngineRouting | undefined;
  readonly loggingSamplingRatio: number | undefined;
  /** Queue-level routing of HTTP tasks (v2beta3). */
  readonly httpTarget: HttpTargetConfig | undefined;
  /** Tasks older than this are deleted, dispatched or not (v2beta3 `task_ttl`). */
  readonly taskTtlMs: number;
  /** How long the name of a finished or deleted task stays reserved (v2beta3 `tombstone_ttl`). */
  readonly tombstoneTtlMs: number;
  /** PUSH queues dispatch their tasks; PULL queues (App Engine's pull queues) hold them (v2beta3 `type`, immutable). */
  readonly type: 'PUSH' | 'PULL';
}

/** The Queue message as the client sends it (camelCase, proto-loader defaults). */
export interface QueueInput {
  name?: string;
  appEngineRoutingOverride?: Partial<AppEngineRouting> | null;
  rateLimits?: {
    maxDispatchesPerSecond?: number | null;
    maxBurstSize?: number | null;
    maxConcurrentDispatches?: number | null;
  } | null;
  retryConfig?: {
    maxAttempts?: number | null;
    maxRetryDuration?: ProtoSecondsNanos | null;
    minBackoff?: ProtoSecondsNanos | null;
    maxBackoff?: ProtoSecondsNanos | null;
    maxDoublings?: number | null;
  } | null;
  stackdriverLoggingConfig?: { samplingRatio?: number | null } | null;
  httpTarget?: HttpTargetInput | null;
  taskTtl?: ProtoSecondsNanos | null;
  tombstoneTtl?: ProtoSecondsNanos | null;
  type?: string | null;
  [field: string]: unknown;
}

/** A TTL field: the fallback when unset; the fallback itself is always accepted (the emulator's tombstoneMs may be shorter). */
function ttlFrom(
  value: ProtoSecondsNanos | null | undefined,
  fallback: number,
  range: readonly [number, number],
  field: string,
) {
  const ms = toMs(value);
  if (!ms || ms === fallback) return fallback;
  if (ms < range[0] || ms > range[1]) {
    throw invalidArgument(
      `Queue.${field} must be between ${range[0] / 1000}s and ${range[1] / 1000}s, got ${ms / 1000}s.`,
    );
  }
  return ms;
}

/** A RetryConfig message (a queue's, or a v2beta3 task's own) as a policy: zero/absent fields get the defaults. */
export function retryPolicyFrom(retryIn: QueueInput['retryConfig'], label: string): RetryPolicy {
  const input = retryIn ?? {};
  const maxAttempts = Number(input.maxAttempts ?? 0) || DEFAULT_RETRY_POLICY.maxAttempts;
  if (!(Number.isInteger(maxAttempts) && maxAttempts >= -1)) {
    throw invalidArgument(`${label}.max_attempts must be >= -1 (-1 = unlimited), got ${maxAttempts}.`);
  }
  const maxDoublings = Number(input.maxDoublings ?? 0) || DEFAULT_RETRY_POLICY.maxDoublings;
  if (!(Number.isInteger(maxDoublings) && maxDoublings >= 0)) {
    throw invalidArgument(`${label}.max_doublings must be >= 0, got ${maxDoublings}.`);
  }
  const minBackoffMs = toMs(input.minBackoff) || DEFAULT_RETRY_POLICY.minBackoffMs;
  const maxBackoffMs = toMs(input.maxBackoff) || DEFAULT_RETRY_POLICY.maxBackoffMs;
  const maxRetryDurationMs = toMs(input.maxRetryDuration) ?? DEFAULT_RETRY_POLICY.maxRetryDurationMs;
  if (minBackoffMs < 0 || maxBackoffMs < 0 || maxRetryDurationMs < 0) {
    throw invalidArgument(`${label} durations (min_backoff, max_backoff, max_retry_duration) must not be negative.`);
  }
  if (minBackoffMs > maxBackoffMs) {
    throw invalidArgument(
      `${label}.min_backoff (${minBackoffMs / 1000}s) must not exceed max_backoff (${maxBackoffMs / 1000}s).`,
    );
  }
  return { maxAttempts, maxRetryDurationMs, minBackoffMs, maxBackoffMs, maxDoublings };
}

/** A policy as a RetryConfig message. */
export function retryPolicyToMessage(retry: RetryPolicy) {
  return {
    maxAttempts: retry.maxAttempts,
    maxRetryDuration: fromMs(retry.maxRetryDurationMs),
    minBackoff: fromMs(retry.minBackoffMs),
    maxBackoff: fromMs(retry.maxBackoffMs),
    maxDoublings: retry.maxDoublings,
  };
}

/** Settings from a Queue message: zero/absent fields get the real service's defaults; out-of-range values are INVALID_ARGUMENT. */
export function queueConfigFrom(input: QueueInput, defaults: QueueDefaults): QueueConfig {
  const rateIn = input.rateLimits ?? {};
  const maxDispatchesPerSecond = Number(rateIn.maxDispatchesPerSecond ?? 0) || DEFAULT_DISPATCHES_PER_SECOND;
  if (!(maxDispatchesPerSecond > 0 && maxDispatchesPerSecond <= MAX_DISPATCHES_PER_SECOND)) {
    throw invalidArgument(
      `RateLimits.max_dispatches_per_second must be in (0, ${MAX_DISPATCHES_PER_SECOND}], got ${maxDispatchesPerSecond}.`,
    );
  }
  const maxConcurrentDispatches = Number(rateIn.maxConcurrentDispatches ?? 0) || DEFAULT_CONCURRENT_DISPATCHES;
  if (!(Number.isInteger(maxConcurrentDispatches) && maxConcurrentDispatches >= 1)) {
    throw invalidArgument(`RateLimits.max_concurrent_dispatches must be positive, got ${maxConcurrentDispatches}.`);
  }
  if (maxConcurrentDispatches > MAX_CONCURRENT_DISPATCHES) {
    throw invalidArgument(
      `RateLimits.max_concurrent_dispatches must be at most ${MAX_CONCURRENT_DISPATCHES}, got ${maxConcurrentDispatches}.`,
    );
  }
  const retry = retryPolicyFrom(input.retryConfig, 'RetryConfig');
  const routing = input.appEngineRoutingOverride;
  const sampling = input.stackdriverLoggingConfig?.samplingRatio;
  if (sampling !== undefined && sampling !== null && !(sampling >= 0 && sampling <= 1)) {
    throw invalidArgument(`StackdriverLoggingConfig.sampling_ratio must be in [0, 1], got ${sampling}.`);
  }
  return {
    rate: {
      maxDispatchesPerSecond,
      maxBurstSize: Math.max(1, Math.min(100, Math.ceil(maxDispatchesPerSecond))),
      maxConcurrentDispatches,
    },
    retry,
    appEngineRoutingOverride: routing
      ? {
          service: routing.service ?? '',
          version: routing.version ?? '',
          instance: routing.instance ?? '',
          host: routing.host ?? '',
        }
      : undefined,
    loggingSamplingRatio: input.stackdriverLoggingConfig ? (sampling ?? 0) : undefined,
    httpTarget: httpTargetFrom(input.httpTarget),
    taskTtlMs: ttlFrom(input.taskTtl, DEFAULT_TASK_TTL_MS, TASK_TTL_RANGE_MS, 'task_ttl'),
    tombstoneTtlMs: ttlFrom(input.tombstoneTtl, defaults.tombstoneMs, TOMBSTONE_TTL_RANGE_MS, 'tombstone_ttl'),
    type: input.type === 'PULL' ? 'PULL' : 'PUSH',
  };
}

/** The settings as a Queue message (without name, state and purge time). */
export function queueConfigToMessage(config: QueueConfig): QueueInput {
  const { rate, retry } = config;
  return {
    ...(config.appEngineRoutingOverride ? { appEngineRoutingOverride: { ...config.appEngineRoutingOverride } } : {}),
    rateLimits: {
      maxDispatchesPerSecond: rate.maxDispatchesPerSecond,
      maxBurstSize: rate.maxBurstSize,
      maxConcurrentDispatches: rate.maxConcurrentDispatches,
    },
    retryConfig: retryPolicyToMessage(retry),
    ...(config.loggingSamplingRatio !== undefined
      ? { stackdriverLoggingConfig: { samplingRatio: config.loggingSamplingRatio } }
      : {}),
    ...(config.httpTarget ? { httpTarget: httpTargetToMessage(config.httpTarget) } : {}),
    taskTtl: fromMs(config.taskTtlMs),
    tombstoneTtl: fromMs(config.tombstoneTtlMs),
    type: config.type,
  };
}

const UPDATABLE = new Set([
  'app_engine_routing_override',
  'rate_limits',
  'rate_limits.max_dispatches_per_second',
  'rate_limits.max_concurrent_dispatches',
  'retry_config',
  'retry_config.max_attempts',
  'retry_config.max_retry_duration',
  'retry_config.min_backoff',
  'retry_config.max_backoff',
  'retry_config.max_doublings',
  'stackdriver_logging_config',
  'stackdriver_logging_config.sampling_ratio',
  'http_target',
  'http_target.uri_override',
  'http_target.http_method',
  'http_target.header_overrides',
  'http_target.oauth_token',
  'http_target.oidc_token',
  'task_ttl',
  'tombstone_ttl',
  'type',
]);

/** Queue.type cannot change after creation. */
function keepType(current: QueueConfig, requested: unknown): void {
  if (typeof requested === 'string' && requested !== 'TYPE_UNSPECIFIED' && requested !== current.type) {
    throw invalidArgument(`Queue.type is immutable: the queue is a ${current.type} queue.`);
  }
}

const snake = (path: string) => path.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
const camel = (path: string) => path.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase());

/**
 * UpdateQueue: the new settings from the current ones and the request's queue. With mask paths, only those fields
 * are taken from the request (a zero value resets to the default); with no mask, every field is.
 */
export function applyQueueUpdate(
  current: QueueConfig,
  update: QueueInput,
  paths: readonly string[],
  defaults: QueueDefaults,
): QueueConfig {
  if (paths.length === 0 || paths.some((path) => path.trim() === 'type')) keepType(current, update.type);
  const merged = structuredClone(queueConfigToMessage(current)) as Record<string, unknown>;
  if (paths.length === 0) {
    // Every field of the request's Queue replaces the current one; fields the request's API version does not have
    // (v2 has no task_ttl, tombstone_ttl, type) are not in the request at all, and keep their current value.
    for (const [field, value] of Object.entries(update))
      if (value !== undefined && field !== 'type') merged[field] = value;
    return queueConfigFrom({ ...merged, type: current.type } as QueueInput, defaults);
  }
  for (const raw of paths) {
    const path = snake(raw.trim());
    if (path === 'name' || path === 'type') continue; // the type is checked above: it cannot change
    if (!UPDATABLE.has(path)) {
      throw invalidArgument(`update_mask path "${raw}" cannot be updated; use one of: ${[...UPDATABLE].join(', ')}.`);
    }
    const [top, leaf] = path.split('.').map(camel) as [string, string | undefined];
    const source = update[top] as Record<string, unknown> | null | undefined;
    if (leaf === undefined) {
      if (source) merged[top] = source;
      else delete merged[top];
    } else {
      const target = (merged[top] ?? {}) as Record<string, unknown>;
      target[leaf] = source ? source[leaf] : null;
      merged[top] = target;
    }
  }
  return queueConfigFrom({ ...merged, type: current.type } as QueueInput, defaults);
}
