/** Dispatches tasks: the per-queue scheduler (due times, rate limit, concurrency, no polling) and each HTTP attempt. */
import type { Clock } from './clock.js';
import type { HttpSender, AttemptOutcome } from './http-sender.js';
import { applyHttpTarget } from './http-target.js';
import type { OidcProvider } from './oidc.js';
import { isGivenUp, retryDelayMs } from './retry.js';
import { noteResponse, type QueueRecord } from './queue-record.js';
import { APP_ENGINE_USER_AGENT, HTTP_USER_AGENT, type TaskRecord } from './task-record.js';

/** What the dispatcher needs from the emulator around it. */
export interface DispatcherDeps {
  readonly clock: Clock;
  /** Sends an attempt: over HTTP ({@link HttpSender}), or in-process (the testing harness's in-memory backend). */
  readonly sender: Pick<HttpSender, 'send'>;
  /**
   * `manual`: queues dispatch nothing by themselves; only RunTask does (the testing harness decides which task runs
   * when). Schedules, retries and backoff are kept as usual.
   * @default 'auto'
   */
  readonly dispatch?: 'auto' | 'manual';
  readonly oidc: OidcProvider;
  /** Base URL of the App Engine app (App Engine targets), if configured. */
  readonly appEngineBaseUrl: string | undefined;
  /** Called when a task is done for good (succeeded or given up): drop it and reserve its name. */
  readonly retire: (queue: QueueRecord, task: TaskRecord) => void;
}

/** google.rpc.Code for an HTTP status, as Google maps them. */
export function rpcCodeForHttpStatus(status: number): number {
  if (status >= 200 && status < 300) return 0;
  const exact: Record<number, number> = {
    400: 3,
    401: 16,
    403: 7,
    404: 5,
    409: 10,
    412: 9,
    416: 11,
    429: 8,
    499: 1,
    500: 13,
    501: 12,
    503: 14,
    504: 4,
  };
  if (exact[status] !== undefined) return exact[status];
  if (status >= 400 && status < 500) return 9;
  if (status >= 500 && status < 600) return 13;
  return 2;
}

/** Epoch seconds with microseconds, as App Engine formats X-AppEngine-TaskETA. */
function etaHeader(ms: number): string {
  return (ms / 1000).toFixed(6);
}

export class Dispatcher {
  private stopped = false;

  constructor(private readonly deps: DispatcherDeps) {}

  /** Puts a task (new or rescheduled) on its queue's schedule and lets the queue dispatch what is due. */
  schedule(queue: QueueRecord, task: TaskRecord): void {
    task.version++;
    queue.schedule.push(task.scheduleMs, { task, version: task.version });
    this.pump(queue);
  }

  /** RunTask: dispatches at once, whatever the queue's state and limits; returns after the attempt is recorded. */
  runNow(queue: QueueRecord, task: TaskRecord): void {
    task.version++; // its schedule entry, if any, is stale now
    this.start(queue, task);
  }

  /** Stops the queue's wake-up timer (paused, purged or deleted queue). */
  sleep(queue: QueueRecord): void {
    queue.timer?.cancel();
    queue.timer = undefined;
  }

  /** Stops everything: timers are cancelled by the owner through sleep(); attempts in flight are ignored. */
  stop(): void {
    this.stopped = true;
  }

  /** Dispatches every due task the queue's state, concurrency and rate limit allow, then sleeps until the next one. */
  pump(queue: QueueRecord): void {
    if (this.stopped || queue.deleted || queue.state !== 'RUNNING' || this.deps.dispatch === 'manual') {
      this.sleep(queue);
      return;
    }
    const { clock } = this.deps;
    const now = clock.now();
    const rate = queue.config.rate;
    for (;;) {
      if (queue.inFlight >= rate.maxConcurrentDispatches) return; // an attempt finishing pumps again
      const next = queue.schedule.peek();
      if (!next) return;
      const { task, version } = next.value;
      if (!task.alive || task.version !== version) {
        queue.schedule.pop();
        continue;
      }
      if (now >= task.createMs + queue.config.taskTtlMs) {
        // Outlived the queue's task_ttl: deleted, dispatched or not.
        queue.schedule.pop();
        this.deps.retire(queue, task);
        continue;
      }
      if (next.due > now) {
        this.wakeAt(queue, next.due);
        return;
      }
      // Token bucket: refill for the time elapsed, take one token per dispatch.
      const perMs = rate.maxDispatchesPerSecond / 1000;
      queue.tokens = Math.min(rate.maxBurstSize, queue.tokens + (now - queue.tokensAtMs) * perMs);
      queue.tokensAtMs = now;
      if (queue.tokens < 1 - 1e-9) {
        this.wakeAt(queue, now + Math.ceil((1 - queue.tokens) / perMs));
        return;
      }
      queue.tokens = Math.max(0, queue.tokens - 1);
      queue.schedule.pop();
      this.start(queue, task);
    }
  }

  private wakeAt(queue: QueueRecord, due: number): void {
    if (queue.timer && queue.timer.due <= due) return;
    queue.timer?.cancel();
    const { clock } = this.deps;
    const cancel = clock.setTimer(
      () => {
        queue.timer = undefined;
        this.pump(queue);
      },
      Math.max(0, due - clock.now()),
    );
    queue.timer = { due, cancel };
  }

