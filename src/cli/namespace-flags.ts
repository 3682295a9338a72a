/** The flags of `deferred sweep` and `deferred stats` that choose namespaces beyond the runtime's own (which its registry already adds), and how a namespace is shown. */
import type { Argv } from 'yargs';

/** Parsed namespace flags. */
export interface NamespaceArgs {
  'all-namespaces': boolean;
  'also-namespace': string[];
}

/** Adds `--all-namespaces` and `--also-namespace` to a command; `verb` says what it does there ("sweep", "count"). */
export function withNamespaceFlags<T>(yargs: Argv<T>, verb: string): Argv<T & NamespaceArgs> {
  return yargs
    .option('all-namespaces', {
      type: 'boolean',
      default: false,
      describe: `also ${verb} the task entities of every namespace a __namespace__ query lists (not on the Firestore emulator): once after upgrading, for entities written in other namespaces before the registry existed`,
    })
    .option('also-namespace', {
      type: 'string',
      array: true,
      default: [] as string[],
      describe: `also ${verb} the task entities of this namespace (repeatable; "" is the default namespace)`,
    }) as Argv<T & NamespaceArgs>;
}

/** How a namespace is shown: its name, or `(default)`. */
export function namespaceLabel(namespace: string): string {
  return namespace === '' ? '(default)' : namespace;
}
