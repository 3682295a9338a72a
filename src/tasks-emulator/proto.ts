/** Loads the Cloud Tasks v2 service definition from the protos shipped inside @google-cloud/tasks and google-gax. */
import { createRequire } from 'node:module';
import path from 'node:path';
import { GrpcClient, grpc, protobuf } from 'google-gax';

const require = createRequire(import.meta.url);

/** The folder holding `google/cloud/tasks/v2/*.proto` inside the installed @google-cloud/tasks. */
function tasksProtosDir(): string {
  return path.dirname(require.resolve('@google-cloud/tasks/build/protos'));
}

/** The folder holding google-gax's common protos (`google/rpc`, `google/api`, ...). */
function gaxProtosDir(): string {
  return path.join(path.dirname(require.resolve('google-gax')), '..', 'protos');
}

let cachedService: grpc.ServiceDefinition | undefined;

/** The `google.cloud.tasks.v2.CloudTasks` service definition, as @grpc/proto-loader builds it (camelCase fields, enums as strings). */
export function cloudTasksService(): grpc.ServiceDefinition {
  if (!cachedService) {
    const root = new GrpcClient({ grpc }).loadProto(tasksProtosDir(), 'google/cloud/tasks/v2/cloudtasks.proto');
    const v2 = (root.google as grpc.GrpcObject).cloud as grpc.GrpcObject;
    const ctor = ((v2.tasks as grpc.GrpcObject).v2 as grpc.GrpcObject).CloudTasks as grpc.ServiceClientConstructor;
    cachedService = ctor.service;
  }
  return cachedService;
}

let cachedRpcRoot: protobuf.Root | undefined;

/** A protobufjs root with `google.rpc.Status` and the error detail messages, to encode `grpc-status-details-bin`. */
export function rpcProtos(): protobuf.Root {
  if (!cachedRpcRoot) {
    const root = new protobuf.Root();
    const dir = gaxProtosDir();
    root.resolvePath = (_origin, target) => (path.isAbsolute(target) ? target : path.join(dir, target));
    root.loadSync(['google/rpc/status.proto', 'google/rpc/error_details.proto']);
    cachedRpcRoot = root;
  }
  return cachedRpcRoot;
}
