/** The dashboard's HTTP core, independent of the framework: authorization, routing, security headers, CSRF checks, the JSON API and its actions. */
import { DeferredError } from '../errors/base.js';
import { InvalidArgumentError } from '../errors/invalid-argument.js';
import { log } from '../core/logger.js';
import type { FailureLedger } from '../types.js';
import { loadAssets, type Asset } from './assets.js';
import { countTasks } from './counts.js';
import { CSRF_HEADER, SESSION_COOKIE, checkCsrf, cookie, csrfToken, newSessionId, parseCookies } from './csrf.js';
import { changeFailed, failuresByHour, filterOf, listFailed, readFailed } from './failed-view.js';
import { changeRecurringJob, listJobs, readMapperJob } from './jobs-view.js';
import {
  checkDashboardOptions,
  normalizeBasePath,
  type DashboardOptions,
  type DashboardRequest,
} from './dashboard-options.js';
import { namespaceName } from '../store/namespace-registry.js';
import { pickNamespace, shownNamespaces } from './namespaces.js';
import { pageHtml } from './page.js';
import { checkQueueId, listQueues, setQueueState } from './queues.js';
import { Reader } from './reads.js';
import { resolveSource, type DashboardSource } from './source.js';
import { recentSweepRuns, sweepNow } from './sweeps.js';
import { listTasks, readTask } from './tasks.js';

/** A request as the adapters hand it over. */
export interface HttpRequest {
  readonly method: string;
  /** Path of the request target, without the query. */
  readonly path: string;
  readonly query: URLSearchParams;
  /** Lower-cased names. */
  readonly headers: Readonly<Record<string, string>>;
  /** Reads the body, at most `limit` bytes (null when it is larger). */
  readonly body: (limit: number) => Promise<Buffer | null>;
  /** Came over HTTPS (directly or, by `X-Forwarded-Proto`, through a proxy). */
  readonly secure: boolean;
  /** The framework's own request, for `authorize`. */
  readonly native: DashboardRequest;
}

/** An answer for the adapters to send. */
export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[]>;
  body: string | Buffer;
}

/** The page may load only its own files and talk only to its own origin. */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'permissions-policy': 'camera=(), microphone=(), geolocation=()',
};

/** Largest body of a change request. */
const MAX_ACTION_BYTES = 64 * 1024;

function respond(status: number, body: string | Buffer, type: string, extra: Record<string, string | string[]> = {}) {
  return {
    status,
    headers: { ...SECURITY_HEADERS, 'content-type': type, 'cache-control': 'no-store', ...extra },
    body,
  } satisfies HttpResponse;
}

const json = (status: number, value: unknown, extra?: Record<string, string | string[]>) =>
  respond(status, JSON.stringify(value), 'application/json; charset=utf-8', extra);
const text = (status: number, message: string) => respond(status, `${message}\n`, 'text/plain; charset=utf-8');

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** A value cached for a while, shared by the requests that ask for it meanwhile. */
class Memo {
  private readonly entries = new Map<string, { until: number; value: Promise<unknown> }>();
  constructor(private readonly ttlMs: number) {}
  get<T>(key: string, load: () => Promise<T>): Promise<T> {
    const now = Date.now();
    const hit = this.entries.get(key);
    if (hit && hit.until > now) return hit.value as Promise<T>;
    const value = load();
    this.entries.set(key, { until: now + this.ttlMs, value });
    value.catch(() => this.entries.delete(key));
    return value;
  }
  clear(): void {
    this.entries.clear();
  }
}

/** Options resolved for serving. */
interface Served {
  readonly source: DashboardSource;
  readonly basePath: string;
  readonly readOnly: boolean;
  readonly refreshMs: number;
  readonly title: string;
  readonly authorize: DashboardOptions['authorize'];
}

/** The dashboard behind both adapters. */
export class DashboardCore {
  private readonly served: Served;
  private assets: Promise<{ files: Map<string, Asset>; version: string }> | undefined;
  private readonly memo: Memo;
  private readonly countsMemo: Memo;

