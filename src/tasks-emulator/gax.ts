/** The emulator's one door to google-gax: grpc-js, protobufjs, the proto3 JSON serializer and google-auth-library, one copy each. */
export { grpc, protobuf, serializer, googleAuthLibrary } from 'google-gax';
