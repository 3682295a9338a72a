/**
 * The emulator's one door to google-gax: grpc-js, protobufjs, the proto3 JSON serializer and google-auth-library of
 * the copy the app's @google-cloud/tasks runs on (see ../clients/gax.ts); `Gax` names their types.
 */
import type * as Gax from 'google-gax';
import { googleGax } from '../clients/gax.js';

export type { Gax };
export const { grpc, protobuf, serializer, googleAuthLibrary } = googleGax();
