/** The events of a runtime instance for metrics (`deferred.on`): listeners kept per event, called synchronously, never allowed to fail what they report. */
import { InvalidArgumentError } from '../errors/invalid-argument.js';
import type { DeferredEvents, Logger } from '../types.js';
import { describeError, log } from './logger.js';

const EVENTS: readonly (keyof DeferredEvents)[] = [
  'taskDeferred',
  'taskStarted',
  'taskSucceeded',
  'taskFailed',
  'taskRetried',
  'sweepFinished',
];

/** One instance's listeners. */
export class EventHub {
  private readonly listeners = new Map<keyof DeferredEvents, ((payload: never) => void)[]>();

  constructor(private readonly logger: () => Logger) {}

  /** Adds a listener; returns the function that removes it. */
  on<E extends keyof DeferredEvents>(event: E, listener: (payload: DeferredEvents[E]) => void): () => void {
    if (!EVENTS.includes(event)) {
      throw new InvalidArgumentError(
        `on(${JSON.stringify(event)}): unknown event; the events are ${EVENTS.join(', ')}.`,
      );
    }
    if (typeof listener !== 'function')
      throw new InvalidArgumentError(`on(${JSON.stringify(event)}, listener): listener must be a function.`);
    const list = [...(this.listeners.get(event) ?? []), listener as (payload: never) => void];
    this.listeners.set(event, list);
    return () => {
      this.listeners.set(
        event,
        (this.listeners.get(event) ?? []).filter((l) => l !== listener),
      );
    };
  }

  /** Whether anyone listens to `event` (so that its payload is built only then). */
  has(event: keyof DeferredEvents): boolean {
    return (this.listeners.get(event)?.length ?? 0) > 0;
  }

  /** Calls the listeners of `event`; one that throws is logged and the others still run. */
  emit<E extends keyof DeferredEvents>(event: E, payload: DeferredEvents[E]): void {
    const list = this.listeners.get(event);
    if (!list) return;
    for (const listener of list) {
      try {
        (listener as (payload: DeferredEvents[E]) => void)(payload);
      } catch (error) {
        log(this.logger(), { severity: 'WARNING', message: `a ${event} listener threw: ${describeError(error)}` });
      }
    }
  }
}
