/** Header names and values a task may carry: what can go on the wire as an HTTP/1.1 header. */
import { invalidArgument } from './rpc-errors.js';

const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/**
 * Refuses headers that cannot go on the wire (a CR or LF in a value would split the request): the real service
 * answers INVALID_ARGUMENT for them too, before the task exists.
 */
export function checkHeaders(headers: Record<string, string>, field: string): void {
  for (const [name, value] of Object.entries(headers)) {
    if (!HEADER_NAME.test(name)) {
      throw invalidArgument(`${field} has an invalid header name ${JSON.stringify(name)}.`);
    }
    if (typeof value !== 'string' || !HEADER_VALUE.test(value)) {
      throw invalidArgument(
        `${field} has an invalid value for header "${name}": header values must not contain CR, LF or other control characters.`,
      );
    }
  }
}