  constructor(options: DashboardOptions) {
    checkDashboardOptions(options);
    this.served = {
      source: resolveSource(options),
      basePath: normalizeBasePath(options.basePath ?? '/_dashboard'),
      readOnly: options.readOnly === true,
      refreshMs: options.refreshMs ?? 10_000,
      title: options.title ?? 'cloud-deferred',
      authorize: options.authorize,
    };
    this.memo = new Memo(Math.max(500, this.served.refreshMs - 250));
    this.countsMemo = new Memo(Math.max(500, (options.countsRefreshMs ?? 30_000) - 250));
  }

  /** Where the dashboard is mounted (`''` at the root). */
  get basePath(): string {
    return this.served.basePath;
  }

  /** True when `path` is one the dashboard serves. */
  owns(path: string): boolean {
    const base = this.served.basePath;
    return path === base || path.startsWith(`${base}/`);
  }

  /** Answers a request for a path the dashboard owns. */
  async handle(request: HttpRequest): Promise<HttpResponse> {
    let user: string | true;
    try {
      const verdict = await this.served.authorize(request.native);
      if (verdict === false || (verdict !== true && (typeof verdict !== 'string' || verdict === ''))) {
        return text(403, 'Forbidden: the dashboard is open only to those its authorize() function lets in.');
      }
      user = verdict;
    } catch (error) {
      log(this.served.source.logger, {
        severity: 'ERROR',
        message: `dashboard: authorize() threw: ${(error as Error)?.message ?? String(error)}`,
        event: 'dashboard-authorize-error',
      });
      return text(500, 'The dashboard could not check this request (authorize() failed).');
    }
    const rel = request.path.slice(this.served.basePath.length);
    try {
      if (request.method === 'GET' || request.method === 'HEAD') return await this.get(rel, request);
      if (request.method === 'POST') return await this.post(rel, request, user);
      return respond(405, 'Method not allowed\n', 'text/plain; charset=utf-8', { allow: 'GET, HEAD, POST' });
    } catch (error) {
      if (error instanceof HttpError) return json(error.status, { error: error.message });
      if (error instanceof InvalidArgumentError) return json(400, { error: error.message });
      const message = (error as Error)?.message?.split('\n')[0] ?? String(error);
      log(this.served.source.logger, {
        severity: 'ERROR',
        message: `dashboard: ${request.method} ${request.path} failed: ${message}`,
        event: 'dashboard-error',
      });
      return json(error instanceof DeferredError ? 400 : 500, { error: message });
    }
  }

  private loadAssets() {
    this.assets ??= loadAssets();
    return this.assets;
  }

  private async get(rel: string, request: HttpRequest): Promise<HttpResponse> {
    const { source, basePath } = this.served;
    if (rel === '') return respond(308, '', 'text/plain; charset=utf-8', { location: `${basePath}/` });
    if (rel === '/') {
      const cookies = parseCookies(request.headers.cookie);
      let session = cookies.get(SESSION_COOKIE);
      const extra: Record<string, string> = {};
      if (!session || !/^[A-Za-z0-9_-]{16,64}$/.test(session)) {
        session = newSessionId();
        extra['set-cookie'] = cookie(SESSION_COOKIE, session, `${basePath}/`, request.secure);
      }
      const { version } = await this.loadAssets();
      const html = pageHtml({
        basePath,
        csrf: csrfToken(source.csrfKey, session),
        title: this.served.title,
        assetVersion: version,
      });
      return respond(200, html, 'text/html; charset=utf-8', extra);
    }
    if (rel.startsWith('/assets/')) {
      const { files } = await this.loadAssets();
      const asset = files.get(rel.slice('/assets/'.length));
      if (!asset) return text(404, 'Not found');
      if (request.headers['if-none-match'] === asset.etag) {
        return {
          status: 304,
          headers: { ...SECURITY_HEADERS, etag: asset.etag, 'cache-control': 'no-cache' },
          body: '',
        };
      }
      return {
        status: 200,
        headers: { ...SECURITY_HEADERS, 'content-type': asset.type, etag: asset.etag, 'cache-control': 'no-cache' },
        body: asset.body,
      };
    }
    if (rel.startsWith('/api/')) return json(200, await this.read(rel.slice('/api/'.length), request.query));
    return text(404, 'Not found');
  }

