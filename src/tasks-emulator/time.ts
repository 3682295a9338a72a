/** Conversions between protobuf Timestamp/Duration objects (as @grpc/proto-loader gives them) and milliseconds. */

/** A Timestamp or Duration as it arrives (seconds may be a string, a number or a Long-like object). */
export interface ProtoSecondsNanos {
  seconds?: string | number | { toString(): string } | null;
  nanos?: number | null;
}

/** Milliseconds of a Timestamp/Duration, or undefined when the message is absent. */
export function toMs(value: ProtoSecondsNanos | null | undefined): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value.seconds ?? 0);
  const nanos = Number(value.nanos ?? 0);
  return seconds * 1000 + nanos / 1e6;
}

/** A Timestamp/Duration message for the given milliseconds (floored to whole microseconds). */
export function fromMs(ms: number): { seconds: number; nanos: number } {
  const micros = Math.floor(ms * 1000);
  const seconds = Math.floor(micros / 1e6);
  return { seconds, nanos: (micros - seconds * 1e6) * 1000 };
}
