/** Resolving task and per-call options into one checked, concrete set (queue, ETA, name, deadline, headers, limits). */
import type { DeferOptions, DeferredTransaction, IfExists } from '../types.js';
import type { Key } from '@google-cloud/datastore';
import { InvalidArgumentError } from '../errors/invalid-argument.js';
import { parseDuration } from '../util/duration.js';
import { wholeNumber } from '../util/whole-number.js';
import { checkCloudTaskId, checkQueueId } from '../core/task-names.js';
import { DEFAULT_RETENTION_MS } from '../store/schema.js';
import { traceparentOption, type TraceContext } from '../core/trace-context.js';
import { GZIP_LEVEL, hasZstd, type PayloadCompression } from '../store/packed-payload.js';

/** Cloud Tasks accepts a dispatch deadline between 15 s and 30 min for HTTP targets. */
export const MIN_DISPATCH_DEADLINE_MS = 15_000;
export const MAX_DISPATCH_DEADLINE_MS = 30 * 60_000;

/** An HTTP header name (RFC 9110 token). */
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** What an HTTP header value may hold (Node's own rule): tab, visible ASCII, bytes 0x80-0xff; no CR, LF or NUL. */
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

const RESERVED_HEADER =
  /^(content-type|content-length|authorization|host|user-agent|traceparent|x-cloudtasks-.*|x-appengine-.*|x-deferred-.*)$/i;

/** True for a header the runtime or Cloud Tasks sets itself (a task may not set it). */
export function isReservedHeader(name: string): boolean {
  return RESERVED_HEADER.test(name);
}

/** The concrete options of one defer. */
export interface ResolvedDeferOptions {
  readonly queue: string;
  readonly etaMs: number;
  readonly name: string | null;
  readonly ifExists: IfExists;
  readonly dispatchDeadlineMs: number | null;
  readonly headers: Readonly<Record<string, string>>;
  readonly maxAttempts: number | null;
  readonly retentionMs: number;
  readonly entityBacked: boolean;
  readonly transaction: DeferredTransaction | null;
  readonly parent: Key | null;
  /** The trace to carry as given (`false`: none), or undefined for the current one. */
  readonly traceparent: TraceContext | false | undefined;
  /** How a stored payload is compressed: a gzip level (0 for none), or Brotli or zstd at a level. */
  readonly compression: PayloadCompression;
}

/** The level each codec's name alone stands for: about gzip 3's bytes, for less CPU (see the README's Performance). */
const CODEC_DEFAULTS = { gzip: GZIP_LEVEL, brotli: 1, zstd: 1 } as const;
/** The levels each codec takes. */
const CODEC_LEVELS = { gzip: [1, 9], brotli: [0, 11], zstd: [1, 19] } as const;

const COMPRESSION_FORMS =
  "a gzip level from 1 (fastest) to 9 (smallest), 'none', 'gzip', 'brotli', 'zstd', or { codec, level }";

/**
 * Checks a `compression` option: a gzip level 1-9, `'none'` (0), a codec's name (`'gzip'`, `'brotli'`, `'zstd'`) for
 * its default level, or `{ codec, level }`. zstd needs Node.js 22.15 or later: on an earlier one it is refused here.
 */
export function compressionSetting(value: unknown): PayloadCompression {
  if (value === undefined) return GZIP_LEVEL;
  if (value === 'none') return 0;
  if (typeof value === 'number') return codecSetting('gzip', value, value);
  if (value === 'gzip' || value === 'brotli' || value === 'zstd')
    return codecSetting(value, CODEC_DEFAULTS[value], value);
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const { codec, level } = value as { codec?: unknown; level?: unknown };
    if (codec === 'gzip' || codec === 'brotli' || codec === 'zstd') {
      return codecSetting(codec, level === undefined ? CODEC_DEFAULTS[codec] : level, value);
    }
    throw new InvalidArgumentError(
      `compression.codec must be 'gzip', 'brotli' or 'zstd', got ${JSON.stringify(codec) ?? String(codec)}.`,
    );
  }
  throw new InvalidArgumentError(
    `compression must be ${COMPRESSION_FORMS}, got ${JSON.stringify(value) ?? String(value)}.`,
  );
}

function codecSetting(codec: 'gzip' | 'brotli' | 'zstd', level: unknown, given: unknown): PayloadCompression {
  const [min, max] = CODEC_LEVELS[codec];
  if (typeof level !== 'number' || !Number.isInteger(level) || level < min || level > max) {
    throw new InvalidArgumentError(
      typeof given === 'number'
        ? `compression must be ${COMPRESSION_FORMS}, got ${given}.`
        : `a ${codec} level must be a whole number from ${min} to ${max}, got ${JSON.stringify(level) ?? String(level)}.`,
    );
  }
  if (codec === 'gzip') return level as PayloadCompression;
  if (codec === 'zstd' && !hasZstd()) {
    throw new InvalidArgumentError(
      `compression 'zstd' needs Node.js 22.15 or later (this is ${process.version}), in this process and in every worker that runs the task: use 'brotli' or a gzip level here.`,
    );
  }
  return Object.freeze({ codec: codec === 'brotli' ? 'br' : 'zstd', level });
}

function toEpochMs(eta: Date | number): number {
  const ms = eta instanceof Date ? eta.getTime() : eta;
  if (typeof ms !== 'number' || !Number.isFinite(ms)) {
    throw new InvalidArgumentError(`eta must be a valid Date or epoch milliseconds, got ${String(eta)}.`);
  }
  return ms;
}

