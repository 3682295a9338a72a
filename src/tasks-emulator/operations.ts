/**
 * Long-running operations (google.longrunning.Operations) of the batch RPCs: each batch runs to its end inside the RPC
 * and is kept as a done operation, with its metadata and result packed as `Any`, for GetOperation and the others.
 */
import { randomUUID } from 'node:crypto';
import type { PlainMessage } from './messages.js';
import { codecOf } from './messages.js';
import { parseLocation } from './names.js';
import { protoRoot } from './proto.js';
import { invalidArgument, notFound, MESSAGES, type RpcError } from './rpc-errors.js';

/** How many finished operations are kept (the oldest are forgotten first). */
const MAX_OPERATIONS = 10_000;
const MAX_OPERATIONS_PAGE = 1000;
const OPERATION_RE = /^(projects\/[^/]+\/locations\/[^/]+)\/operations\/[^/]+$/;

/** A message of the loaded protos packed as `google.protobuf.Any`. */
export function packAny(typeName: string, message: PlainMessage): PlainMessage {
  const type = protoRoot().lookupType(typeName);
  return { type_url: `type.googleapis.com/${typeName}`, value: codecOf(type).encode(message) };
}

/**
 * An RpcError as the `google.rpc.Status` of a batch's failed request: code and message. Without Help details: the
 * official clients' protos have no google.rpc.Help to decode them with, and their REST transport fails on an `Any` it
 * cannot resolve.
 */
export function statusOf(error: RpcError): PlainMessage {
  return { code: error.code, message: error.message, details: [] };
}

/** The finished operations of the emulator, by name, and the request ids that created them. */
export class OperationStore {
  private readonly operations = new Map<string, PlainMessage>();
  private readonly requestIds = new Map<string, string>();

  /**
   * The operation of a request: the one an earlier request with the same `requestId` (and kind, location) created, or
   * a new one that `run` builds (given the operation's name).
   */
  run(kind: string, location: string, requestId: string, run: (name: string) => PlainMessage): PlainMessage {
    const key = requestId ? `${kind}\n${location}\n${requestId}` : '';
    const earlier = key ? this.requestIds.get(key) : undefined;
    if (earlier && this.operations.has(earlier)) return this.operations.get(earlier)!;
    const name = `${location}/operations/${randomUUID()}`;
    const operation = { ...run(name), name, done: true };
    this.operations.set(name, operation);
    if (key) this.requestIds.set(key, name);
    while (this.operations.size > MAX_OPERATIONS) {
      const oldest = this.operations.keys().next().value as string;
      this.operations.delete(oldest);
    }
    if (this.requestIds.size > MAX_OPERATIONS) {
      for (const [id, op] of this.requestIds) if (!this.operations.has(op)) this.requestIds.delete(id);
    }
    return operation;
  }

  private lookup(name: string): PlainMessage {
    if (!OPERATION_RE.test(name)) {
      throw invalidArgument(
        `Operation name must be formatted: "projects/<PROJECT_ID>/locations/<LOCATION_ID>/operations/<OPERATION_ID>", got "${name}".`,
      );
    }
    const operation = this.operations.get(name);
    if (!operation) throw notFound(MESSAGES.entityNotFound);
    return operation;
  }

  getOperation(req: { name?: string }): PlainMessage {
    return this.lookup(req.name ?? '');
  }

  /** WaitOperation: every operation is done when its RPC answers, so it returns at once. */
  waitOperation(req: { name?: string }): PlainMessage {
    return this.lookup(req.name ?? '');
  }

  /** CancelOperation: every operation is already done; cancelling one changes nothing, as for a finished operation. */
  cancelOperation(req: { name?: string }): PlainMessage {
    this.lookup(req.name ?? '');
    return {};
  }

  deleteOperation(req: { name?: string }): PlainMessage {
    const name = req.name ?? '';
    this.lookup(name);
    this.operations.delete(name);
    return {};
  }

  /** ListOperations of a location (`projects/P/locations/L`), oldest first, paged. */
  listOperations(req: { name?: string; filter?: string; pageSize?: number; pageToken?: string }): PlainMessage {
    const location = parseLocation(req.name ?? '');
    if ((req.filter ?? '').trim()) {
      throw invalidArgument('ListOperations: the emulator supports no filter; every operation it keeps is done.');
    }
    const size = Math.min(Number(req.pageSize ?? 0) || MAX_OPERATIONS_PAGE, MAX_OPERATIONS_PAGE);
    const names = [...this.operations.keys()].filter((name) => name.startsWith(`${location}/operations/`));
    let start = 0;
    if (req.pageToken) {
      start = names.indexOf(Buffer.from(req.pageToken, 'base64url').toString('utf8')) + 1;
      if (start === 0) throw invalidArgument('Invalid page_token: pass the next_page_token of a previous response.');
    }
    const page = names.slice(start, start + size);
    const more = start + size < names.length;
    return {
      operations: page.map((name) => this.operations.get(name)!),
      nextPageToken: more ? Buffer.from(page[page.length - 1]!).toString('base64url') : '',
    };
  }
}
