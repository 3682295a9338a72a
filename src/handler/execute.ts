/** The transport-independent handler: routes, authenticates, and runs one delivery of a task (inline or entity-backed). */
import type { Key } from '@google-cloud/datastore';
import type { ResolvedConfig } from '../core/config.js';
import { checkSignature, SIGNATURE_HEADER } from '../codec/index.js';
import {
  SCHEDULE_HORIZON_MS,
  parseStoredRequest,
  resignRequest,
  retargetRequest,
  storedRequest,
} from '../core/cloud-task-request.js';
import { CREATE_TASK_CONCURRENCY, createTaskOnce } from '../core/cloud-task-calls.js';
import {
  decodeCall,
  isTaskEnvelope,
  keyOfRef,
  parseCall,
  signBody,
  type CodecSettings,
  type ParsedEnvelope,
} from '../core/task-envelope.js';
import { hopTaskId, queuePath, randomId, taskIdOf } from '../core/task-names.js';
import type { TaskDefinition, TaskRegistry } from '../core/task-registry.js';
import { BadEnvelopeError } from '../errors/payload.js';
import { UnauthenticatedError } from '../errors/runtime.js';
import { PermanentTaskFailure } from '../errors/task-failures.js';
import { DEFAULT_DISPATCH_DEADLINE_MS } from '../core/config.js';
import { appendAttemptLog, attemptLogKey, deleteAttemptLog, readAttemptLog } from '../store/attempt-log.js';
import { appendHistory, attemptRecord } from '../store/history.js';
import { formatTaskKey } from '../store/key-text.js';
import { DEFAULT_RETENTION_MS, TASK_KIND, type AttemptRecord } from '../store/schema.js';
import {
  claimTask,
  completeTask,
  retargetTask,
  type DeliverySchedule,
  type RunOutcome,
} from '../store/state-machine.js';
import {
  failedTaskMutations,
  inlineFailureName,
  packPayload,
  readPayload,
  saveTask,
  taskKey,
  type StoredTask,
} from '../store/task-entity.js';
import type { LogEntry, LogSeverity, SweepFunction, TaskEvent, TaskInfo } from '../types.js';
import { BodyBudget } from './body-budget.js';
import { runInDelivery, runWithContext, setDeliveryLogFields, type RunContext } from '../core/run-context.js';
import { traceContextOfHeaders, traceLogFields, type TraceContext } from '../core/trace-context.js';
import { telemetry, type OtelSpan, type Telemetry } from '../core/telemetry.js';
import { endRunSpan, startRunSpan, tracedInfo } from './run-trace.js';
import { carriesStack, deliveryFields, deliveryLine, requestLineFields, runLine } from './run-log.js';
import type { EventHub } from '../core/events.js';
import { describeError, log, writeLog } from '../core/logger.js';
import { oidcVerifier } from './oidc-verifier.js';
import { readDeliveryHeaders, type DeliveryHeaders } from './task-headers.js';
import type { NamespaceRegistry } from '../store/namespace-registry.js';
import { JobPool } from '../util/job-pool.js';
import { isThenable } from '../util/thenable.js';

/** A request as the adapters hand it over: lower-cased header names, the whole body. */
export interface CoreRequest {
  readonly method: string;
  /** Path without the query string. */
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
  /**
   * What {@link TaskExecutor.preflight} found for this request before its body was read: whether the transport is
   * authenticated (an OIDC token, a trusted App Engine header). Absent: `handle` runs the preflight itself.
   */
  readonly transport?: boolean;
  /** Gives back the body's share of the unverified-body budget; called once the signature has been checked. */
  readonly release?: () => void;
}

/** What the preflight of a request decided before its body is read: answer now, or read the body. */
export type Preflight = { readonly response: CoreResponse } | { readonly transport: boolean };

/** The answer: a status and a small JSON body saying what happened. */
export interface CoreResponse {
  readonly status: number;
  readonly body: Readonly<Record<string, unknown>>;
}

/** Which route a path is. */
export type Route = { readonly kind: 'task'; readonly name: string } | { readonly kind: 'sweep' } | null;

/** Maps a request path to a route under `basePath`. */
export function routeOf(path: string, basePath: string): Route {
  if (!path.startsWith(`${basePath}/`)) return null;
  const rest = path.slice(basePath.length + 1);
  if (rest === 'sweep') return { kind: 'sweep' };
  const match = /^tasks\/([^/]+)$/.exec(rest);
  if (!match) return null;
  try {
    return { kind: 'task', name: decodeURIComponent(match[1]!) };
  } catch {
    return null;
  }
}

/** {@link routeOf} with the answers for the paths seen so far remembered (a deployment has a handful of task paths). */
export class RouteCache {
  private readonly known = new Map<string, Route>();
  /** Paths remembered at most, so a client cycling through made-up paths cannot grow it. */
  static readonly LIMIT = 1000;

  constructor(private readonly basePath: string) {}

