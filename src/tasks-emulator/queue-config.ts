/** A queue's settings: defaults and limits of the real service, validation, UpdateQueue masks, and the Queue message. */
import { invalidArgument } from './rpc-errors.js';
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from './retry.js';
import { fromMs, toMs, type ProtoSecondsNanos } from './time.js';

/** Limits of the real service. */
export const MAX_DISPATCHES_PER_SECOND = 500;
export const MAX_CONCURRENT_DISPATCHES = 5000;
/** Defaults the real service picks. */
export const DEFAULT_DISPATCHES_PER_SECOND = 500;
export const DEFAULT_CONCURRENT_DISPATCHES = 1000;

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
  [field: string]: unknown;
}

/** Settings from a Queue message: zero/absent fields get the real service's defaults; out-of-range values are INVALID_ARGUMENT. */
export function queueConfigFrom(input: QueueInput): QueueConfig {
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
  const retryIn = input.retryConfig ?? {};
  const maxAttempts = Number(retryIn.maxAttempts ?? 0) || DEFAULT_RETRY_POLICY.maxAttempts;
  if (!(Number.isInteger(maxAttempts) && maxAttempts >= -1)) {
    throw invalidArgument(`RetryConfig.max_attempts must be >= -1 (-1 = unlimited), got ${maxAttempts}.`);
  }
  const maxDoublings = Number(retryIn.maxDoublings ?? 0) || DEFAULT_RETRY_POLICY.maxDoublings;
  if (!(Number.isInteger(maxDoublings) && maxDoublings >= 0)) {
    throw invalidArgument(`RetryConfig.max_doublings must be >= 0, got ${maxDoublings}.`);
  }
  const minBackoffMs = toMs(retryIn.minBackoff) || DEFAULT_RETRY_POLICY.minBackoffMs;
  const maxBackoffMs = toMs(retryIn.maxBackoff) || DEFAULT_RETRY_POLICY.maxBackoffMs;
  const maxRetryDurationMs = toMs(retryIn.maxRetryDuration) ?? DEFAULT_RETRY_POLICY.maxRetryDurationMs;
  if (minBackoffMs < 0 || maxBackoffMs < 0 || maxRetryDurationMs < 0) {
    throw invalidArgument('RetryConfig durations (min_backoff, max_backoff, max_retry_duration) must not be negative.');
  }
  if (minBackoffMs > maxBackoffMs) {
    throw invalidArgument(
      `RetryConfig.min_backoff (${minBackoffMs / 1000}s) must not exceed max_backoff (${maxBackoffMs / 1000}s).`,
    );
  }
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
    retry: { maxAttempts, maxRetryDurationMs, minBackoffMs, maxBackoffMs, maxDoublings },
    appEngineRoutingOverride: routing
      ? {
          service: routing.service ?? '',
          version: routing.version ?? '',
          instance: routing.instance ?? '',
          host: routing.host ?? '',
        }
      : undefined,
    loggingSamplingRatio: input.stackdriverLoggingConfig ? (sampling ?? 0) : undefined,
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
    retryConfig: {
      maxAttempts: retry.maxAttempts,
      maxRetryDuration: fromMs(retry.maxRetryDurationMs),
      minBackoff: fromMs(retry.minBackoffMs),
      maxBackoff: fromMs(retry.maxBackoffMs),
      maxDoublings: retry.maxDoublings,
    },
    ...(config.loggingSamplingRatio !== undefined
      ? { stackdriverLoggingConfig: { samplingRatio: config.loggingSamplingRatio } }
      : {}),
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
]);

const snake = (path: string) => path.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
const camel = (path: string) => path.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase());

/**
 * UpdateQueue: the new settings from the current ones and the request's queue. With mask paths, only those fields
 * are taken from the request (a zero value resets to the default); with no mask, every field is.
 */
export function applyQueueUpdate(current: QueueConfig, update: QueueInput, paths: readonly string[]): QueueConfig {
  if (paths.length === 0) return queueConfigFrom(update);
  const merged = structuredClone(queueConfigToMessage(current)) as Record<string, unknown>;
  for (const raw of paths) {
    const path = snake(raw.trim());
    if (path === 'name') continue;
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
  return queueConfigFrom(merged as QueueInput);
}
