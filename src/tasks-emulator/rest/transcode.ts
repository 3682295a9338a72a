/**
 * gRPC transcoding of an HTTP/JSON request into a request message: the body (all of it, or one field), the path
 * variables and the query parameters, with the field names and errors Google's front end uses.
 */
import type { Gax } from '../google-gax.js';
import { invalidArgument } from '../rpc-errors.js';
import { fieldPathToCamel } from './routes.js';

type Json = Record<string, unknown>;

/** System parameters every Google API accepts in the query string; none of them is a request field. */
const SYSTEM_PARAMETERS = new Set([
  '$alt',
  'alt',
  '$prettyPrint',
  'prettyPrint',
  '$fields',
  'fields',
  'key',
  'access_token',
  'oauth_token',
  'quotaUser',
  '$.xgafv',
  '$xgafv',
  'callback',
  'upload_protocol',
  'uploadType',
  'trace',
  '$trace',
]);

/** Message types whose JSON form is a string, a number or free-form JSON: their contents are not fields to check. */
const OPAQUE_TYPES = new Set([
  '.google.protobuf.Any',
  '.google.protobuf.Duration',
  '.google.protobuf.Timestamp',
  '.google.protobuf.FieldMask',
  '.google.protobuf.Struct',
  '.google.protobuf.Value',
  '.google.protobuf.ListValue',
  '.google.protobuf.DoubleValue',
  '.google.protobuf.FloatValue',
  '.google.protobuf.Int64Value',
  '.google.protobuf.UInt64Value',
  '.google.protobuf.Int32Value',
  '.google.protobuf.UInt32Value',
  '.google.protobuf.BoolValue',
  '.google.protobuf.StringValue',
  '.google.protobuf.BytesValue',
]);

const toCamel = (name: string) => name.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());

function isMessageType(type: unknown): type is Gax.protobuf.Type {
  return Boolean(type && typeof type === 'object' && 'fields' in type);
}

/** The field of `type` named `name` in JSON (lowerCamelCase) or proto (snake_case) form. */
function fieldOf(type: Gax.protobuf.Type, name: string): Gax.protobuf.Field | undefined {
  return type.fields[name] ?? type.fields[toCamel(name)];
}

/** Where a value sits, in Google's error style: `queue.rate_limits`. */
const where = (path: string[]) =>
  path.map((p) => p.replace(/\[.*\]$|[A-Z]/g, (m) => (m.startsWith('[') ? m : `_${m.toLowerCase()}`))).join('.');

/** The path of a map's entry, as Google's errors name it: `task.http_request.headers[X-Key]`. */
const entryPath = (here: string[], key: string) => [...here.slice(0, -1), `${here[here.length - 1]}[${key}]`];

/**
 * Checks a JSON object against a message type and renames snake_case keys to lowerCamelCase, recursively; an unknown
 * field is INVALID_ARGUMENT, as in the real API.
 */
export function normalizeJson(type: Gax.protobuf.Type, json: unknown, path: string[] = []): unknown {
  if (json === null || OPAQUE_TYPES.has(type.fullName)) return json;
  if (typeof json !== 'object' || Array.isArray(json)) {
    throw invalidArgument(
      `Invalid JSON payload received. Expected an object for '${where(path) || type.name}', got ${JSON.stringify(json)}.`,
    );
  }
  const out: Json = {};
  for (const [key, value] of Object.entries(json as Json)) {
    const field = fieldOf(type, key);
    if (!field) {
      const at = path.length > 0 ? ` at '${where(path)}'` : '';
      throw invalidArgument(`Invalid JSON payload received. Unknown name "${key}"${at}: Cannot find field.`);
    }
    const resolved = field.resolve().resolvedType;
    const here = [...path, field.name];
    if (value === null) {
      out[field.name] = value;
    } else if (!isMessageType(resolved)) {
      out[field.name] = field.map
        ? Object.fromEntries(
            Object.entries(objectAt(value, here)).map(([k, v]) => [k, checkScalar(field, v, entryPath(here, k))]),
          )
        : field.repeated
          ? listAt(value, here).map((element) => checkScalar(field, element, here))
          : checkScalar(field, value, here);
    } else if (OPAQUE_TYPES.has(resolved.fullName) && !field.repeated && !field.map) {
      out[field.name] = checkWellKnown(resolved.fullName, value, here);
    } else if (field.map) {
      out[field.name] = Object.fromEntries(
        Object.entries((value ?? {}) as Json).map(([k, v]) => [k, normalizeJson(resolved, v, entryPath(here, k))]),
      );
    } else if (field.repeated) {
      out[field.name] = listAt(value, here).map((element, i) => normalizeJson(resolved, element, [...here, String(i)]));
    } else {
      out[field.name] = normalizeJson(resolved, value, here);
    }
  }
  checkOneofs(type, out, path);
  return out;
}