  get(path: string): Route {
    let route = this.known.get(path);
    if (route === undefined) {
      route = routeOf(path, this.basePath);
      if (route && this.known.size < RouteCache.LIMIT) this.known.set(path, route);
    }
    return route;
  }
}

/** What the executor needs from the runtime. */
export interface ExecutorDeps {
  readonly config: ResolvedConfig;
  readonly registry: TaskRegistry;
  /** The namespaces task entities may be in: the runtime's own and the registered ones. */
  readonly namespaces: NamespaceRegistry;
  readonly codec: CodecSettings;
  readonly sweep: () => SweepFunction | undefined;
  /** Where the task events go (`deferred.on`). */
  readonly events?: EventHub;
}

/** A run being made: its task info (with its trace), and its CONSUMER span when OpenTelemetry is there. */
interface Run {
  readonly info: TaskInfo;
  readonly otel: Telemetry | null;
  readonly span: OtelSpan | null;
}

/** How a delivery ended, and the error that ended it (if any). */
interface Ended {
  readonly outcome: RunOutcome;
  readonly error?: unknown;
}

const ok = (outcome: string, extra: Record<string, unknown> = {}): CoreResponse => ({
  status: 200,
  body: { outcome, ...extra },
});

/** Runs deliveries. One per runtime instance. */
export class TaskExecutor {
  private readonly verifyOidc:
    ((authorization: string | undefined, accounts: readonly string[]) => Promise<void>) | null;
  /** Service accounts accepted on task routes, and on the sweep route. */
  private readonly accounts: { readonly task: readonly string[]; readonly sweep: readonly string[] };
  /** Bytes of request bodies held before their signature is checked, across every request of this runtime. */
  readonly budget: BodyBudget;

  constructor(private readonly deps: ExecutorDeps) {
    const { oidc, clock } = deps.config;
    this.verifyOidc =
      oidc && oidc.verify
        ? oidcVerifier({
            audience: oidc.audience,
            issuers: oidc.issuers,
            jwksUri: oidc.jwksUri,
            jwks: oidc.jwks,
            clock,
          })
        : null;
    this.budget = new BodyBudget(deps.config.maxUnverifiedBodyBytes);
    this.accounts = {
      task: oidc ? [oidc.serviceAccountEmail] : [],
      sweep: oidc ? [oidc.serviceAccountEmail, ...oidc.sweepServiceAccounts] : [],
    };
  }

  /**
   * Decides from the method, the route and the headers alone whether a request's body may be read: 405, 404 (no
   * sweep function) and 403 (a missing or bad OIDC token, no trusted App Engine header) are answered before a byte of
   * the body is read or held.
   */
  preflight(
    route: NonNullable<Route>,
    method: string,
    path: string,
    headers: CoreRequest['headers'],
  ): Preflight | Promise<Preflight> {
    if (method !== 'POST') return { response: { status: 405, body: { error: 'use POST' } } };
    if (route.kind === 'sweep' && !this.deps.sweep()) {
      return { response: { status: 404, body: { error: 'no sweep function registered (deferred.onSweep)' } } };
    }
    // Only OIDC verification waits for anything: without it the answer is ready now (no promise per request).
    if (this.verifyOidc) return this.preflightOidc(route, path, headers);
    try {
      return { transport: this.appEngineTransport(headers, route.kind) };
    } catch (error) {
      return { response: this.refusal(path, error, headers) };
    }
  }

  private async preflightOidc(
    route: NonNullable<Route>,
    path: string,
    headers: CoreRequest['headers'],
  ): Promise<Preflight> {
    try {
      await this.verifyOidc!(headers['authorization'], this.accounts[route.kind]);
      return { transport: true };
    } catch (error) {
      return { response: this.refusal(path, error, headers) };
    }
  }

  /** Handles one request whose route is known (the adapters route first, so they only read bodies of our routes). */
  async handle(route: NonNullable<Route>, request: CoreRequest): Promise<CoreResponse> {
    let transport = request.transport;
    if (transport === undefined) {
      const pending = this.preflight(route, request.method, request.path, request.headers);
      const preflight: Preflight = pending instanceof Promise ? await pending : pending;
      if ('response' in preflight) return preflight.response;
      transport = preflight.transport;
    }
    try {
      if (route.kind === 'sweep') return await this.handleSweep(request, transport);
      return await this.handleTask(route.name, request, transport);
    } catch (error) {
      if (error instanceof UnauthenticatedError) return this.refusal(request.path, error, request.headers);
      log(this.deps.config.logger, {
        severity: 'ERROR',
        message: `handler error on ${request.path}: ${describeError(error)}`,
        ...requestLineFields(this.deps.config.projectId, request.path, request.headers),
        stack_trace: error instanceof Error ? error.stack : undefined,
      });
      return { status: 500, body: { error: 'internal error' } };
    }
  }

