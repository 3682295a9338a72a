/** The Datastore API's messages, from the protos inside the app's own @google-cloud/datastore: every request and answer of the in-memory store goes through them, as over gRPC. */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type * as Gax from 'google-gax';
import { googleGax } from '../../clients/gax.js';

type Protobuf = typeof Gax.protobuf;
type MessageType = ReturnType<InstanceType<Protobuf['Root']>['lookupType']>;

/** What @grpc/proto-loader (and so the client) makes of a decoded message: int64 as strings, enums as names, defaults filled, oneof names. */
const OBJECT_OPTIONS = { longs: String, enums: String, defaults: true, oneofs: true } as const;

let root: InstanceType<Protobuf['Root']> | undefined;

/**
 * The protos' JSON: inside @google-cloud/datastore up to major 10, in its @google-cloud/datastore-api dependency from
 * major 11 on.
 */
function protosJson(): unknown {
  const require = createRequire(import.meta.url);
  const packageJson = require.resolve('@google-cloud/datastore/package.json');
  const candidates = [join(dirname(packageJson), 'build', 'protos', 'protos.json')];
  try {
    candidates.push(createRequire(packageJson).resolve('@google-cloud/datastore-api/build/protos/protos.json'));
  } catch {
    // an older client without the split package
  }
  const found = candidates.find((file) => existsSync(file));
  if (!found) {
    throw new Error(
      `the Datastore protos were not found in @google-cloud/datastore (looked at ${candidates.join(', ')})`,
    );
  }
  return JSON.parse(readFileSync(found, 'utf8'));
}

function loadRoot(): InstanceType<Protobuf['Root']> {
  root ??= googleGax('@google-cloud/datastore').protobuf.Root.fromJSON(protosJson() as never);
  return root;
}

const types = new Map<string, MessageType>();

/** A message type of `google.datastore.v1`, e.g. `LookupRequest`. */
export function messageType(name: string): MessageType {
  let type = types.get(name);
  if (!type) {
    type = loadRoot().lookupType(`google.datastore.v1.${name}`);
    types.set(name, type);
  }
  return type;
}

/**
 * A message as the other side of a gRPC call would see it: encoded to protobuf bytes and decoded with the options the
 * client decodes with. Unknown fields are dropped, int64 become strings, bytes Buffers, unset fields their defaults.
 */
export function throughWire<T>(name: string, message: unknown): T {
  const type = messageType(name);
  const bytes = type.encode(type.fromObject(message as Record<string, unknown>)).finish();
  return type.toObject(type.decode(bytes), OBJECT_OPTIONS) as T;
}

/** The protobuf bytes of a message (cursors are encoded positions). */
export function encodeMessage(name: string, message: unknown): Buffer {
  const type = messageType(name);
  return Buffer.from(type.encode(type.fromObject(message as Record<string, unknown>)).finish());
}

/** Decodes protobuf bytes of a message. */
export function decodeMessage<T>(name: string, bytes: Uint8Array): T {
  const type = messageType(name);
  return type.toObject(type.decode(bytes), OBJECT_OPTIONS) as T;
}