function listAt(value: unknown, here: string[]): unknown[] {
  if (!Array.isArray(value))
    throw invalidArgument(`Invalid JSON payload received. Expected a list for '${where(here)}'.`);
  return value;
}

function objectAt(value: unknown, here: string[]): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalidArgument(`Invalid JSON payload received. Expected an object for '${where(here)}'.`);
  }
  return value as Json;
}

/** A JSON value as Google's front end quotes it in an error: strings in quotes, the rest as JSON. */
const shown = (value: unknown) => (typeof value === 'string' ? `"${value}"` : JSON.stringify(value));

const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;
const DURATION = /^-?\d+(\.\d{1,9})?s$/;

/**
 * Checks a scalar or enum value against its field's type, as the proto3 JSON mapping reads it (int64s as numbers or
 * strings of digits, bytes as base64, enums by name or number); anything else is INVALID_ARGUMENT naming the field.
 */
function checkScalar(field: Gax.protobuf.Field, value: unknown, here: string[]): unknown {
  const resolved = field.resolve().resolvedType;
  if (resolved && 'values' in resolved) {
    const values = (resolved as unknown as { values: Record<string, number> }).values;
    const known =
      typeof value === 'string'
        ? value in values
        : Number.isInteger(value) && Object.values(values).includes(value as number);
    if (!known) {
      throw invalidArgument(
        `Invalid value at '${where(here)}' (type.googleapis.com/${resolved.fullName.slice(1)}), ${shown(value)}`,
      );
    }
    return value;
  }
  const type = field.type;
  const bad = () => invalidArgument(`Invalid value at '${where(here)}' (TYPE_${type.toUpperCase()}), ${shown(value)}`);
  if (INT_TYPES.has(type)) {
    const ok = typeof value === 'number' ? Number.isInteger(value) : typeof value === 'string' && INT.test(value);
    if (!ok) throw bad();
  } else if (NUMBER_TYPES.has(type)) {
    const ok =
      typeof value === 'number' ||
      (typeof value === 'string' &&
        (['NaN', 'Infinity', '-Infinity'].includes(value) || (value.trim() !== '' && Number.isFinite(Number(value)))));
    if (!ok) throw bad();
  } else if (type === 'bool') {
    if (typeof value !== 'boolean') throw bad();
  } else if (type === 'string') {
    if (typeof value !== 'string') throw bad();
  } else if (type === 'bytes') {
    if (typeof value !== 'string') throw bad();
    if (!BASE64.test(value) || value.replace(/=+$/, '').length % 4 === 1) {
      throw invalidArgument(
        `Invalid value at '${where(here)}' (TYPE_BYTES), Base64 decoding failed for ${shown(value)}`,
      );
    }
  }
  return value;
}

/** Checks the JSON string of a Timestamp (RFC 3339) or a Duration (`"3.5s"`); other well-known types pass as they are. */
function checkWellKnown(fullName: string, value: unknown, here: string[]): unknown {
  const pattern =
    fullName === '.google.protobuf.Timestamp' ? TIMESTAMP : fullName === '.google.protobuf.Duration' ? DURATION : null;
  if (pattern && (typeof value !== 'string' || !pattern.test(value))) {
    throw invalidArgument(
      `Invalid value at '${where(here)}' (type.googleapis.com/${fullName.slice(1)}), ${shown(value)}`,
    );
  }
  return value;
}

/** Refuses a message that sets two members of one oneof (`oidcToken` and `oauthToken`), as Google's front end does. */
function checkOneofs(type: Gax.protobuf.Type, json: Json, path: string[]): void {
  for (const oneof of type.oneofsArray) {
    const members = new Set(oneof.fieldsArray.map((f) => f.name));
    // In the order the request gives them: the second is the one that cannot be set.
    const set = Object.keys(json).filter(
      (name) => members.has(name) && json[name] !== undefined && json[name] !== null,
    );
    if (set.length > 1) {
      const at = where(path) || type.name;
      throw invalidArgument(
        `Invalid value at '${at}' (oneof), oneof field '${where([oneof.name])}' is already set. Cannot set '${set[1]}'`,
      );
    }
  }
}

/** Sets `value` at a dotted lowerCamelCase path of `target`, creating the objects on the way. */
function setPath(target: Json, dotted: string, value: unknown): void {
  const parts = dotted.split('.');
  let node = target;
  for (const part of parts.slice(0, -1)) {
    const next = node[part];
    if (next === undefined || next === null || typeof next !== 'object') node[part] = {};
    node = node[part] as Json;
  }
  node[parts[parts.length - 1]!] = value;
}