  /** The 403 of an unauthenticated request, with its one log line (anything else is rethrown). */
  private refusal(path: string, error: unknown, headers: CoreRequest['headers']): CoreResponse {
    if (!(error instanceof UnauthenticatedError)) throw error;
    log(this.deps.config.logger, {
      severity: 'WARNING',
      message: `rejected unauthenticated request to ${path}: ${error.message}`,
      ...requestLineFields(this.deps.config.projectId, path, headers),
    });
    return { status: 403, body: { error: 'forbidden' } };
  }

  /**
   * The answer to a request whose body would take the bodies waiting for their signature check past
   * `maxUnverifiedBodyBytes` (the adapters stop reading it), with its one log line. Cloud Tasks retries a 503.
   */
  busy(path: string, limit: number, headers: CoreRequest['headers'] = {}): CoreResponse {
    log(this.deps.config.logger, {
      severity: 'WARNING',
      message: `rejected a request to ${path}: the bodies waiting for their signature check already hold maxUnverifiedBodyBytes (${limit} bytes); stopped reading it, try again later`,
      ...requestLineFields(this.deps.config.projectId, path, headers),
    });
    return { status: 503, body: { error: 'busy: too many unverified request bodies, try again later' } };
  }

  /** The answer to a request whose body is over `limit` bytes (the adapters stop reading it), with its one log line. */
  tooLarge(path: string, limit: number, headers: CoreRequest['headers'] = {}): CoreResponse {
    log(this.deps.config.logger, {
      severity: 'WARNING',
      message: `rejected a request to ${path}: its body is larger than maxBodyBytes (${limit} bytes); stopped reading it`,
      ...requestLineFields(this.deps.config.projectId, path, headers),
    });
    return { status: 413, body: { error: `body larger than ${limit} bytes` } };
  }

  /** Without OIDC: App Engine's queue header when trusted (true), else nothing (false; the signature still applies). */
  private appEngineTransport(headers: CoreRequest['headers'], route: 'task' | 'sweep'): boolean {
    if (this.deps.config.trustAppEngineHeaders) {
      const appEngineHeaders =
        route === 'sweep' ? ['x-appengine-cron', 'x-appengine-queuename'] : ['x-appengine-queuename'];
      if (!appEngineHeaders.some((name) => headers[name] !== undefined)) {
        throw new UnauthenticatedError(`missing App Engine header (${appEngineHeaders.join(' or ')})`);
      }
      return true;
    }
    return false;
  }

  /** Throws {@link UnauthenticatedError} unless the body is signed for `route` (or, in the upgrade window, v1-signed). */
  private checkSigned(request: CoreRequest, route: 'task' | 'sweep'): void {
    const { config } = this.deps;
    const check = checkSignature(request.body, request.headers[SIGNATURE_HEADER], config.secrets, route);
    if (check === 'valid') return;
    const legacy = check === 'legacy' && config.legacySignatures === 'accept';
    if (route === 'task') {
      if (legacy) return;
      if (check === 'other-purpose') {
        throw new UnauthenticatedError('the body is signed for the sweep route, not for a task route');
      }
      if (check === 'legacy') {
        throw new UnauthenticatedError("a v1 signature, refused since legacySignatures is 'refuse'");
      }
      throw new UnauthenticatedError('missing, bad or stale signature (x-deferred-signature)');
    }
    // A v1 signature is bound to no route; its body is not a task's (checked before), so it is a 0.1 sweep request.
    if (legacy) return;
    if (check === 'other-purpose' || check === 'legacy') {
      throw new UnauthenticatedError(
        "the body is signed for a task route: a task's body cannot start a sweep (sign sweep requests with sign(body, secret, 'sweep'))",
      );
    }
    throw new UnauthenticatedError('sweep request is neither signed nor from a trusted scheduler');
  }

  private async handleSweep(request: CoreRequest, transport: boolean): Promise<CoreResponse> {
    const sweep = this.deps.sweep();
    if (!sweep) return { status: 404, body: { error: 'no sweep function registered (deferred.onSweep)' } };
    request.release?.();
    // A task's body (a captured delivery, even with its OIDC token) never starts a sweep, whatever signs it.
    if (isTaskEnvelope(request.body, this.deps.config.maxDepth)) {
      throw new UnauthenticatedError("the body is a task's: a task's body cannot start a sweep");
    }
    if (!transport) this.checkSigned(request, 'sweep');
    const result = await sweep({
      method: request.method,
      headers: request.headers,
      query: request.query,
      body: request.body,
    });
    return ok('swept', { result: result ?? null });
  }

