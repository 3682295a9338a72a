/** Binds the RPC table to gRPC: one grpc-js service definition per proto service, errors sent as gRPC statuses. */
import { rpcPath, type Rpc } from './api.js';
import type { Gax } from './google-gax.js';
import { codecOf, type PlainMessage } from './messages.js';
import { asRpcError } from './rpc-errors.js';

/** A grpc-js service definition of a proto service, with the same conversions as the REST gateway. */
function serviceDefinition(service: Gax.protobuf.Service): Gax.grpc.ServiceDefinition {
  const definition: Record<string, Gax.grpc.MethodDefinition<PlainMessage, PlainMessage>> = {};
  for (const method of service.methodsArray) {
    const request = codecOf(method.resolvedRequestType!);
    const response = codecOf(method.resolvedResponseType!);
    definition[method.name] = {
      path: rpcPath(service, method),
      requestStream: false,
      responseStream: false,
      requestSerialize: (value) => Buffer.from(request.encode(value)),
      requestDeserialize: (bytes) => request.decode(bytes),
      responseSerialize: (value) => Buffer.from(response.encode(value)),
      responseDeserialize: (bytes) => response.decode(bytes),
      originalName: method.name.charAt(0).toLowerCase() + method.name.slice(1),
    };
  }
  return definition;
}

function unary(rpc: Rpc): Gax.grpc.handleUnaryCall<PlainMessage, PlainMessage> {
  return (call, callback) => {
    let answer: PlainMessage | Promise<PlainMessage>;
    try {
      answer = rpc.handle(call.request);
    } catch (error) {
      callback(asRpcError(error).toServiceError());
      return;
    }
    Promise.resolve(answer).then(
      (value) => callback(null, value),
      (error: unknown) => callback(asRpcError(error).toServiceError()),
    );
  };
}

/** Adds every service of the RPC table to a grpc-js server. */
export function addGrpcServices(server: Gax.grpc.Server, rpcs: ReadonlyMap<string, Rpc>): void {
  const byService = new Map<Gax.protobuf.Service, Gax.grpc.UntypedServiceImplementation>();
  for (const rpc of rpcs.values()) {
    let implementation = byService.get(rpc.service);
    if (!implementation) byService.set(rpc.service, (implementation = {}));
    implementation[rpc.method.name] = unary(rpc);
  }
  for (const [service, implementation] of byService) server.addService(serviceDefinition(service), implementation);
}