  private reader(namespace = this.served.source.namespace): Reader {
    return new Reader(this.served.source.datastore, namespace);
  }

  /** The namespaces offered: the dashboard's own first, then those its runtime's registry names. */
  private namespaces(): Promise<string[]> {
    const { datastore, namespace } = this.served.source;
    return this.memo.get('namespaces', () => shownNamespaces(datastore, namespace));
  }

  /**
   * The namespace a read or change names (absent: the dashboard's own), refused unless it is one the dashboard shows.
   * A namespace registered since the list was read is looked for once more.
   */
  private async namespace(value: unknown): Promise<string> {
    const { datastore, namespace: home } = this.served.source;
    if (value === undefined || value === null || value === home) return home;
    let shown = await this.namespaces();
    if (typeof value === 'string' && !shown.includes(value)) shown = await shownNamespaces(datastore, home);
    return pickNamespace(value, home, shown);
  }

  private async read(route: string, query: URLSearchParams): Promise<unknown> {
    const { source } = this.served;
    const param = (name: string) => query.get(name) ?? undefined;
    const namespace = () => this.namespace(query.has('namespace') ? query.get('namespace') : undefined);
    switch (route) {
      case 'summary':
        return {
          title: this.served.title,
          projectId: source.projectId,
          location: source.location,
          namespace: source.namespace,
          namespaces: await this.namespaces(),
          readOnly: this.served.readOnly,
          refreshMs: this.served.refreshMs,
          canCreateTasks: source.createTasks,
          ledger: source.ledger !== null,
          now: new Date(source.clock.now()).toISOString(),
        };
      case 'counts':
        return this.countsMemo.get('counts', () =>
          countTasks(this.reader(), { nowMs: source.clock.now(), shards: source.shards }),
        );
      case 'queues':
        return this.memo.get('queues', async () => ({ queues: await listQueues(source) }));
      case 'sweeps':
        return this.countsMemo.get('sweeps', () => recentSweepRuns(this.reader(), 48));
      case 'jobs':
        return this.memo.get('jobs', () => listJobs(this.reader()));
      case 'tasks':
        return listTasks(this.reader(await namespace()), param('state') ?? 'pending', param('cursor'));
      case 'task': {
        const key = param('key');
        if (!key) throw new InvalidArgumentError("give the task entity's key: ?key=<name or path>.");
        const where = await namespace();
        const task = await readTask(source, key, where);
        if (!task) throw new HttpError(404, `no _DeferredTask entity at ${key} in ${namespaceName(where)}.`);
        return task;
      }
      case 'failed': {
        const ledger = this.ledger();
        const filter = { ...filterOf(Object.fromEntries(query)), namespace: await namespace() };
        return listFailed(ledger, filter, param('cursor'), source.namespace);
      }
      case 'failures-by-hour':
        return this.countsMemo.get('failures-by-hour', () => failuresByHour(this.ledger(), source.clock.now()));
      case 'failed/one': {
        const key = param('key');
        if (!key) throw new InvalidArgumentError("give the failure record's key: ?key=<key>.");
        const where = await namespace();
        const record = await readFailed(this.ledger(), key, where, source.projectId);
        if (!record) throw new HttpError(404, `no failure record at ${key} in ${namespaceName(where)}.`);
        return record;
      }
      case 'mapper': {
        const id = param('id');
        if (!id) throw new InvalidArgumentError('give the mapper job id: ?id=<job id>.');
        const job = await readMapperJob(this.reader(), id);
        if (!job) throw new HttpError(404, `no mapper job "${id}".`);
        return job;
      }
      default:
        throw new HttpError(404, `no such API: ${route}`);
    }
  }

  private ledger(): FailureLedger {
    const ledger = this.served.source.ledger;
    if (!ledger)
      throw new HttpError(
        404,
        "this runtime has no failure ledger (deferred.failures): give the dashboard the app's runtime.",
      );
    return ledger;
  }

