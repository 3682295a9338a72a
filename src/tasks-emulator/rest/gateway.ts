/**
 * The REST (HTTP/1.1 JSON) front of the emulator: routes every RPC of the table at the paths of its `google.api.http`
 * annotation (plus the mixins' rules the client libraries declare), and answers in proto3 JSON or Google JSON errors.
 */
import type http from 'node:http';
import type { Rpc } from '../api.js';
import { codecOf, type PlainMessage } from '../messages.js';
import { API_VERSIONS } from '../proto.js';
import { RpcError, asRpcError, invalidArgument, notFound, resourceExhausted } from '../rpc-errors.js';
import { bindingsOf, matchTemplate, parseRequestPath, type HttpRule, type PathTemplate } from './routes.js';
import { transcodeRequest, wantsNumericEnums, wantsPretty } from './transcode.js';

/** The largest request body accepted (a BatchCreateTasks of 100 tasks of 1 MiB fits). */
const MAX_BODY_BYTES = 128 * 1024 * 1024;

/** One REST binding of an RPC. */
interface Route {
  readonly rpc: Rpc;
  readonly httpMethod: string;
  readonly template: PathTemplate;
  readonly body: string;
}

/** A route answered by code of its own rather than by an RPC (BufferTask, which takes the raw HTTP body). */
export interface CustomRoute {
  readonly httpMethod: string;
  /** Returns the path variables when the path is this route's, else undefined. */
  match(rawPath: string): Map<string, string> | undefined;
  handle(request: RawRequest): unknown;
}

/** What a custom route gets. */
export interface RawRequest {
  readonly variables: ReadonlyMap<string, string>;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
  readonly numericEnums: boolean;
}

/**
 * The Cloud Tasks HTTP rules of the mixin services, which live in the service configuration rather than in the protos
 * (the official clients declare them as `httpRules`, gcloud's discovery client has them). Served besides the rules of
 * the mixins' own protos (`/v1/...`), which google-gax's LocationsClient uses.
 */
function mixinRules(): Record<string, HttpRule[]> {
  return {
    'google.cloud.location.Locations.GetLocation': API_VERSIONS.map((v) => ({
      get: `/${v}/{name=projects/*/locations/*}`,
    })),
    'google.cloud.location.Locations.ListLocations': API_VERSIONS.map((v) => ({
      get: `/${v}/{name=projects/*}/locations`,
    })),
    'google.longrunning.Operations.GetOperation': API_VERSIONS.map((v) => ({
      get: `/${v}/{name=projects/*/locations/*/operations/*}`,
    })),
  };
}

function httpRuleOf(rpc: Rpc): HttpRule | undefined {
  for (const option of rpc.method.parsedOptions ?? []) {
    const rule = (option as Record<string, unknown>)['(google.api.http)'];
    if (rule) return rule as HttpRule;
  }
  return undefined;
}

/** Every route of the RPC table: from the methods' annotations, and the mixins' rules. */
function buildRoutes(rpcs: ReadonlyMap<string, Rpc>): Route[] {
  const mixins = mixinRules();
  const routes: Route[] = [];
  for (const rpc of rpcs.values()) {
    const fullName = `${rpc.service.fullName.replace(/^\./, '')}.${rpc.method.name}`;
    const rules = [...(mixins[fullName] ?? []), httpRuleOf(rpc)];
    for (const rule of rules) {
      if (!rule) continue;
      for (const binding of bindingsOf(rule)) routes.push({ rpc, ...binding });
    }
  }
  return routes;
}

function send(res: http.ServerResponse, status: number, json: unknown, pretty: boolean): void {
  const text = `${JSON.stringify(json, null, pretty ? 2 : undefined)}\n`;
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=UTF-8',
    'Content-Length': Buffer.byteLength(text),
  });
  res.end(text);
}

function sendError(res: http.ServerResponse, error: RpcError, pretty: boolean): void {
  send(res, error.httpStatus, error.toJsonError(), pretty);
}

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(resourceExhausted(`Request body larger than ${MAX_BODY_BYTES} bytes.`));
        req.destroy();
      } else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function parseJsonBody(body: Buffer): unknown {
  if (body.length === 0) return undefined;
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw invalidArgument(`Invalid JSON payload received. ${(error as Error).message}`);
  }
}

/** Serves the RPC table (and custom routes) over HTTP/1.1 JSON. */
export class RestGateway {
  private readonly routes: Route[];

  constructor(
    rpcs: ReadonlyMap<string, Rpc>,
    private readonly custom: readonly CustomRoute[] = [],
  ) {
    this.routes = buildRoutes(rpcs);
  }

  /** The `http.Server` request listener. */
  readonly handle = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://emulator');
    const pretty = wantsPretty(url.searchParams);
    this.answer(req, url)
      .then((json) => send(res, 200, json, pretty))
      .catch((error: unknown) => sendError(res, asRpcError(error), pretty));
  };

  private async answer(req: http.IncomingMessage, url: URL): Promise<unknown> {
    const override = req.headers['x-http-method-override'];
    const httpMethod = (typeof override === 'string' ? override : (req.method ?? 'GET')).toUpperCase();
    const body = await readBody(req);
    const numericEnums = wantsNumericEnums(url.searchParams);
    // Paths without a version are v2's: firebase-admin sends them so to CLOUD_TASKS_EMULATOR_HOST (the Firebase
    // emulator's convention): `/projects/P/locations/L/queues/Q/tasks`.
    const pathname = url.pathname.startsWith('/projects/') ? `/v2${url.pathname}` : url.pathname;
    for (const route of this.custom) {
      if (route.httpMethod !== httpMethod) continue;
      const variables = route.match(pathname);
      if (variables) return route.handle({ variables, headers: req.headers, body, numericEnums });
    }
    const path = parseRequestPath(pathname);
    if (!path) throw invalidArgument(`Invalid percent-encoding in the path ${url.pathname}.`);
    for (const route of this.routes) {
      if (route.httpMethod !== httpMethod) continue;
      const variables = matchTemplate(route.template, path);
      if (!variables) continue;
      const { method } = route.rpc;
      const json = route.body ? parseJsonBody(body) : undefined;
      const requestJson = transcodeRequest(method.resolvedRequestType!, route.body, {
        body: json,
        query: url.searchParams,
        variables,
      });
      let request: PlainMessage;
      try {
        request = codecOf(method.resolvedRequestType!).fromJson(requestJson);
      } catch (error) {
        throw invalidArgument(`Invalid JSON payload received. ${(error as Error).message.replace(/^\w+: /, '')}`);
      }
      const response = await route.rpc.handle(request);
      return codecOf(method.resolvedResponseType!).toJson(response, { numericEnums });
    }
    // The path of a method that takes another HTTP method (GET of `:pause`): say which.
    const others = [
      ...new Set(this.routes.filter((r) => matchTemplate(r.template, path)).map((r) => r.httpMethod)),
    ].filter((m) => m !== httpMethod);
    const hint = others.length ? ` (this path takes ${others.join(' or ')})` : '';
    throw notFound(
      `No Cloud Tasks method at ${httpMethod} ${url.pathname}${hint}: the emulator serves the REST API of ${API_VERSIONS.join(
        ' and ',
      )} (https://cloud.google.com/tasks/docs/reference/rest).`,
    );
  }
}
