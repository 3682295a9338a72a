/** The seam for modules built on a runtime instance (mappers, recurring jobs, the distributed sweeper): the configuration of an instance made by `createDeferred`, without a downcast. */
import type { ResolvedConfig } from '../core/config.js';
import type { EventHub } from '../core/events.js';
import { InvalidArgumentError } from '../errors/invalid-argument.js';
import type { Deferred } from '../types.js';

const configs = new WeakMap<object, () => ResolvedConfig>();
const hubs = new WeakMap<object, EventHub>();

/**
 * Called by each runtime instance when it is made; `config` resolves its configuration (lazily, for the default
 * instance), `events` is where its events go.
 */
export function registerRuntime(deferred: Deferred, config: () => ResolvedConfig, events: EventHub): void {
  configs.set(deferred, config);
  hubs.set(deferred, events);
}

/** The event hub of a runtime instance made by `createDeferred`, or undefined for any other object. */
export function runtimeEvents(deferred: Deferred): EventHub | undefined {
  return hubs.get(deferred);
}

/**
 * Where the configuration of a runtime instance made by `createDeferred` (or the default instance) comes from, or
 * undefined for any other object. Call the function when the configuration is needed, not before: the default
 * instance reads its environment on first use.
 */
export function runtimeConfigSource(deferred: Deferred): (() => ResolvedConfig) | undefined {
  return configs.get(deferred);
}

/** {@link runtimeConfigSource}, or an {@link InvalidArgumentError} naming the caller when `deferred` is no runtime instance. */
export function requireRuntimeConfig(deferred: Deferred, caller: string): () => ResolvedConfig {
  const source = configs.get(deferred);
  if (!source) {
    throw new InvalidArgumentError(
      `${caller}: pass the instance createDeferred(config) returned (or defaultDeferred()); it needs that instance's clients and clock.`,
    );
  }
  return source;
}