  /**
   * Handles a task delivery: checks its signature, reads its headers and envelope, then runs it in its delivery's
   * scope, where every line logged carries its trace and its task's labels. Not async itself: a body that does not
   * parse is answered at once, and otherwise the run's own promise is the answer.
   */
  private handleTask(name: string, request: CoreRequest, transport: boolean): CoreResponse | Promise<CoreResponse> {
    try {
      this.checkSigned(request, 'task');
    } finally {
      request.release?.();
    }
    const delivered = traceContextOfHeaders(request.headers);
    let parsed: ParsedEnvelope;
    try {
      parsed = parseCall(request.body, this.deps.config.maxDepth);
      if (parsed.task !== name) throw new Error(`envelope is for task ${parsed.task}, URL for ${name}`);
    } catch (error) {
      return this.malformed(name, delivered, error);
    }
    const delivery = readDeliveryHeaders(request.headers);
    const info = this.taskInfo(name, delivery, parsed, delivered);
    return runInDelivery({ fields: info.logFields }, () =>
      parsed.ref ? this.runEntityBacked(info, parsed, delivery, transport) : this.runInline(info, parsed, request.body),
    );
  }

  /**
   * Answers a body signed by us but unreadable: retrying cannot help, so 2xx (no retry storm), and one ERROR line in
   * the delivery's trace to say so loudly.
   */
  private malformed(name: string, delivered: TraceContext | null, error: unknown): CoreResponse {
    const { config } = this.deps;
    writeLog(config.logger, {
      ...(delivered ? traceLogFields(config.projectId, delivered) : {}),
      severity: 'ERROR',
      message: `dropped a signed but malformed task body: ${describeError(error)}`,
      task: name,
    });
    return ok('rejected', { error: 'malformed body' });
  }

  private taskInfo(
    name: string,
    delivery: DeliveryHeaders,
    parsed: ParsedEnvelope,
    delivered: TraceContext | null,
  ): TaskInfo {
    const { config } = this.deps;
    const queue = delivery.queue ?? config.queue;
    const taskId = delivery.taskId ?? `direct-${randomId()}`;
    return tracedInfo(
      config.projectId,
      {
        task: name,
        queue,
        cloudTaskName: `${queuePath(config.projectId, config.location, queue)}/tasks/${taskId}`,
        retryCount: delivery.retryCount,
        executionCount: delivery.executionCount,
        attempt: delivery.retryCount + 1,
        maxAttempts: parsed.meta.maxAttempts ?? null,
        eta: delivery.etaMs === null ? null : new Date(delivery.etaMs),
        previousResponse: delivery.previousResponse,
        retryReason: delivery.retryReason,
        entityKey: null,
      },
      delivered,
    );
  }

  /**
   * Starts a run: its CONSUMER span when OpenTelemetry is there (linked to the delivered trace), and the run's trace
   * and log fields from it. `info.trace` is still the delivered context here.
   */
  private async startRun(info: TaskInfo): Promise<Run> {
    const found = this.deps.config.openTelemetry ? telemetry() : null;
    const otel = found instanceof Promise ? await found : found;
    if (!otel) return noSpan(info);
    const started = startRunSpan(otel, info, info.trace);
    const traced = tracedInfo(this.deps.config.projectId, info, info.trace, started.context);
    setDeliveryLogFields(traced.logFields);
    return { info: traced, otel, span: started.span };
  }

  /** The definition to run, or the outcome of a delivery that must not run (task not registered here, past maxAttempts). */
  private admit(info: TaskInfo): { definition: TaskDefinition } | Ended {
    const definition = this.deps.registry.get(info.task);
    if (!definition) {
      const error = unknownTaskMessage(info.task);
      if (this.deps.config.unknownTasks === 'fail') return { outcome: { kind: 'failed', error } };
      // 'retry' (rolling deploys): another delivery may reach an instance that knows the task, within maxAttempts.
      return { outcome: retryOrGiveUp(error, info) };
    }
    if (info.maxAttempts !== null && info.attempt > info.maxAttempts) {
      return {
        outcome: { kind: 'failed', error: `gave up: attempt ${info.attempt} exceeds maxAttempts ${info.maxAttempts}` },
      };
    }
    return { definition };
  }

  /**
   * Decodes an admitted delivery's arguments, runs it and classifies how it ended. Arguments this deployment cannot
   * decode (a `$class` whose codec a deploy removed, a tag it does not know) fail for good: every retry would fail the
   * same way. An error thrown by a class codec's own `decode` (e.g. a failed look-up) is retried like a run's.
   */
  private async attempt(definition: TaskDefinition, run: Run, call: ParsedEnvelope): Promise<Ended> {
    const { info } = run;
    const events = this.deps.events;
    if (events?.has('taskStarted')) events.emit('taskStarted', taskEvent(info));
    let decoded: { args: unknown[]; bound: unknown };
    try {
      const pending = decodeCall(call, this.deps.codec);
      decoded = pending instanceof Promise ? await pending : pending;
    } catch (caught) {
      if (!(caught instanceof BadEnvelopeError)) return { outcome: this.outcomeOf(caught, info), error: caught };
      return {
        outcome: { kind: 'failed', error: `its arguments cannot be decoded here: ${describeError(caught)}` },
        error: caught,
      };
    }
    // The function runs in its context; once it has succeeded, the children it deferred are created.
    const context: RunContext = { info, children: [], sequence: 0, closed: false };
    try {
      const result = this.invoke(definition, run, context, decoded);
      if (isThenable(result)) await result;
    } catch (caught) {
      return { outcome: this.outcomeOf(caught, info), error: caught };
    } finally {
      context.closed = true;
    }
    const failed = await flushChildren(context.children);
    if (failed) return { outcome: this.outcomeOf(failed.error, info), error: failed.error };
    return { outcome: { kind: 'done' } };
  }

