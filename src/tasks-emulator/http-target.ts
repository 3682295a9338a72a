/**
 * A queue's HTTP target (v2beta3 `Queue.http_target`, "queue-level routing"): its validation, the URL it gives tasks
 * created without one (BufferTask), and how it overrides an HTTP task's URL, method, headers and token at dispatch.
 */
import { invalidArgument } from './rpc-errors.js';
import { checkHeaders } from './header-check.js';

type Method = 'POST' | 'GET' | 'HEAD' | 'PUT' | 'DELETE' | 'PATCH' | 'OPTIONS';
const METHODS = new Set<string>(['POST', 'GET', 'HEAD', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']);

/** The queue-level routing of HTTP tasks, validated. Unset parts are undefined. */
export interface HttpTargetConfig {
  readonly uriOverride:
    | {
        readonly scheme: 'HTTP' | 'HTTPS' | undefined;
        readonly host: string | undefined;
        /** 0 clears the port. */
        readonly port: number | undefined;
        /** '' clears the path. */
        readonly path: string | undefined;
        /** '' clears the query. */
        readonly query: string | undefined;
        /** ALWAYS (the default) overrides every task; IF_NOT_EXISTS only fills in what a task lacks. */
        readonly enforceMode: 'ALWAYS' | 'IF_NOT_EXISTS';
      }
    | undefined;
  readonly httpMethod: Method | undefined;
  /** Header overrides in order, names as given. */
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly oidcToken: { readonly serviceAccountEmail: string; readonly audience: string } | undefined;
  readonly oauthToken: { readonly serviceAccountEmail: string; readonly scope: string } | undefined;
}

/** The HttpTarget message as the engine receives it (lowerCamelCase, proto-loader defaults). */
export interface HttpTargetInput {
  uriOverride?: {
    scheme?: string | null;
    host?: string | null;
    port?: string | number | null;
    pathOverride?: { path?: string | null } | null;
    queryOverride?: { queryParams?: string | null } | null;
    uriOverrideEnforceMode?: string | null;
  } | null;
  httpMethod?: string | null;
  headerOverrides?: Array<{ header?: { key?: string | null; value?: string | null } | null }> | null;
  oidcToken?: { serviceAccountEmail?: string | null; audience?: string | null } | null;
  oauthToken?: { serviceAccountEmail?: string | null; scope?: string | null } | null;
}

/** Header names the service owns: a queue cannot override them either. */
function isServiceHeader(name: string): boolean {
  const lower = name.toLowerCase();
  return (
    lower === 'host' ||
    lower === 'content-length' ||
    lower === 'user-agent' ||
    lower.startsWith('x-google-') ||
    lower.startsWith('x-appengine-') ||
    lower.startsWith('x-cloudtasks-')
  );
}

/** Validates an HttpTarget message; undefined when the queue has none. */
export function httpTargetFrom(input: HttpTargetInput | null | undefined): HttpTargetConfig | undefined {
  if (!input) return undefined;
  const uri = input.uriOverride;
  let uriOverride: HttpTargetConfig['uriOverride'];
  if (uri) {
    const scheme = uri.scheme === 'HTTP' || uri.scheme === 'HTTPS' ? uri.scheme : undefined;
    if (uri.host !== undefined && uri.host !== null && !/^[A-Za-z0-9.-]+$/.test(uri.host)) {
      throw invalidArgument(
        `UriOverride.host must be a host name without scheme, port or path, got ${JSON.stringify(uri.host)}.`,
      );
    }
    const port = uri.port === undefined || uri.port === null ? undefined : Number(uri.port);
    if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port <= 65535)) {
      throw invalidArgument(`UriOverride.port must be a port number (0 clears the port), got ${String(uri.port)}.`);
    }
    const path = uri.pathOverride ? (uri.pathOverride.path ?? '') : undefined;
    if (path !== undefined && path !== '' && (!path.startsWith('/') || /[\s?#]/.test(path))) {
      throw invalidArgument(`PathOverride.path must begin with "/" and hold no spaces, "?" or "#", got "${path}".`);
    }
    const query = uri.queryOverride ? (uri.queryOverride.queryParams ?? '').replace(/^\?/, '') : undefined;
    if (query !== undefined && /[\s#]/.test(query)) {
      throw invalidArgument(`QueryOverride.query_params must hold no spaces or "#", got "${query}".`);
    }
    uriOverride = {
      scheme,
      host: uri.host ?? undefined,
      port,
      path,
      query,
      enforceMode: uri.uriOverrideEnforceMode === 'IF_NOT_EXISTS' ? 'IF_NOT_EXISTS' : 'ALWAYS',
    };
  }
  let httpMethod: Method | undefined;
  if (input.httpMethod && input.httpMethod !== 'HTTP_METHOD_UNSPECIFIED') {
    if (!METHODS.has(input.httpMethod)) throw invalidArgument(`Unknown HttpTarget.http_method ${input.httpMethod}.`);
    httpMethod = input.httpMethod as Method;
  }
  const headers: Array<[string, string]> = [];
  for (const override of input.headerOverrides ?? []) {
    const key = override.header?.key ?? '';
    const value = override.header?.value ?? '';
    if (!key) throw invalidArgument('HttpTarget.header_overrides: every header needs a key.');
    if (isServiceHeader(key)) {
      throw invalidArgument(`HttpTarget.header_overrides cannot set "${key}": Cloud Tasks sets that header itself.`);
    }
    headers.push([key, value]);
  }
  checkHeaders(Object.fromEntries(headers), 'HttpTarget.header_overrides');
  let oidcToken: HttpTargetConfig['oidcToken'];
  let oauthToken: HttpTargetConfig['oauthToken'];
  if (input.oidcToken) {
    const { serviceAccountEmail, audience } = input.oidcToken;
    if (!serviceAccountEmail || !audience) {
      throw invalidArgument(
        'HttpTarget.oidc_token needs both service_account_email and audience (a queue-level token must name both).',
      );
    }
    oidcToken = { serviceAccountEmail, audience };
  } else if (input.oauthToken) {
    const { serviceAccountEmail, scope } = input.oauthToken;
    if (!serviceAccountEmail || !scope) {
      throw invalidArgument(
        'HttpTarget.oauth_token needs both service_account_email and scope (a queue-level token must name both).',
      );
    }
    oauthToken = { serviceAccountEmail, scope };
  }
  return { uriOverride, httpMethod, headers, oidcToken, oauthToken };
}

/** The HttpTarget message of a config (for Queue messages). */
export function httpTargetToMessage(target: HttpTargetConfig): Record<string, unknown> {
  const uri = target.uriOverride;
  return {
    ...(uri
      ? {
          uriOverride: {
            ...(uri.scheme ? { scheme: uri.scheme } : {}),
            ...(uri.host !== undefined ? { host: uri.host } : {}),
            ...(uri.port !== undefined ? { port: uri.port } : {}),
            ...(uri.path !== undefined ? { pathOverride: { path: uri.path } } : {}),
            ...(uri.query !== undefined ? { queryOverride: { queryParams: uri.query } } : {}),
            uriOverrideEnforceMode: uri.enforceMode,
          },
        }
      : {}),
    ...(target.httpMethod ? { httpMethod: target.httpMethod } : {}),
    headerOverrides: target.headers.map(([key, value]) => ({ header: { key, value } })),
    ...(target.oidcToken ? { oidcToken: { ...target.oidcToken } } : {}),
    ...(target.oauthToken ? { oauthToken: { ...target.oauthToken } } : {}),
  };
}

/** The URL of a task created without one, from the queue's URI override; undefined when it names no host. */
export function targetUrl(target: HttpTargetConfig | undefined): string | undefined {
  const uri = target?.uriOverride;
  if (!uri?.host) return undefined;
  const scheme = (uri.scheme ?? 'HTTPS').toLowerCase();
  const port = uri.port ? `:${uri.port}` : '';
  const path = uri.path || '/';
  return `${scheme}://${uri.host}${port}${path}${uri.query ? `?${uri.query}` : ''}`;
}

/** An HTTP task's request as the target may change it. */
export interface HttpTaskRequest {
  readonly url: string;
  readonly method: Method;
  readonly headers: Record<string, string>;
  readonly oidcToken: { serviceAccountEmail: string; audience: string } | undefined;
  readonly oauthToken: { serviceAccountEmail: string; scope: string } | undefined;
}

/** The request an HTTP task is dispatched with under its queue's HTTP target. */
export function applyHttpTarget(target: HttpTargetConfig | undefined, request: HttpTaskRequest): HttpTaskRequest {
  if (!target) return request;
  let url = request.url;
  const uri = target.uriOverride;
  if (uri) {
    const parsed = new URL(request.url);
    const always = uri.enforceMode === 'ALWAYS';
    if (uri.scheme && always) parsed.protocol = `${uri.scheme.toLowerCase()}:`;
    if (uri.host && always) parsed.hostname = uri.host;
    if (uri.port !== undefined && (always || !parsed.port)) parsed.port = uri.port === 0 ? '' : String(uri.port);
    if (uri.path !== undefined && (always || parsed.pathname === '/')) parsed.pathname = uri.path || '/';
    if (uri.query !== undefined && (always || !parsed.search)) parsed.search = uri.query;
    url = parsed.toString();
  }
  const headers = { ...request.headers };
  for (const [key, value] of target.headers) {
    for (const existing of Object.keys(headers))
      if (existing.toLowerCase() === key.toLowerCase()) delete headers[existing];
    headers[key] = value;
  }
  const token = target.oidcToken || target.oauthToken;
  return {
    url,
    method: target.httpMethod ?? request.method,
    headers,
    oidcToken: token ? target.oidcToken : request.oidcToken,
    oauthToken: token ? target.oauthToken : request.oauthToken,
  };
}
