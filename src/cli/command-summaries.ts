/** What `deferred --help` lists of each command (its usage and one line), apart from the commands' code: listing them loads none of it. */
export const COMMAND_SUMMARIES = {
  emulator: {
    command: 'emulator',
    describe: 'Run a local emulator in the foreground (`deferred emulator tasks`: the Cloud Tasks emulator)',
  },
  sweep: {
    command: 'sweep',
    describe:
      'Sweep transient entities now: every shard of the namespace and of the namespaces it writes to, in parallel, in this process',
  },
  stats: {
    command: 'stats',
    describe: 'Count transient entities by state and age (index-only queries; payloads are not read)',
  },
  inspect: {
    command: 'inspect <key>',
    describe:
      'Show a _DeferredTask entity (by key, or by its Cloud Task id or name): task, decoded arguments, state, attempts and their errors, sweep verdict',
  },
  dev: {
    command: 'dev',
    describe: 'Run the local stack with a sample worker until Ctrl-C (emulators, handler, periodic sweep)',
  },
  jobs: {
    command: 'jobs <command>',
    describe: 'Recurring jobs and mapper jobs: list | show | enable | disable | run-now',
  },
  dashboard: {
    command: 'dashboard',
    describe:
      'Serve the dashboard on loopback (queues, task entities, failures, jobs, sweeps) and print its URL with an access token',
  },
  failed: {
    command: 'failed',
    describe:
      'The failure ledger: tasks that failed for good (list | show <key>); replay with retry, delete with discard',
  },
  retry: {
    command: 'retry [keys..]',
    describe: 'Replay failed tasks once each, with their arguments and options (the record becomes retried)',
  },
  discard: {
    command: 'discard [keys..]',
    describe: 'Delete failure records and their payloads now (never a task that can still run)',
  },
} as const satisfies Record<string, { readonly command: string; readonly describe: string }>;

/** A command's name: the first word of its usage (`retry [keys..]` -> `retry`). */
export type CommandName = keyof typeof COMMAND_SUMMARIES;