  /** Records the attempt on the task and sends it; the outcome is applied when it comes back. */
  private start(queue: QueueRecord, task: TaskRecord): void {
    const { clock } = this.deps;
    const now = clock.now();
    const retryCount = task.dispatchCount;
    task.dispatchCount++;
    task.inFlight++;
    queue.inFlight++;
    task.firstAttemptDispatchMs ??= now;
    const attempt = { scheduleMs: task.scheduleMs, dispatchMs: now } as NonNullable<TaskRecord['lastAttempt']>;
    task.lastAttempt = attempt;
    // Whatever a task holds, a dispatch ends as an attempt's outcome: a failure to build or send it is an attempt that
    // reached no handler, never an exception in the process that hosts the emulator.
    const send = async (): Promise<AttemptOutcome> => {
      try {
        return await this.deps.sender.send(this.request(queue, task, retryCount, now));
      } catch (error) {
        return { kind: 'unreachable', message: `the request cannot be sent: ${(error as Error).message}` };
      }
    };
    const work = send().then((outcome) => {
      queue.inFlight--;
      task.inFlight--;
      if (this.stopped || outcome.kind === 'aborted') return;
      this.complete(queue, task, attempt, outcome);
      this.pump(queue);
    });
    clock.track?.(work);
  }

  private complete(
    queue: QueueRecord,
    task: TaskRecord,
    attempt: NonNullable<TaskRecord['lastAttempt']>,
    outcome: Exclude<AttemptOutcome, { kind: 'aborted' }>,
  ): void {
    if (!task.alive || queue.deleted) return; // deleted or purged meanwhile: the outcome does not matter
    const now = this.deps.clock.now();
    if (outcome.kind === 'response') {
      const { status } = outcome;
      task.responseCount++;
      noteResponse(queue, now);
      const isHttp = task.target.kind === 'http';
      if (!(isHttp && status >= 500)) task.executionCount++;
      task.previousResponse = status;
      attempt.responseMs = now;
      attempt.responseStatus = { code: rpcCodeForHttpStatus(status), message: `HTTP status code ${status}` };
      if (status >= 200 && status < 300) {
        this.deps.retire(queue, task);
        return;
      }
    } else {
      task.previousResponse = undefined;
      attempt.responseStatus =
        outcome.kind === 'deadline'
          ? {
              code: 4,
              message: `The handler did not answer within the dispatch deadline of ${task.dispatchDeadlineMs / 1000}s.`,
            }
          : { code: 14, message: `The handler could not be reached: ${outcome.message}` };
    }
    const policy = task.retry ?? queue.config.retry;
    if (isGivenUp(policy, task.dispatchCount, task.firstAttemptDispatchMs ?? now, now)) {
      this.deps.retire(queue, task);
      return;
    }
    task.scheduleMs = now + retryDelayMs(policy, task.dispatchCount - 1);
    this.schedule(queue, task);
  }

  /** The HTTP request of one attempt, with the headers the real service sends. */
  private request(queue: QueueRecord, task: TaskRecord, retryCount: number, nowMs: number) {
    const t = task.target;
    const isHttp = t.kind === 'http';
    // An HTTP task goes out as its queue's HTTP target (v2beta3 queue-level routing) makes it, at each attempt.
    const http = isHttp
      ? applyHttpTarget(queue.config.httpTarget, {
          url: t.url,
          method: t.method,
          headers: t.headers,
          oidcToken: t.oidcToken,
          oauthToken: t.oauthToken,
        })
      : undefined;
    const method = http?.method ?? t.method;
    const headers: Array<[string, string]> = [];
    for (const [name, value] of Object.entries(http?.headers ?? t.headers)) {
      const lower = name.toLowerCase();
      if (lower === 'content-length' || lower === 'user-agent') continue;
      if (lower === 'authorization' && http && (http.oidcToken || http.oauthToken)) continue;
      headers.push([name, value]);
    }
    const prefix = isHttp ? 'X-CloudTasks-' : 'X-AppEngine-';
    headers.push(['User-Agent', isHttp ? HTTP_USER_AGENT : (t.headers['User-Agent'] ?? APP_ENGINE_USER_AGENT)]);
    headers.push([`${prefix}QueueName`, queue.id]);
    headers.push([`${prefix}TaskName`, task.id]);
    headers.push([`${prefix}TaskRetryCount`, String(retryCount)]);
    headers.push([`${prefix}TaskExecutionCount`, String(task.executionCount)]);
    headers.push([`${prefix}TaskETA`, etaHeader(task.etaMs)]);
    if (retryCount > 0) {
      if (task.previousResponse !== undefined) {
        headers.push([`${prefix}TaskPreviousResponse`, String(task.previousResponse)]);
      }
      headers.push([`${prefix}TaskRetryReason`, isHttp ? '' : 'App Error']);
    }
    let url: string;
    if (t.kind === 'appEngine') {
      url = `${(this.deps.appEngineBaseUrl ?? '').replace(/\/+$/, '')}${t.relativeUri}`;
    } else if (http) {
      url = http.url;
      if (http.oidcToken) {
        const token = this.deps.oidc.sign(
          { email: http.oidcToken.serviceAccountEmail, audience: http.oidcToken.audience || http.url },
          nowMs,
        );
        headers.push(['Authorization', `Bearer ${token}`]);
      } else if (http.oauthToken) {
        headers.push(['Authorization', `Bearer emulator-oauth-token.${http.oauthToken.serviceAccountEmail}`]);
      }
    } else {
      url = t.url;
    }
    // A queue that turns a task into a GET (or any method without a body) drops its body at execution time.
    const body = method === 'POST' || method === 'PUT' || method === 'PATCH' ? t.body : Buffer.alloc(0);
    return { url, method, headers, body, deadlineMs: task.dispatchDeadlineMs };
  }
}
