/** `deferred inspect <key | Cloud Task>` (and `deferred failed show`): one task entity with its decoded payload, its attempts, its Cloud Task, and what the sweeper would do. */
import { inspect as formatValue } from 'node:util';
import type { Argv, CommandModule } from 'yargs';
import { NotFoundError } from '../../errors/index.js';
import { formatTaskKey } from '../../store/key-text.js';
import { formatArgs, inspectTask, type TaskInspection } from '../../sweeper/inspect-task.js';
import { locateTask, type FoundCloudTask } from '../../sweeper/locate.js';
import { formatDuration, parseDuration } from '../../util/duration.js';
import { connect, withConnection, type Connection, type ConnectionArgs } from '../connection.js';
import { oneLine, when } from '../render.js';
import { COMMAND_SUMMARIES } from '../command-summaries.js';
import { attemptLinks } from '../../core/trace-links.js';

/** Parsed flags of `inspect` and `failed show`. */
export interface InspectArgs extends ConnectionArgs {
  key: string;
  json: boolean;
  grace: string;
}

const print = (text: string) => void process.stdout.write(text);

/** The flags of `inspect` and `failed show`. */
export function inspectBuilder(yargs: Argv): Argv<InspectArgs> {
  return withConnection(yargs)
    .positional('key', {
      type: 'string',
      describe:
        'the entity: its name (root entity) or a key path (Account:acme/_DeferredTask:3f2a9c); or a Cloud Task id or full name (from a log line)',
    })
    .option('json', { type: 'boolean', default: false, describe: 'print as JSON (arguments in their encoded form)' })
    .option('grace', { type: 'string', default: '10m', describe: 'grace used for the sweep verdict (as in sweep)' })
    .check((argv) => {
      parseDuration(String(argv.grace), '--grace');
      return true;
    }) as unknown as Argv<InspectArgs>;
}

/** The attempts of a record, oldest first; each traced one with the Cloud Logging query of its lines (in `projectId`). */
function historyLines(entity: TaskInspection['entity'], projectId: string): string[] {
  const history = entity.history;
  if (history.length === 0) return [];
  const lines = [`history      ${history.length} attempt(s), oldest first:`];
  for (const h of history) {
    const took = h.durationMs === undefined ? '' : ` in ${formatDuration(Math.round(h.durationMs))}`;
    lines.push(
      `  #${h.attempt}  ${when(h.at)}  retry ${h.retryCount}  answered ${h.status}  ${h.outcome}${took}${h.error ? `: ${oneLine(h.error, 160)}` : ''}`,
    );
    if (h.stack) {
      const frames = h.stack
        .split('\n')
        .slice(1, 4)
        .map((line) => `        ${line.trim()}`);
      lines.push(...frames);
    }
    const links = attemptLinks(projectId, entity.task, h);
    if (links) lines.push(`        logs: ${links.logQuery}`);
  }
  if (history.some((h) => h.traceId)) {
    lines.push(`  (read them with: gcloud logging read '<query>' --project ${projectId}, or in the Logs Explorer)`);
  }
  return lines;
}

function cloudTaskLines(task: FoundCloudTask): string[] {
  return [
    `  scheduled    ${when(task.scheduleTime)}`,
    `  dispatched   ${task.dispatchCount} time(s), ${task.responseCount} answer(s)${task.lastStatus === null ? '' : `, last status ${task.lastStatus}`}`,
  ];
}

