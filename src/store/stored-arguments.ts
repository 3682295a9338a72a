/** The call a task record stores (its envelope), read back with its arguments decoded where this process can decode them. */
import type { Datastore } from '@google-cloud/datastore';
import { decodeEnvelopeArgs, parseEnvelope, type CodecRegistry } from '../codec/index.js';
import type { StoredArguments } from '../types.js';
import { readPayload, type StoredTask } from './task-entity.js';

/** The call stored in a task record (its envelope), with the arguments decoded where this process can decode them. */
export async function decodeStoredArguments(
  datastore: Datastore,
  stored: StoredTask,
  codecs?: CodecRegistry,
): Promise<StoredArguments> {
  let envelope: ReturnType<typeof parseEnvelope>;
  try {
    envelope = parseEnvelope(await readPayload(datastore, stored));
  } catch (error) {
    return { error: (error as Error).message };
  }
  const out: { -readonly [K in keyof StoredArguments]: unknown } & Record<string, unknown> = {
    encodedArgs: envelope.args,
    ...(envelope.meta ? { meta: envelope.meta } : {}),
  };
  try {
    const decoded = await decodeEnvelopeArgs(envelope, { registry: codecs, datastore });
    out.args = decoded.args;
    if (decoded.bound !== undefined) out.bound = decoded.bound;
  } catch (error) {
    out.decodeError = (error as Error).message;
  }
  return out as StoredArguments;
}