  /**
   * Calls the function in `context` (and, when traced, within its span) and returns what it returned: a synchronous
   * function's throw reaches attempt() directly, and only a promise is awaited there.
   */
  private invoke(
    definition: TaskDefinition,
    { otel, span }: Run,
    context: RunContext,
    { args, bound }: { args: unknown[]; bound: unknown },
  ): unknown {
    if (otel && span) return otel.within(span, () => runWithContext(context, async () => definition.run(args, bound)));
    return runWithContext(context, () => definition.run(args, bound));
  }

  /** Classifies a run's error: permanent (record failed, 2xx) or retry (non-2xx), honouring maxAttempts. */
  private outcomeOf(error: unknown, info: TaskInfo): RunOutcome {
    const message = describeError(error);
    if (error instanceof PermanentTaskFailure) return { kind: 'failed', error: message };
    return retryOrGiveUp(message, info);
  }

  /**
   * Ends a run: its span, its log line, its event. `logged`: what the line says about the delivery (an inline
   * failure's line names its failure record). Returns the run's duration, which its line, its event and its history
   * entry all give.
   */
  private endRun(run: Run, outcome: RunOutcome, error: unknown, startedMs: number, logged = run.info): number {
    const durationMs = Math.max(0, Date.now() - startedMs);
    if (run.span) endRunSpan(run.span, outcome, error);
    writeLog(this.deps.config.logger, runLine(logged, outcome, error, durationMs));
    const events = this.deps.events;
    const event = ENDED[outcome.kind];
    if (events?.has(event)) {
      events.emit(event, {
        ...taskEvent(run.info),
        durationMs,
        ...(outcome.kind === 'done' ? {} : { error: outcome.error }),
      });
    }
    return durationMs;
  }

  /** The history entry of an attempt that ended with `outcome` (`attempt`: the entity's own run count, if any). */
  private attemptOf(info: TaskInfo, ended: Ended, durationMs: number, attempt = info.attempt): AttemptRecord {
    const { outcome, error } = ended;
    const stack = carriesStack(outcome, error) ? error.stack : undefined;
    return attemptRecord({
      at: new Date(this.deps.config.clock.now()),
      attempt,
      retryCount: info.retryCount,
      status: TaskExecutor.respond(outcome).status,
      outcome: outcome.kind,
      ...(outcome.kind === 'done' ? {} : { error: outcome.error }),
      ...(stack === undefined ? {} : { stack }),
      durationMs,
      trace: info.trace,
    });
  }

  private logSkip(info: TaskInfo, severity: LogSeverity, message: string, outcome: string): void {
    const line = deliveryLine(info, severity, message);
    line.outcome = outcome;
    writeLog(this.deps.config.logger, line as LogEntry);
  }

  private static respond(outcome: RunOutcome): CoreResponse {
    if (outcome.kind === 'retry') return { status: 500, body: { outcome: 'retry', error: outcome.error } };
    return ok(outcome.kind, outcome.kind === 'failed' ? { error: outcome.error } : {});
  }

  // ---- inline tasks: at-least-once, failures recorded in a `failed` entity --------------------------------------

  private async runInline(delivered: TaskInfo, parsed: ParsedEnvelope, body: Buffer): Promise<CoreResponse> {
    const startedMs = Date.now();
    const run = this.deps.config.openTelemetry ? await this.startRun(delivered) : noSpan(delivered);
    const { info } = run;
    const admitted = this.admit(info);
    const ended = 'outcome' in admitted ? admitted : await this.attempt(admitted.definition, run, parsed);
    const { outcome, error } = ended;
    // A permanent failure's line names the failure record it writes (`failed.<queue>.<id>`), for `deferred inspect`.
    const recordKey =
      outcome.kind === 'failed'
        ? taskKey(this.deps.config.datastore, inlineFailureName(info.queue, taskIdOf(info.cloudTaskName)))
        : null;
    const durationMs = this.endRun(
      run,
      outcome,
      error,
      startedMs,
      recordKey ? { ...info, entityKey: recordKey } : info,
    );
    if (outcome.kind === 'failed') {
      await this.recordInlineFailure(
        info,
        body,
        outcome.error,
        parsed.meta.retentionMs,
        this.attemptOf(info, ended, durationMs),
      );
    } else if (outcome.kind === 'retry') {
      await this.logInlineAttempt(info, this.attemptOf(info, ended, durationMs));
    } else if (info.retryCount > 0) {
      // Done after failed attempts: their log is no longer needed (best effort; the sweeper reclaims it by age).
      const { datastore } = this.deps.config;
      await deleteAttemptLog(datastore, attemptLogKey(datastore, attemptLogName(info))).catch(() => undefined);
    }
    return TaskExecutor.respond(outcome);
  }

