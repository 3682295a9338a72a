/** Binds the engine to gRPC: one unary handler per CloudTasks RPC, RpcErrors turned into gRPC statuses. */
import { grpc } from 'google-gax';
import type { TasksEngine } from './engine.js';
import { RpcError, unimplemented } from './rpc-errors.js';

type Handler = (request: never) => unknown;

function unary(fn: Handler): grpc.handleUnaryCall<unknown, unknown> {
  return (call, callback) => {
    try {
      callback(null, fn(call.request as never));
    } catch (error) {
      if (error instanceof RpcError) {
        callback(error.toServiceError());
      } else {
        callback({ code: grpc.status.INTERNAL, details: `Cloud Tasks emulator bug: ${String(error)}` });
      }
    }
  };
}

/** The implementation of `google.cloud.tasks.v2.CloudTasks` for grpc-js `Server.addService`. */
export function cloudTasksImplementation(engine: TasksEngine): grpc.UntypedServiceImplementation {
  const notImplemented = (rpc: string) =>
    unary(() => {
      throw unimplemented(`${rpc} is not implemented by the cloud-deferred Cloud Tasks emulator (it has no IAM).`);
    });
  return {
    CreateQueue: unary((r) => engine.createQueue(r)),
    GetQueue: unary((r) => engine.getQueue(r)),
    ListQueues: unary((r) => engine.listQueues(r)),
    UpdateQueue: unary((r) => engine.updateQueue(r)),
    DeleteQueue: unary((r) => engine.deleteQueue(r)),
    PurgeQueue: unary((r) => engine.purgeQueue(r)),
    PauseQueue: unary((r) => engine.pauseQueue(r)),
    ResumeQueue: unary((r) => engine.resumeQueue(r)),
    CreateTask: unary((r) => engine.createTask(r)),
    GetTask: unary((r) => engine.getTask(r)),
    ListTasks: unary((r) => engine.listTasks(r)),
    DeleteTask: unary((r) => engine.deleteTask(r)),
    RunTask: unary((r) => engine.runTask(r)),
    GetIamPolicy: notImplemented('GetIamPolicy'),
    SetIamPolicy: notImplemented('SetIamPolicy'),
    TestIamPermissions: notImplemented('TestIamPermissions'),
  };
}