  /** Refuses a change unless it comes from the dashboard's own page in this browser session. */
  private checkOrigin(request: HttpRequest): void {
    const h = request.headers;
    if (!/^application\/json(\s*;|$)/i.test(h['content-type'] ?? '')) {
      throw new HttpError(
        415,
        'changes are JSON requests made by the dashboard page (Content-Type: application/json).',
      );
    }
    const site = h['sec-fetch-site'];
    if (site !== undefined && site !== 'same-origin') throw new HttpError(403, 'cross-site request refused.');
    const origin = h.origin;
    if (origin !== undefined && origin !== 'null') {
      let host: string | undefined;
      try {
        host = new URL(origin).host;
      } catch {
        host = undefined;
      }
      const expected = h['x-forwarded-host'] ?? h.host;
      if (host !== expected) throw new HttpError(403, `request from another origin (${origin}) refused.`);
    } else if (origin === 'null') throw new HttpError(403, 'request from an opaque origin refused.');
    const session = parseCookies(h.cookie).get(SESSION_COOKIE);
    if (!checkCsrf(this.served.source.csrfKey, session, h[CSRF_HEADER])) {
      throw new HttpError(403, 'missing or wrong CSRF token: reload the dashboard page and try again.');
    }
  }

  private async post(rel: string, request: HttpRequest, user: string | true): Promise<HttpResponse> {
    if (!rel.startsWith('/api/')) return text(404, 'Not found');
    if (this.served.readOnly) throw new HttpError(403, 'this dashboard is read-only.');
    this.checkOrigin(request);
    const raw = await request.body(MAX_ACTION_BYTES);
    if (raw === null) throw new HttpError(413, `a change request is at most ${MAX_ACTION_BYTES} bytes.`);
    let body: Record<string, unknown>;
    try {
      body = raw.length ? (JSON.parse(raw.toString('utf8')) as Record<string, unknown>) : {};
    } catch {
      throw new InvalidArgumentError('the request body is not JSON.');
    }
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw new InvalidArgumentError('send a JSON object.');
    const action = rel.slice('/api/'.length);
    const result = await this.act(action, body);
    this.memo.clear();
    this.countsMemo.clear();
    log(this.served.source.logger, {
      severity: 'NOTICE',
      message: `dashboard: ${action}${result.target ? ` ${result.target}` : ''}${typeof user === 'string' ? ` by ${user}` : ''}: ${result.message}`,
      event: 'dashboard-action',
      action,
      ...(result.target ? { target: result.target } : {}),
      ...(typeof user === 'string' ? { user } : {}),
    });
    return json(200, result);
  }

  private async act(
    action: string,
    body: Record<string, unknown>,
  ): Promise<{ message: string; target?: string; [k: string]: unknown }> {
    const { source } = this.served;
    switch (action) {
      case 'queues/pause':
      case 'queues/resume': {
        const queue = checkQueueId(body.queue);
        const state = await setQueueState(source, queue, action === 'queues/pause' ? 'pause' : 'resume');
        return { message: `queue ${queue} is ${state}`, target: queue, state };
      }
      case 'jobs/enable':
      case 'jobs/disable':
      case 'jobs/run-now': {
        const name = String(body.name ?? '');
        const verb = action.slice('jobs/'.length) as 'enable' | 'disable' | 'run-now';
        return { message: await changeRecurringJob(source, name, verb), target: name };
      }
      case 'sweep': {
        const dryRun = body.dryRun !== false;
        const result = await sweepNow(source, { dryRun });
        return {
          message: `${dryRun ? 'dry run: ' : ''}swept ${result.shards} shards in ${result.elapsedMs} ms`,
          ...result,
        };
      }
      case 'failed/retry':
      case 'failed/discard': {
        const verb = action === 'failed/retry' ? 'retry' : 'discard';
        if (verb === 'retry' && !source.createTasks) {
          throw new InvalidArgumentError(
            "retrying creates a Cloud Task: give the dashboard the app's runtime (deferred), or start `deferred dashboard` with --secret and --handler-url.",
          );
        }
        const where = await this.namespace(body.namespace);
        return changeFailed(this.ledger(), verb, body, { namespace: where, home: source.namespace });
      }
      default:
        throw new HttpError(404, `no such action: ${action}`);
    }
  }
}
