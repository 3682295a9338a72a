/** The in-memory Datastore's stand-in for the client's gRPC stub: each RPC's request and answer go through the protos, and it answers asynchronously, as over a network. */
import { Code, RpcStatusError, unsupported } from './rpc-status.js';
import { throughWire } from './protos.js';
import type { MemoryDatastoreState } from './store.js';

type Callback = (error: unknown, response?: unknown, next?: unknown, raw?: unknown) => void;
type Handler = (request: never) => unknown;

/** Runs `handle` on the next turn of the event loop, with the request and the answer as gRPC would carry them. */
function rpc(requestType: string, responseType: string, handle: Handler) {
  return (request: unknown, options?: unknown, callback?: Callback): Promise<unknown[]> | void => {
    const done = typeof options === 'function' ? (options as Callback) : callback;
    const answer = new Promise<unknown>((resolve, reject) => {
      setImmediate(() => {
        try {
          resolve(throughWire(responseType, handle(throughWire<never>(requestType, request))));
        } catch (error) {
          reject(
            error instanceof RpcStatusError
              ? error
              : new RpcStatusError(Code.INTERNAL, `in-memory Datastore: ${(error as Error)?.message ?? String(error)}`),
          );
        }
      });
    });
    if (done) {
      answer.then(
        (response) => done(null, response, null, null),
        (error: unknown) => done(error),
      );
      return;
    }
    return answer.then((response) => [response, null, null]);
  };
}

/**
 * What `@google-cloud/datastore` calls on its `DatastoreClient` (gapic) for every operation: lookup, runQuery,
 * beginTransaction, commit, rollback, allocateIds, reserveIds. Aggregation queries are refused.
 */
export class MemoryDatastoreRpc {
  constructor(private readonly state: MemoryDatastoreState) {}

  readonly lookup = rpc('LookupRequest', 'LookupResponse', (r) => this.state.lookup(r));
  readonly runQuery = rpc('RunQueryRequest', 'RunQueryResponse', (r) => this.state.runQuery(r));
  readonly runAggregationQuery = rpc('RunAggregationQueryRequest', 'RunAggregationQueryResponse', () => {
    throw unsupported('An aggregation query (count, sum, avg)');
  });
  readonly beginTransaction = rpc('BeginTransactionRequest', 'BeginTransactionResponse', (r) =>
    this.state.beginTransaction(r),
  );
  readonly commit = rpc('CommitRequest', 'CommitResponse', (r) => this.state.commit(r));
  readonly rollback = rpc('RollbackRequest', 'RollbackResponse', (r) => this.state.rollback(r));
  readonly allocateIds = rpc('AllocateIdsRequest', 'AllocateIdsResponse', (r) => this.state.allocateIds(r));
  readonly reserveIds = rpc('ReserveIdsRequest', 'ReserveIdsResponse', () => this.state.reserveIds());

  /** `datastore.close()` closes every stub; nothing to release here. */
  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** The admin stub (indexes, import, export): none of it exists in memory. */
export const memoryAdminRpc: object = new Proxy(
  {},
  {
    get(_target, method) {
      if (method === 'close') return () => Promise.resolve();
      if (typeof method !== 'string' || method === 'then') return undefined;
      return (_request: unknown, _options: unknown, callback?: Callback) => {
        const error = unsupported(`The admin operation ${method}`);
        if (typeof callback === 'function') return callback(error);
        return Promise.reject(error);
      };
    },
  },
);

export { Code };
