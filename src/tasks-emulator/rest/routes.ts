/**
 * REST routes from `google.api.http` rules (gRPC transcoding, https://google.aip.dev/127): path templates compiled
 * and matched against request paths, binding their variables to request fields.
 */

/** An HTTP rule, as protobufjs parses the `(google.api.http)` option (or as a client library declares a mixin's). */
export interface HttpRule {
  get?: string;
  put?: string;
  post?: string;
  delete?: string;
  patch?: string;
  custom?: { kind: string; path: string };
  body?: string;
  response_body?: string;
  additional_bindings?: HttpRule | HttpRule[];
}

/** One path segment of a template: a literal, `*` (one segment) or `**` (the rest of the path). */
type Segment = { kind: 'literal'; value: string } | { kind: 'one' } | { kind: 'rest' };

/** A compiled path template: its segments, its verb, and which segments each variable captures. */
export interface PathTemplate {
  readonly source: string;
  readonly segments: readonly Segment[];
  readonly verb: string | undefined;
  /** Variables in order: the request field (lowerCamelCase dotted path) and the segment range [start, end). */
  readonly variables: ReadonlyArray<{ readonly field: string; readonly start: number; readonly end: number }>;
}

const toCamel = (name: string) => name.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());

/** A field path of a rule (`queue.name`, `cmek_config.name`) in lowerCamelCase, as JSON and the engine name fields. */
export const fieldPathToCamel = (path: string) => path.split('.').map(toCamel).join('.');

/** Parses a path template: `/v2/{parent=projects/*\/locations/*}/queues`, `/v2/{name=...}:run`. */
export function compileTemplate(source: string): PathTemplate {
  if (!source.startsWith('/')) throw new Error(`HTTP rule path must start with "/": ${source}`);
  let body = source.slice(1);
  let verb: string | undefined;
  // The verb follows the last ':' outside braces.
  let depth = 0;
  for (let i = body.length - 1; i >= 0; i--) {
    const c = body[i];
    if (c === '}') depth++;
    else if (c === '{') depth--;
    else if (c === ':' && depth === 0) {
      verb = body.slice(i + 1);
      body = body.slice(0, i);
      break;
    } else if (c === '/' && depth === 0) break;
  }
  const segments: Segment[] = [];
  const variables: Array<{ field: string; start: number; end: number }> = [];
  const pushSegments = (text: string) => {
    for (const part of text.split('/')) {
      if (part === '*') segments.push({ kind: 'one' });
      else if (part === '**') segments.push({ kind: 'rest' });
      else if (part.length > 0) segments.push({ kind: 'literal', value: part });
      else throw new Error(`Empty segment in HTTP rule path ${source}`);
    }
  };
  let rest = body;
  while (rest.length > 0) {
    if (rest.startsWith('{')) {
      const close = rest.indexOf('}');
      if (close < 0) throw new Error(`Unclosed variable in HTTP rule path ${source}`);
      const inner = rest.slice(1, close);
      const eq = inner.indexOf('=');
      const field = fieldPathToCamel(eq < 0 ? inner : inner.slice(0, eq));
      const start = segments.length;
      pushSegments(eq < 0 ? '*' : inner.slice(eq + 1));
      variables.push({ field, start, end: segments.length });
      rest = rest.slice(close + 1);
    } else {
      const slash = rest.indexOf('/');
      const brace = rest.indexOf('{');
      const stop = slash < 0 ? rest.length : slash;
      if (brace >= 0 && brace < stop) throw new Error(`Variable inside a segment in HTTP rule path ${source}`);
      pushSegments(rest.slice(0, stop));
      rest = rest.slice(stop);
    }
    if (rest.startsWith('/')) rest = rest.slice(1);
  }
  return { source, segments, verb, variables };
}

/** A request path split into decoded segments and its verb (`.../tasks/t:run` has the verb `run`). */
export interface RequestPath {
  readonly segments: readonly string[];
  readonly verb: string | undefined;
}

/** Splits a raw (still percent-encoded) URL path; undefined when it is not valid percent-encoding. */
export function parseRequestPath(rawPath: string): RequestPath | undefined {
  const raw = rawPath.replace(/^\/+/, '').split('/');
  let verb: string | undefined;
  const last = raw[raw.length - 1] ?? '';
  const colon = last.lastIndexOf(':');
  if (colon >= 0) {
    verb = last.slice(colon + 1);
    raw[raw.length - 1] = last.slice(0, colon);
  }
  try {
    return { segments: raw.map((segment) => decodeURIComponent(segment)), verb };
  } catch {
    return undefined;
  }
}

/** Matches a path against a template; returns the variables' values by field path, or undefined. */
export function matchTemplate(template: PathTemplate, path: RequestPath): Map<string, string> | undefined {
  if (template.verb !== path.verb) return undefined;
  const { segments } = template;
  const input = path.segments;
  // `**` may only come last in a rule's path; everything before it is one segment per template segment.
  const restAt = segments.findIndex((s) => s.kind === 'rest');
  if (restAt < 0 ? input.length !== segments.length : input.length < segments.length) return undefined;
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i]!;
    if (segment.kind === 'rest') break;
    const value = input[i]!;
    if (segment.kind === 'literal' ? value !== segment.value : value.length === 0) return undefined;
  }
  const values = new Map<string, string>();
  for (const variable of template.variables) {
    const end = variable.end === segments.length && restAt >= 0 ? input.length : variable.end;
    values.set(variable.field, input.slice(variable.start, end).join('/'));
  }
  return values;
}

/** The (method, template, body) bindings of a rule and its additional bindings. */
export function bindingsOf(rule: HttpRule): Array<{ httpMethod: string; template: PathTemplate; body: string }> {
  const bindings: Array<{ httpMethod: string; template: PathTemplate; body: string }> = [];
  for (const httpMethod of ['get', 'put', 'post', 'delete', 'patch'] as const) {
    const path = rule[httpMethod];
    if (path)
      bindings.push({ httpMethod: httpMethod.toUpperCase(), template: compileTemplate(path), body: rule.body ?? '' });
  }
  if (rule.custom) {
    bindings.push({
      httpMethod: rule.custom.kind.toUpperCase(),
      template: compileTemplate(rule.custom.path),
      body: rule.body ?? '',
    });
  }
  const more = rule.additional_bindings;
  for (const extra of more === undefined ? [] : Array.isArray(more) ? more : [more])
    bindings.push(...bindingsOf(extra));
  return bindings;
}