  /** Appends a failed attempt of an inline task that will be retried to its attempt log (see store/attempt-log.ts). */
  private async logInlineAttempt(info: TaskInfo, attempt: AttemptRecord): Promise<void> {
    const { config } = this.deps;
    try {
      const key = attemptLogKey(config.datastore, attemptLogName(info));
      await appendAttemptLog(
        config.datastore,
        key,
        info.task,
        attempt,
        new Date(config.clock.now() + config.expireAfterMs),
      );
    } catch (caught) {
      log(config.logger, {
        severity: 'WARNING',
        message: `could not log the failed attempt of task ${info.task} (its failure record will miss it): ${describeError(caught)}`,
        ...deliveryFields(info),
      });
    }
  }

  /**
   * Writes a `failed` `_DeferredTask` record of an inline task (with its payload and its attempt history: the logged
   * earlier attempts and this one), for inspection and replay; swept after retention.
   */
  private async recordInlineFailure(
    info: TaskInfo,
    body: Buffer,
    lastError: string,
    retentionMs: number | undefined,
    attempt: AttemptRecord,
  ): Promise<void> {
    const { config } = this.deps;
    const nowMs = config.clock.now();
    const key = taskKey(config.datastore, inlineFailureName(info.queue, taskIdOf(info.cloudTaskName)));
    const logKey = attemptLogKey(config.datastore, attemptLogName(info));
    let earlier: AttemptRecord[] = [];
    if (info.retryCount > 0) {
      earlier = await readAttemptLog(config.datastore, logKey).catch(() => []);
    }
    try {
      await saveTask(
        config.datastore,
        failedTaskMutations(
          config.datastore,
          {
            key,
            task: info.task,
            queue: info.queue,
            cloudTaskName: info.cloudTaskName,
            cloudTaskRequest: '',
            transactional: false,
            etaMs: info.eta?.getTime() ?? nowMs,
            retentionMs: retentionMs ?? DEFAULT_RETENTION_MS,
          },
          { attempts: info.attempt, lastError, history: appendHistory(earlier, attempt) },
          { nowMs, shards: config.shards, expireAfterMs: config.expireAfterMs },
          packPayload(body),
        ),
      );
      if (info.retryCount > 0) await deleteAttemptLog(config.datastore, logKey).catch(() => undefined);
    } catch (caught) {
      log(config.logger, {
        severity: 'ERROR',
        message: `could not record the failure of task ${info.task}: ${describeError(caught)}`,
        task: info.task,
        taskName: info.cloudTaskName,
        entityKey: formatTaskKey(key),
      });
    }
  }

  // ---- entity-backed tasks: the state machine makes duplicate deliveries run nothing ----------------------------

  private leaseFor(task: StoredTask): number {
    if (this.deps.config.leaseMs !== null) return this.deps.config.leaseMs;
    let deadlineMs = DEFAULT_DISPATCH_DEADLINE_MS;
    try {
      const seconds = Number(parseStoredRequest(task.cloudTaskRequest).task?.dispatchDeadline?.seconds);
      if (Number.isFinite(seconds) && seconds > 0) deadlineMs = seconds * 1000;
    } catch {
      // no stored request: the default deadline
    }
    return deadlineMs + 60_000;
  }

  /**
   * When the delivered Cloud Task was due, for the state machine. The `X-CloudTasks-*` headers are not signed, so for
   * an entity-backed task the entity decides: the schedule of its own Cloud Task (in its stored request), before which
   * nothing runs. Only a delivery vouched for by its transport (an OIDC token, App Engine's header) is taken at its ETA
   * header's word, so a forced run (RunTask, which keeps the task's schedule time) runs before that time.
   */
  private scheduleOf(task: StoredTask, delivery: DeliveryHeaders, transport: boolean): DeliverySchedule {
    if (transport && delivery.etaMs !== null) {
      return { scheduledMs: delivery.etaMs, notBeforeMs: null, taskId: delivery.taskId };
    }
    const stored = storedScheduleMs(task);
    return { scheduledMs: stored, notBeforeMs: stored, taskId: delivery.taskId };
  }

  /** The entity's own account of a delivery: its queue, Cloud Task, ETA and attempt count (not the headers'). */
  private fromEntity(info: TaskInfo, task: StoredTask): TaskInfo {
    const fromEntity = tracedInfo(
      this.deps.config.projectId,
      {
        ...info,
        queue: task.queue || info.queue,
        cloudTaskName: task.cloudTaskName || info.cloudTaskName,
        eta: task.eta,
        attempt: Math.max(1, task.attempts),
        entityKey: task.key,
      },
      info.trace,
    );
    setDeliveryLogFields(fromEntity.logFields);
    return fromEntity;
  }

