/**
 * Every RPC the emulator answers, transport-independent: the services of the installed protos (Cloud Tasks v2 and
 * v2beta3, Locations, Operations), each method bound to the emulator's state. gRPC and REST both serve this one table.
 */
import { batchCreateTasks, batchDeleteTasks } from './batch.js';
import type { CmekConfigs } from './cmek-config.js';
import type { TasksEngine } from './engine.js';
import type { OperationStore } from './operations.js';
import type { Gax } from './google-gax.js';
import type { PlainMessage } from './messages.js';
import { API_VERSIONS, cloudTasksService, protoRoot, type ApiVersion } from './proto.js';
import { unimplemented } from './rpc-errors.js';
import { queueIn, queueMaskIn, queueOut } from './versions.js';

/** Answers one request object (as messages.ts decodes it) with a response object, or throws an RpcError. */
export type RpcHandler = (request: PlainMessage) => PlainMessage | Promise<PlainMessage>;

/** One RPC: its proto method (request and response types, HTTP annotations) and its implementation. */
export interface Rpc {
  readonly service: Gax.protobuf.Service;
  readonly method: Gax.protobuf.Method;
  readonly handle: RpcHandler;
}

type Handlers = Record<string, RpcHandler>;
// The engine's methods take the request shapes they read; the handlers pass the decoded request on as it is.
type Loose = never;

/** The state the RPCs read and change. */
export interface EmulatorState {
  readonly engine: TasksEngine;
  readonly operations: OperationStore;
  readonly cmek: CmekConfigs;
}

type Mask = { paths?: string[] } | null | undefined;

function cloudTasksHandlers({ engine, operations, cmek }: EmulatorState, version: ApiVersion): Handlers {
  const out = (queue: PlainMessage) => queueOut(version, queue);
  const readMask = (mask: unknown) => (mask ? { paths: queueMaskIn(version, (mask as Mask)?.paths ?? []) } : null);
  const noIam = (rpc: string) => () => {
    throw unimplemented(`${rpc} is not implemented by the cloud-deferred Cloud Tasks emulator (it has no IAM).`);
  };
  return {
    ListQueues: (r) => {
      const page = engine.listQueues({ ...r, readMask: readMask(r.readMask) } as Loose);
      return { ...page, queues: page.queues.map(out) };
    },
    GetQueue: (r) => out(engine.getQueue({ ...r, readMask: readMask(r.readMask) } as Loose)),
    CreateQueue: (r) => out(engine.createQueue({ ...r, queue: queueIn(version, r.queue as PlainMessage) } as Loose)),
    UpdateQueue: (r) => {
      const paths = (r.updateMask as { paths?: string[] } | null)?.paths ?? [];
      return out(
        engine.updateQueue({
          queue: queueIn(version, r.queue as PlainMessage),
          updateMask: { paths: queueMaskIn(version, paths) },
        } as Loose),
      );
    },
    DeleteQueue: (r) => engine.deleteQueue(r as Loose),
    PurgeQueue: (r) => out(engine.purgeQueue(r as Loose)),
    PauseQueue: (r) => out(engine.pauseQueue(r as Loose)),
    ResumeQueue: (r) => out(engine.resumeQueue(r as Loose)),
    CreateTask: (r) => engine.createTask(r as Loose),
    GetTask: (r) => engine.getTask(r as Loose),
    ListTasks: (r) => engine.listTasks(r as Loose),
    DeleteTask: (r) => engine.deleteTask(r as Loose),
    RunTask: (r) => engine.runTask(r as Loose),
    BatchCreateTasks: (r) => batchCreateTasks(engine, operations, version, r as Loose),
    BatchDeleteTasks: (r) => batchDeleteTasks(engine, operations, version, r as Loose),
    GetCmekConfig: (r) => cmek.getCmekConfig(r as Loose),
    UpdateCmekConfig: (r) => cmek.updateCmekConfig(r as Loose),
    GetIamPolicy: noIam('GetIamPolicy'),
    SetIamPolicy: noIam('SetIamPolicy'),
    TestIamPermissions: noIam('TestIamPermissions'),
  };
}

function operationsHandlers(operations: OperationStore): Handlers {
  return {
    GetOperation: (r) => operations.getOperation(r as Loose),
    ListOperations: (r) => operations.listOperations(r as Loose),
    DeleteOperation: (r) => operations.deleteOperation(r as Loose),
    CancelOperation: (r) => operations.cancelOperation(r as Loose),
    WaitOperation: (r) => operations.waitOperation(r as Loose),
  };
}

function locationsHandlers(engine: TasksEngine): Handlers {
  return {
    GetLocation: (r) => engine.getLocation(r as Loose),
    ListLocations: (r) => engine.listLocations(r as Loose),
  };
}

/** The RPC table: every method of every served service, by gRPC path (`/package.Service/Method`). */
export function buildRpcs(state: EmulatorState): Map<string, Rpc> {
  const services: Array<[Gax.protobuf.Service, Handlers]> = [
    ...API_VERSIONS.map((version): [Gax.protobuf.Service, Handlers] => [
      cloudTasksService(version),
      cloudTasksHandlers(state, version),
    ]),
    [protoRoot().lookupService('google.cloud.location.Locations'), locationsHandlers(state.engine)],
    [protoRoot().lookupService('google.longrunning.Operations'), operationsHandlers(state.operations)],
  ];
  const rpcs = new Map<string, Rpc>();
  for (const [service, handlers] of services) {
    for (const method of service.methodsArray) {
      const handle =
        handlers[method.name] ??
        (() => {
          throw unimplemented(
            `${method.name} is not implemented by the cloud-deferred Cloud Tasks emulator (${service.fullName.slice(1)}).`,
          );
        });
      rpcs.set(rpcPath(service, method), { service, method, handle });
    }
  }
  return rpcs;
}

/** The gRPC path of a method: `/google.cloud.tasks.v2.CloudTasks/CreateQueue`. */
export function rpcPath(service: Gax.protobuf.Service, method: Gax.protobuf.Method): string {
  return `/${service.fullName.replace(/^\./, '')}/${method.name}`;
}