/** Checks the `parent` option: a complete Datastore key (every element named or numbered), the root of an entity group. */
function checkParentKey(parent: unknown): void {
  const fix = "pass a complete Datastore key such as datastore.key(['Order', 'o1'])";
  let key = parent as Key | undefined;
  if (!key || typeof key !== 'object' || typeof key.kind !== 'string' || !Array.isArray(key.path)) {
    throw new InvalidArgumentError(`parent must be a complete Datastore key, got ${describeValue(parent)}: ${fix}.`);
  }
  for (; key; key = key.parent) {
    if (key.name === undefined && key.id === undefined) {
      throw new InvalidArgumentError(
        `parent must be a complete Datastore key, but ${key.kind} has no name or id: ${fix}.`,
      );
    }
  }
}

function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null || typeof value !== 'object') return String(value);
  return `an object with keys ${Object.keys(value).join(', ') || '(none)'}`;
}

/**
 * Merges option layers (instance defaults, task options, `.with()` calls; later wins) and checks every value.
 * A layer's `eta` or `delay` replaces the timing of the layers before it.
 */
export function resolveDeferOptions(
  layers: readonly (DeferOptions | undefined)[],
  context: { readonly nowMs: number; readonly defaultQueue: string },
): ResolvedDeferOptions {
  const merged: { -readonly [K in keyof DeferOptions]: DeferOptions[K] } = {};
  const headers: Record<string, string> = {};
  let timing: { eta?: Date | number; delay?: string | number } = {};
  for (const layer of layers) {
    if (!layer) continue;
    if (layer.eta !== undefined && layer.delay !== undefined) {
      throw new InvalidArgumentError('give either delay or eta, not both.');
    }
    if (layer.eta !== undefined) timing = { eta: layer.eta };
    else if (layer.delay !== undefined) timing = { delay: layer.delay };
    for (const [key, value] of Object.entries(layer)) {
      if (value !== undefined && key !== 'headers' && key !== 'eta' && key !== 'delay') {
        (merged as Record<string, unknown>)[key] = value;
      }
    }
    if (layer.headers) {
      for (const [name, value] of Object.entries(layer.headers)) {
        if (/^traceparent$/i.test(name)) {
          throw new InvalidArgumentError(
            'header traceparent is set by the runtime (the current trace); pass the traceparent option instead (a W3C traceparent, or false for none).',
          );
        }
        if (RESERVED_HEADER.test(name)) {
          throw new InvalidArgumentError(
            `header ${name} is reserved (the runtime or Cloud Tasks sets it); use another header name.`,
          );
        }
        if (!HEADER_NAME.test(name)) {
          throw new InvalidArgumentError(
            `header name ${JSON.stringify(name)} is not a valid HTTP header name: use letters, digits and ! # $ % & ' * + - . ^ _ \` | ~ (e.g. 'X-Request-Id').`,
          );
        }
        if (typeof value !== 'string') {
          throw new InvalidArgumentError(`header ${name} must be a string, got ${typeof value}.`);
        }
        if (!HEADER_VALUE.test(value)) {
          throw new InvalidArgumentError(
            `header ${name}: its value contains a line break (CR or LF) or another control character, which an HTTP header cannot carry; remove it, or pass the value in the task's arguments.`,
          );
        }
        headers[name] = value;
      }
    }
  }

  const etaMs =
    timing.eta !== undefined
      ? toEpochMs(timing.eta)
      : context.nowMs + (timing.delay !== undefined ? parseDuration(timing.delay, 'delay') : 0);

  let dispatchDeadlineMs: number | null = null;
  if (merged.dispatchDeadline !== undefined) {
    dispatchDeadlineMs = parseDuration(merged.dispatchDeadline, 'dispatchDeadline');
    if (dispatchDeadlineMs < MIN_DISPATCH_DEADLINE_MS || dispatchDeadlineMs > MAX_DISPATCH_DEADLINE_MS) {
      throw new InvalidArgumentError(
        `dispatchDeadline must be between 15s and 30m (Cloud Tasks' limits for HTTP targets), got ${merged.dispatchDeadline}.`,
      );
    }
  }

  const maxAttempts = merged.maxAttempts ?? null;
  if (maxAttempts !== null) wholeNumber(maxAttempts, 'maxAttempts', { min: 1 });
  const ifExists = merged.ifExists ?? 'throw';
  if (ifExists !== 'throw' && ifExists !== 'ignore') {
    throw new InvalidArgumentError(`ifExists must be 'throw' or 'ignore', got ${JSON.stringify(ifExists)}.`);
  }
  if (merged.parent && !merged.transaction) {
    throw new InvalidArgumentError('parent only applies to transactional defers; pass transaction too.');
  }
  if (merged.parent) checkParentKey(merged.parent);

  return {
    queue: checkQueueId(merged.queue ?? context.defaultQueue),
    etaMs,
    name: merged.name === undefined ? null : checkCloudTaskId(merged.name),
    ifExists,
    dispatchDeadlineMs,
    headers,
    maxAttempts,
    retentionMs: merged.retention === undefined ? DEFAULT_RETENTION_MS : parseDuration(merged.retention, 'retention'),
    entityBacked: merged.entityBacked === true || merged.transaction !== undefined,
    transaction: merged.transaction ?? null,
    parent: merged.parent ?? null,
    traceparent: traceparentOption(merged.traceparent),
    compression: compressionSetting(merged.compression),
  };
}