  private async runEntityBacked(
    info: TaskInfo,
    parsed: ParsedEnvelope,
    delivery: DeliveryHeaders,
    transport: boolean,
  ): Promise<CoreResponse> {
    const { config } = this.deps;
    let key: Key;
    try {
      key = keyOfRef(config.datastore, parsed.ref!);
      if (key.kind !== TASK_KIND) throw new Error(`ref points at kind ${key.kind}`);
    } catch (error) {
      log(config.logger, {
        severity: 'ERROR',
        message: `dropped a task whose entity reference is malformed: ${describeError(error)}`,
        task: info.task,
        taskName: info.cloudTaskName,
      });
      return ok('rejected', { error: 'malformed reference' });
    }
    // Signed, but this runtime writes task entities only in its own namespace and registered ones: a reference
    // anywhere else (another runtime's namespace; the default one, which a reference without a namespace means) is
    // not this runtime's to run, mark done or re-target.
    const namespace = key.namespace ?? '';
    if (!(await this.deps.namespaces.accepts(namespace))) {
      log(config.logger, {
        severity: 'ERROR',
        message: `dropped a task whose entity reference points into namespace ${JSON.stringify(namespace)}, where this runtime writes no task entities (its own is ${JSON.stringify(this.deps.namespaces.home)}; others are registered when a transaction first defers into them)`,
        task: info.task,
        taskName: info.cloudTaskName,
      });
      return ok('rejected', { error: 'reference outside the namespaces of this runtime' });
    }
    const withKey: TaskInfo = { ...info, entityKey: key };
    const nowMs = config.clock.now();
    const lease = (task: StoredTask) => this.leaseFor(task);
    const lookupFirst = delivery.retryCount > 0; // a redelivery: most likely finished or running already
    const schedule = (task: StoredTask) => this.scheduleOf(task, delivery, transport);
    const claim = await claimTask(config.datastore, key, nowMs, lease, schedule, { lookupFirst });
    switch (claim.kind) {
      case 'missing':
        this.logSkip(
          withKey,
          'INFO',
          `task ${info.task} has no entity (its transaction rolled back, or it was swept): nothing to run`,
          'missing',
        );
        return ok('missing');
      case 'finished':
        this.logSkip(
          withKey,
          'INFO',
          `task ${info.task} already ${claim.state}: duplicate delivery ignored`,
          'duplicate',
        );
        return ok('duplicate', { state: claim.state });
      case 'busy':
        this.logSkip(
          withKey,
          'WARNING',
          `task ${info.task} is running in another delivery until ${claim.leaseUntil.toISOString()}; retry later`,
          'busy',
        );
        return { status: 503, body: { outcome: 'busy', leaseUntil: claim.leaseUntil.toISOString() } };
      case 'notDue':
        this.logSkip(
          withKey,
          'WARNING',
          `task ${info.task} was delivered before its Cloud Task is due (${new Date(claim.dueMs).toISOString()}): nothing run (a replay, or a forced run that no OIDC token vouches for); retry later`,
          'notDue',
        );
        return { status: 503, body: { outcome: 'notDue', dueAt: new Date(claim.dueMs).toISOString() } };
      case 'stale':
        this.logSkip(
          withKey,
          'INFO',
          `task ${info.task} now belongs to Cloud Task ${claim.current}: this delivery of another one runs nothing`,
          'stale',
        );
        return ok('stale', { current: claim.current });
      case 'early':
        return this.hop(this.fromEntity(withKey, claim.task), claim.task);
      case 'run':
        return this.runClaimed(this.fromEntity(withKey, claim.task), claim.task);
    }
  }

  private async runClaimed(claimed: TaskInfo, task: StoredTask): Promise<CoreResponse> {
    const { config } = this.deps;
    const startedMs = Date.now();
    const run = this.deps.config.openTelemetry ? await this.startRun(claimed) : noSpan(claimed);
    const { info } = run;
    const admitted = this.admit(info);
    let ended: Ended;
    if ('outcome' in admitted) {
      ended = admitted;
    } else {
      const call = await this.storedCall(info, task);
      ended = 'outcome' in call ? call : await this.attempt(admitted.definition, run, call);
    }
    const { outcome, error } = ended;
    const durationMs = this.endRun(run, outcome, error, startedMs);
    const owned = await completeTask(
      config.datastore,
      task.key,
      task.attempts,
      outcome,
      config.clock.now(),
      this.attemptOf(info, ended, durationMs, task.attempts),
    );
    if (!owned) {
      this.logSkip(
        info,
        'WARNING',
        `task ${info.task} was taken over by another delivery; result not recorded`,
        'lost',
      );
    }
    return TaskExecutor.respond(outcome);
  }

