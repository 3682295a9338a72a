/** The app's identity for CLI commands that create Cloud Tasks (jobs enable / run-now, retry): signing secret, handler URL or App Engine, OIDC; and the runtime instance made from it. */
import type { Argv } from 'yargs';
import { createDeferred } from '../runtime/deferred-runtime.js';
import { PrerequisiteMissingError } from '../errors/index.js';
import type { Deferred } from '../types.js';
import type { Connection } from './connection.js';

/** Parsed app flags. */
export interface AppArgs {
  secret?: string;
  'handler-url'?: string;
  'app-engine'?: boolean;
  'oidc-service-account'?: string;
  'oidc-audience'?: string;
}

/** Adds the app flags (group "App:"), each with its environment variable. */
export function withAppFlags<T>(yargs: Argv<T>): Argv<T & AppArgs> {
  return yargs
    .option('secret', { type: 'string', group: 'App:', describe: "the app's signing secret [env: DEFERRED_SECRET]" })
    .option('handler-url', {
      type: 'string',
      group: 'App:',
      describe: "the app's handler URL, e.g. https://worker-abc.a.run.app/_deferred [env: DEFERRED_HANDLER_URL]",
    })
    .option('app-engine', {
      type: 'boolean',
      group: 'App:',
      describe: 'the app runs on App Engine: tasks get App Engine targets (instead of --handler-url)',
    })
    .option('oidc-service-account', {
      type: 'string',
      group: 'App:',
      describe: 'service account the tasks carry OIDC tokens of, as the app does [env: DEFERRED_OIDC_SERVICE_ACCOUNT]',
    })
    .option('oidc-audience', {
      type: 'string',
      group: 'App:',
      describe: 'audience of those tokens (default: the handler URL) [env: DEFERRED_OIDC_AUDIENCE]',
    }) as Argv<T & AppArgs>;
}

/**
 * A runtime instance that creates and signs Cloud Tasks as the app does: it needs the app's secret and where the app
 * is served (a handler URL, or App Engine); missing either is a missing prerequisite (exit 3).
 */
export function appRuntime(
  connection: Connection,
  argv: AppArgs,
  queue?: string,
  env: NodeJS.ProcessEnv = process.env,
): Deferred {
  const secret = argv.secret ?? env.DEFERRED_SECRET;
  const handlerUrl = argv['handler-url'] ?? env.DEFERRED_HANDLER_URL;
  const serviceAccountEmail = argv['oidc-service-account'] ?? env.DEFERRED_OIDC_SERVICE_ACCOUNT;
  const audience = argv['oidc-audience'] ?? env.DEFERRED_OIDC_AUDIENCE;
  if (!secret) {
    throw new PrerequisiteMissingError("This needs the app's signing secret: pass --secret or set DEFERRED_SECRET.");
  }
  if (!handlerUrl && !argv['app-engine']) {
    throw new PrerequisiteMissingError(
      'This needs where the app serves tasks: pass --handler-url (e.g. https://worker-abc.a.run.app/_deferred) or set DEFERRED_HANDLER_URL, or pass --app-engine for App Engine targets.',
    );
  }
  return createDeferred({
    projectId: connection.projectId,
    location: connection.location,
    ...(queue ? { queue } : {}),
    ...(handlerUrl ? { handlerUrl } : {}),
    secret,
    datastore: connection.datastore,
    tasks: connection.tasks,
    ...(serviceAccountEmail ? { oidc: { serviceAccountEmail, ...(audience ? { audience } : {}), verify: false } } : {}),
  });
}
