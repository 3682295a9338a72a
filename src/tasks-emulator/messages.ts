/**
 * Converts messages between the wire formats (protobuf bytes for gRPC, proto3 JSON for REST) and the plain objects
 * the engine reads and writes, the same way for both transports.
 */
import { serializer, type Gax } from './google-gax.js';

/**
 * How a request reaches the engine: what @grpc/proto-loader (and so google-gax) gives a gRPC server: lowerCamelCase
 * fields, int64 as strings, enums as names, unset fields as their defaults (`null` for messages), the oneof field name.
 */
const OBJECT_OPTIONS: Gax.protobuf.IConversionOptions = {
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
};

/** A plain object as the engine reads and writes messages. */
export type PlainMessage = Record<string, unknown>;

/** The conversions of one message type. */
export interface MessageCodec {
  readonly type: Gax.protobuf.Type;
  /** Protobuf bytes to the engine's object. */
  decode(bytes: Uint8Array): PlainMessage;
  /** The engine's object (or a client's) to protobuf bytes; unknown fields are dropped. */
  encode(object: PlainMessage): Uint8Array;
  /** Proto3 JSON (fields already checked and named in lowerCamelCase) to the engine's object. */
  fromJson(json: unknown): PlainMessage;
  /**
   * The engine's object to proto3 JSON, exactly what gRPC would have carried: fields at their default value are
   * left out, durations are "10s", timestamps RFC 3339, bytes base64, int64 strings.
   */
  toJson(object: PlainMessage, options?: { numericEnums?: boolean }): unknown;
}

const codecs = new WeakMap<Gax.protobuf.Type, MessageCodec>();

function isDefaultScalar(value: unknown): boolean {
  if (value === 0 || value === '' || value === false) return true;
  if (value instanceof Uint8Array) return value.length === 0;
  if (value && typeof value === 'object' && 'low' in value && 'high' in value) {
    const long = value as { low: number; high: number };
    return long.low === 0 && long.high === 0;
  }
  return false;
}

/**
 * Drops the fields of a decoded message that hold their proto3 default (0, '', false, the enum's 0 value), as Google's
 * JSON leaves them out; fields with presence (oneof members, `optional`) stay. Recurses into sub-messages.
 */
function dropDefaults(message: Record<string, unknown>, type: Gax.protobuf.Type): void {
  for (const key of Object.keys(message)) {
    const field = type.fields[key];
    if (!field) continue;
    const value = message[key];
    const resolved = field.resolvedType;
    const isMessage = Boolean(resolved && 'fields' in resolved);
    if (field.map || field.repeated) {
      if (isMessage) {
        const items = field.map ? Object.values(value as object) : (value as unknown[]);
        for (const item of items) dropDefaults(item as Record<string, unknown>, resolved as Gax.protobuf.Type);
      }
    } else if (isMessage) {
      if (value) dropDefaults(value as Record<string, unknown>, resolved as Gax.protobuf.Type);
    } else if (!field.partOf && isDefaultScalar(value)) {
      delete message[key];
    }
  }
}

/** The codec of a message type (cached). */
export function codecOf(type: Gax.protobuf.Type): MessageCodec {
  let codec = codecs.get(type);
  if (!codec) {
    const decode = (bytes: Uint8Array) => type.toObject(type.decode(bytes), OBJECT_OPTIONS);
    const encode = (object: PlainMessage) => type.encode(type.fromObject(object)).finish();
    codec = {
      type,
      decode,
      encode,
      fromJson(json) {
        const message = serializer.fromProto3JSON(type, json as never);
        return decode(type.encode(message ?? type.create()).finish());
      },
      toJson(object, options = {}) {
        // Through the wire format, so that defaults are dropped exactly as gRPC drops them.
        const message = type.decode(encode(object)) as unknown as Record<string, unknown>;
        dropDefaults(message, type);
        return serializer.toProto3JSON(message as never, { numericEnums: options.numericEnums ?? false });
      },
    };
    codecs.set(type, codec);
  }
  return codec;
}