  /** The call stored in a task's entity, or the failed outcome when it cannot be read (retrying would not help). */
  private async storedCall(info: TaskInfo, task: StoredTask): Promise<ParsedEnvelope | Ended> {
    const { config } = this.deps;
    try {
      const call = parseCall(await readPayload(config.datastore, task), config.maxDepth);
      if (call.task !== info.task) throw new Error(`stored envelope is for task ${call.task}`);
      return call;
    } catch (caught) {
      return {
        outcome: { kind: 'failed', error: `stored payload unreadable: ${describeError(caught)}` },
        error: caught,
      };
    }
  }

  /** Re-schedules a task delivered at Cloud Tasks' horizon, under a deterministic next name, and answers 2xx. */
  private async hop(info: TaskInfo, task: StoredTask): Promise<CoreResponse> {
    const { config } = this.deps;
    const currentId = taskIdOf(task.cloudTaskName);
    const nextId = hopTaskId(currentId);
    const scheduleMs = Math.min(task.eta.getTime(), config.clock.now() + SCHEDULE_HORIZON_MS);
    // Signed again (as v2) on the way: a task deferred by 0.1 carries a v1 signature in its stored request.
    const request = resignRequest(
      retargetRequest(parseStoredRequest(task.cloudTaskRequest), nextId, scheduleMs),
      (body) => signBody(body, config.secrets[0]!),
    );
    const name = request.task!.name!;
    if (task.cloudTaskName !== name) {
      if (!(await retargetTask(config.datastore, task.key, name, storedRequest(request)))) return ok('duplicate');
    }
    await createTaskOnce(config.tasks, request); // a taken name: this hop was made by an earlier delivery
    this.logSkip(info, 'INFO', `task ${info.task} is due ${task.eta.toISOString()}: hopped to ${name}`, 'hopped');
    return ok('hopped', { next: name });
  }
}

/** The event of each way a run ends. */
const ENDED = { done: 'taskSucceeded', failed: 'taskFailed', retry: 'taskRetried' } as const;

/** What the task events say about a run. */
/** A run without OpenTelemetry: no span, the delivered trace as it came. */
function noSpan(info: TaskInfo): Run {
  return { info, otel: null, span: null };
}

function taskEvent(info: TaskInfo): TaskEvent {
  return {
    task: info.task,
    queue: info.queue,
    cloudTaskName: info.cloudTaskName,
    attempt: info.attempt,
    entityBacked: info.entityKey !== null,
    info,
  };
}

/** A failed attempt: retried, unless it was the last one maxAttempts allows. */
function retryOrGiveUp(error: string, info: TaskInfo): RunOutcome {
  if (info.maxAttempts !== null && info.attempt >= info.maxAttempts) {
    return { kind: 'failed', error: `${error} (gave up after ${info.attempt} of ${info.maxAttempts} attempts)` };
  }
  return { kind: 'retry', error };
}

/** The name of an inline task's attempt log (`<queue>.<Cloud Task id>`): its failed attempts, while it is retried. */
function attemptLogName(info: TaskInfo): string {
  return `${info.queue}.${taskIdOf(info.cloudTaskName)}`;
}

function unknownTaskMessage(name: string): string {
  return `no task is registered as ${JSON.stringify(name)} in this deployment; register it with deferred.task(${JSON.stringify(name)}, fn) (or deploy the code that does) and defer it again`;
}

/**
 * The schedule time of a task entity's own Cloud Task, from its stored CreateTask request; for a request without one,
 * the ETA capped at the horizon from its creation (what the runtime schedules).
 */
function storedScheduleMs(task: StoredTask): number {
  try {
    const time = parseStoredRequest(task.cloudTaskRequest).task?.scheduleTime;
    const seconds = Number(time?.seconds);
    if (time && Number.isFinite(seconds)) return seconds * 1000 + Math.floor(Number(time.nanos ?? 0) / 1e6);
  } catch {
    // no stored request
  }
  return Math.min(task.eta.getTime(), task.created.getTime() + SCHEDULE_HORIZON_MS);
}

/**
 * Creates the children a successful run deferred: its single defers CREATE_TASK_CONCURRENCY at a time, then each of
 * its deferMany calls in turn (each with its own bound), so that no more than one such bound is in flight. Resolves
 * with the first error, if any, once every child has been tried. The run is then retried, and its children's names
 * are derived again, so those that were created are not doubled.
 */
async function flushChildren(children: RunContext['children']): Promise<{ error: unknown } | null> {
  if (children.length === 0) return null;
  let failed: { error: unknown } | null = null;
  const flush = (child: RunContext['children'][number]) =>
    child.flush().catch((error: unknown) => {
      failed ??= { error };
    });
  const pool = new JobPool(CREATE_TASK_CONCURRENCY);
  for (const child of children) if (!child.bulk) pool.run(() => flush(child));
  await pool.idle();
  for (const child of children) if (child.bulk) await flush(child);
  return failed;
}
