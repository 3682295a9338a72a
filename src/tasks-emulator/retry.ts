/** The retry rules of Cloud Tasks queues: defaults, the backoff formula, and when a failing task is given up. */

/** A queue's RetryConfig in milliseconds, with the real service's defaults filled in. */
export interface RetryPolicy {
  /** Attempts per task, first included; -1 = unlimited. */
  readonly maxAttempts: number;
  /** Time limit for retrying, measured from the first attempt; 0 = unlimited. */
  readonly maxRetryDurationMs: number;
  readonly minBackoffMs: number;
  readonly maxBackoffMs: number;
  readonly maxDoublings: number;
}

/** What the real service picks when a queue is created without a RetryConfig. */
export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 100,
  maxRetryDurationMs: 0,
  minBackoffMs: 100,
  maxBackoffMs: 3_600_000,
  maxDoublings: 16,
};

/**
 * Delay before the k-th retry (k = 0 for the first retry, i.e. the second attempt): minBackoff * 2^k while
 * k <= maxDoublings, then minBackoff * 2^maxDoublings * (k - maxDoublings + 1), capped at maxBackoff.
 */
export function retryDelayMs(policy: RetryPolicy, k: number): number {
  const { minBackoffMs: min, maxBackoffMs: max, maxDoublings: d } = policy;
  const delay = k <= d ? min * 2 ** k : min * 2 ** d * (k - d + 1);
  return Math.min(delay, max);
}

/**
 * Whether a task that just failed its `attempts`-th attempt is given up. Each limit that is set (maxAttempts != -1,
 * maxRetryDuration > 0) must be spent; with neither set the task is retried forever.
 */
export function isGivenUp(policy: RetryPolicy, attempts: number, firstAttemptMs: number, nowMs: number): boolean {
  const hasAttemptLimit = policy.maxAttempts !== -1;
  const hasDurationLimit = policy.maxRetryDurationMs > 0;
  if (!hasAttemptLimit && !hasDurationLimit) return false;
  const attemptsSpent = !hasAttemptLimit || attempts >= policy.maxAttempts;
  const durationSpent = !hasDurationLimit || nowMs - firstAttemptMs >= policy.maxRetryDurationMs;
  return attemptsSpent && durationSpent;
}
