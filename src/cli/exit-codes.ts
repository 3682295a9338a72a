/** The documented exit codes of the `deferred` CLI. */
export const EXIT = {
  /** Everything worked. */
  ok: 0,
  /** The command ran and failed (an RPC error, a sweep with errors). */
  failure: 1,
  /** Bad usage: unknown command or flag, invalid value. */
  usage: 2,
  /** A prerequisite is missing (gcloud, an emulator component, Java, a project id). */
  prerequisite: 3,
  /** The main job (`npm start`, not a `deferred` command) found a leak or a deleted live payload. */
  leak: 4,
} as const;
