/** The task registry: registered names and the functions they run (plain tasks, closures with an environment, class methods). */
import { DuplicateTaskNameError } from '../errors/runtime.js';
import type { TaskOptions } from '../types.js';
import { checkTaskName } from './task-names.js';

/** One registered task. */
export interface TaskDefinition {
  readonly name: string;
  readonly kind: 'function' | 'closure' | 'method';
  readonly options: TaskOptions;
  /** Calls the function with decoded arguments and, for closures and methods, the decoded bound value. */
  readonly run: (args: unknown[], bound: unknown) => unknown;
  /** The user's function (plain tasks and closures), used to find the definition from the function itself. */
  readonly fn: ((...args: never[]) => unknown) | null;
}

/** Names to definitions, and functions to definitions (for the `defer(fn, ...args)` style). */
export class TaskRegistry {
  private readonly byName = new Map<string, TaskDefinition>();
  private readonly byFn = new WeakMap<object, TaskDefinition>();

  /**
   * Adds a definition. Registering the same function under the same name again returns the first definition (module
   * reloads); a name taken by another function, or a function registered under two names, is an error.
   */
  register(definition: TaskDefinition): TaskDefinition {
    checkTaskName(definition.name);
    const existing = this.byName.get(definition.name);
    if (existing) {
      if (definition.fn && existing.fn === definition.fn) return existing;
      throw new DuplicateTaskNameError(
        `task name ${JSON.stringify(definition.name)} is already registered with another function; every task needs its own name.`,
      );
    }
    if (definition.fn) {
      const other = this.byFn.get(definition.fn);
      if (other) {
        throw new DuplicateTaskNameError(
          `this function is already registered as ${JSON.stringify(other.name)}; register it once and reuse the handle.`,
        );
      }
      this.byFn.set(definition.fn, definition);
    }
    this.byName.set(definition.name, definition);
    return definition;
  }

  get(name: string): TaskDefinition | undefined {
    return this.byName.get(name);
  }

  /** The definition a function was registered with, if any. */
  byFunction(fn: object): TaskDefinition | undefined {
    return this.byFn.get(fn);
  }

  /** Registered names, sorted. */
  names(): string[] {
    return [...this.byName.keys()].sort();
  }
}