const INT = /^-?\d+$/;
const NUMBER_TYPES = new Set(['double', 'float']);
const INT_TYPES = new Set([
  'int32',
  'uint32',
  'sint32',
  'fixed32',
  'sfixed32',
  'int64',
  'uint64',
  'sint64',
  'fixed64',
  'sfixed64',
]);

/** A query parameter's text as the JSON value its field takes. */
function queryValue(field: Gax.protobuf.Field, text: string, name: string): unknown {
  const resolved = field.resolve().resolvedType;
  const invalid = () =>
    invalidArgument(`Invalid value at '${where([name])}' (TYPE_${field.type.toUpperCase()}), "${text}"`);
  if (resolved && 'values' in resolved) return checkScalar(field, INT.test(text) ? Number(text) : text, [name]); // enum: name or number
  if (isMessageType(resolved)) {
    // Duration, Timestamp, FieldMask...: their JSON is a string
    if (OPAQUE_TYPES.has(resolved.fullName)) return checkWellKnown(resolved.fullName, text, [name]);
    throw invalidArgument(`Invalid JSON payload received. Cannot bind query parameter '${name}' to a message field.`);
  }
  if (INT_TYPES.has(field.type)) {
    if (!INT.test(text)) throw invalid();
    return text;
  }
  if (NUMBER_TYPES.has(field.type)) {
    if (!Number.isFinite(Number(text)) || text.trim() === '') throw invalid();
    return Number(text);
  }
  if (field.type === 'bool') {
    if (text !== 'true' && text !== 'false') throw invalid();
    return text === 'true';
  }
  return text;
}

/** Binds one query parameter (`pageSize`, `response_view`, `queue.rate_limits.max_burst_size`) into `request`. */
function bindQueryParameter(type: Gax.protobuf.Type, request: Json, name: string, values: string[]): void {
  let current = type;
  const camelPath: string[] = [];
  let field: Gax.protobuf.Field | undefined;
  const parts = name.split('.');
  for (const [i, part] of parts.entries()) {
    field = fieldOf(current, part);
    if (!field) {
      throw invalidArgument(
        `Invalid JSON payload received. Unknown name "${name}": Cannot bind query parameter. Field '${part}' could not be found in request message.`,
      );
    }
    camelPath.push(field.name);
    const resolved = field.resolve().resolvedType;
    if (i < parts.length - 1) {
      if (!isMessageType(resolved) || OPAQUE_TYPES.has(resolved.fullName)) {
        throw invalidArgument(`Invalid JSON payload received. Cannot bind query parameter '${name}'.`);
      }
      current = resolved;
    }
  }
  const converted = values.map((text) => queryValue(field!, text, name));
  setPath(request, camelPath.join('.'), field!.repeated ? converted : converted[converted.length - 1]);
}

/** What the HTTP request carried. */
export interface HttpInput {
  readonly body: unknown;
  readonly query: URLSearchParams;
  readonly variables: ReadonlyMap<string, string>;
}

/**
 * The request message JSON (lowerCamelCase, checked against `type`) of an HTTP request bound by a rule whose body is
 * `bodyField` ('' = no body, '*' = the whole body, else one field).
 */
export function transcodeRequest(type: Gax.protobuf.Type, bodyField: string, input: HttpInput): Json {
  let request: Json;
  if (bodyField === '*') {
    request = (input.body ?? {}) as Json;
  } else {
    request = {};
    if (bodyField && input.body !== undefined) setPath(request, fieldPathToCamel(bodyField), input.body);
  }
  request = normalizeJson(type, request) as Json;
  const names = new Set<string>();
  for (const name of input.query.keys()) if (!SYSTEM_PARAMETERS.has(name)) names.add(name);
  for (const name of names) {
    // With the whole message in the body, no field is left for the query string to name.
    if (bodyField === '*') {
      throw invalidArgument(
        `Invalid JSON payload received. Unknown name "${name}": Cannot bind query parameter. The request body holds the whole request message: give '${name}' there.`,
      );
    }
    bindQueryParameter(type, request, name, input.query.getAll(name));
  }
  for (const [field, value] of input.variables) setPath(request, field, value);
  return request;
}

/** Whether the query asks for numeric enums (`$alt=json;enum-encoding=int`, as the official REST clients send). */
export function wantsNumericEnums(query: URLSearchParams): boolean {
  const alt = query.get('$alt') ?? query.get('alt') ?? '';
  return /(^|;)\s*enum-encoding=int\b/.test(alt);
}

/** Whether the answer may be compact (`$prettyPrint=0` or `prettyPrint=false`); Google pretty-prints by default. */
export function wantsPretty(query: URLSearchParams): boolean {
  const value = query.get('$prettyPrint') ?? query.get('prettyPrint');
  return !(value === '0' || value === 'false');
}