/** Prints one task entity; false when there is none at `key`. */
async function printEntity(connection: Connection, found: TaskInspection, json: boolean): Promise<void> {
  if (json) {
    const { payload } = found;
    const printable = payload && 'args' in payload ? { ...payload, args: undefined } : payload;
    const e = found.entity;
    // Each traced attempt with where its lines and trace are, as the dashboard's API gives them.
    const history = e.history.map((h) => ({ ...h, ...attemptLinks(connection.projectId, e.task, h) }));
    print(`${JSON.stringify({ ...found, entity: { ...e, history }, payload: printable })}\n`);
    return;
  }
  const e = found.entity;
  const lines = [
    `key          ${found.key}${connection.namespace ? `   (namespace "${connection.namespace}")` : ''}`,
    `task         ${e.task}   (queue ${e.queue})`,
    `state        ${e.state}${e.transactional ? '   transactional' : ''}`,
    `attempts     ${e.attempts}`,
    `last error   ${e.lastError ?? '-'}`,
    `created      ${when(e.created)}`,
    `eta          ${when(e.eta)}`,
    `lease until  ${when(e.leaseUntil)}`,
    `finished     ${when(e.finishedAt)}`,
    ...(e.retried
      ? [`retried      ${when(e.retried.at)} as ${e.retried.cloudTaskName} (entity ${e.retried.entityKey})`]
      : []),
    `retention    ${formatDuration(e.retentionMs)}`,
    `expires      ${when(e.expireAt)}`,
    `shard        ${e.shard}`,
    `payload      ${e.payloadBytes} bytes, ${e.encoding}, ${e.chunks} chunk(s)`,
    `cloud task   ${e.cloudTaskName} (${typeof found.cloudTask === 'string' ? found.cloudTask : `look-up failed: ${found.cloudTask.error}`})`,
    `sweep        ${found.verdict}`,
    ...historyLines(e, connection.projectId),
  ];
  const payload = found.payload;
  if (payload === null) lines.push('arguments    - (payload dropped: the task is done)');
  else if ('error' in payload) lines.push(`arguments    unreadable payload: ${payload.error}`);
  else if (payload.args) lines.push('arguments', formatArgs(payload.args));
  else lines.push(`arguments    (encoded; ${payload.decodeError})`, `  ${JSON.stringify(payload.encodedArgs)}`);
  print(`${lines.join('\n')}\n`);
}

/** Runs `inspect`: finds what the argument names, prints it; exit 1 when it is nothing. */
export async function runInspect(argv: InspectArgs): Promise<void> {
  const connection = connect(argv);
  try {
    const located = await locateTask(connection.datastore, connection.tasks, argv.key, {
      projectId: connection.projectId,
      location: connection.location,
      namespace: connection.namespace,
    });
    const graceMs = parseDuration(argv.grace, '--grace');
    switch (located.kind) {
      case 'none':
        throw new NotFoundError(
          `nothing named ${argv.key} in ${connection.describe}: ${located.looked.join('; ')}. A done entity-backed task is found by its entity key (the entityKey field of its log lines).`,
        );
      case 'records':
        throw new NotFoundError(
          `${located.keys.length} failure records carry the Cloud Task id ${argv.key}; inspect one of them: ${located.keys.map(formatTaskKey).join(', ')}`,
        );
      case 'inline': {
        const { cloudTask } = located;
        if (argv.json) return print(`${JSON.stringify({ inline: true, cloudTask })}\n`);
        const envelope = cloudTask.envelope;
        print(
          [
            `Cloud Task ${cloudTask.name} is ${envelope ? `an inline task (${envelope.task}): its call travels in the task, it has no entity` : 'not a cloud-deferred task (its body is no envelope)'}.`,
            ...cloudTaskLines(cloudTask),
            ...(envelope
              ? ['arguments (encoded)', `  ${formatValue(envelope.args, { depth: 6, breakLength: 100 })}`]
              : []),
            '',
          ].join('\n'),
        );
        return;
      }
      case 'entity-gone':
        throw new NotFoundError(
          `Cloud Task ${located.cloudTask.name} carries entity ${formatTaskKey(located.key)}, which is gone (its transaction rolled back, or it was swept).`,
        );
      case 'entity': {
        const found = await inspectTask(connection.datastore, connection.tasks, located.key, { graceMs });
        if (!found) throw new NotFoundError(`no _DeferredTask entity at ${argv.key} in ${connection.describe}.`);
        if (!argv.json && located.via !== 'key') {
          const how =
            located.via === 'cloud-task'
              ? `Cloud Task ${located.cloudTask!.name} carries entity ${found.key}:`
              : `Cloud Task ${argv.key} failed; its failure record is ${found.key}:`;
          print(`${how}\n\n`);
        }
        return printEntity(connection, found, argv.json);
      }
    }
  } finally {
    await connection.close();
  }
}

export const inspectCommand: CommandModule<object, InspectArgs> = {
  ...COMMAND_SUMMARIES.inspect,
  builder: (yargs: Argv) =>
    inspectBuilder(yargs)
      .example('$0 inspect 3f2a9c41d0e84b7fa1c2d3e4f5a6b7c8', 'a root task entity')
      .example('$0 inspect 1234567890123456789', 'the entity (or failure record) of the Cloud Task in a log line'),
  handler: runInspect,
};
