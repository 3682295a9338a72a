/** Internal errors of the entity store (never thrown to users: the handler turns them into a recorded failure). */

/** A stored payload is missing chunks, does not decompress or has the wrong size. */
export class BadStoredPayloadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BadStoredPayloadError';
  }
}
