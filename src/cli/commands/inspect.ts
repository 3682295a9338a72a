/** `deferred inspect <key>`: one task entity with its decoded payload, its Cloud Task, and what the sweeper would do. */
import type { Argv, CommandModule } from 'yargs';
import { formatArgs, inspectTask } from '../../sweeper/inspect-task.js';
import { parseDuration } from '../../util/duration.js';
import { connect, withConnection, type ConnectionArgs } from '../connection.js';
import { EXIT } from '../exit-codes.js';
import { parseTaskKey } from '../../store/key-text.js';

interface InspectArgs extends ConnectionArgs {
  key: string;
  json: boolean;
  grace: string;
}

const when = (date: Date | null) => (date ? date.toISOString() : '-');

export const inspectCommand: CommandModule<object, InspectArgs> = {
  command: 'inspect <key>',
  describe: 'Show a _DeferredTask entity: task, decoded arguments, state, attempts, last error, sweep verdict',
  builder: (yargs: Argv) =>
    withConnection(yargs)
      .positional('key', {
        type: 'string',
        describe: 'the entity: its name (root entity) or a key path, e.g. Account:acme/_DeferredTask:3f2a9c',
      })
      .option('json', { type: 'boolean', default: false, describe: 'print as JSON (arguments in their encoded form)' })
      .option('grace', { type: 'string', default: '10m', describe: 'grace used for the sweep verdict (as in sweep)' })
      .example('$0 inspect 3f2a9c41d0e84b7fa1c2d3e4f5a6b7c8', 'a root task entity')
      .check((argv) => {
        parseDuration(String(argv.grace), '--grace');
        return true;
      }) as unknown as Argv<InspectArgs>,
  handler: async (argv) => {
    const connection = connect(argv);
    try {
      const key = parseTaskKey(connection.datastore, argv.key, connection.namespace);
      const found = await inspectTask(connection.datastore, connection.tasks, key, {
        graceMs: parseDuration(argv.grace, '--grace'),
      });
      if (!found) {
        process.stderr.write(`deferred: no _DeferredTask entity at ${argv.key} in ${connection.describe}.\n`);
        process.exitCode = EXIT.failure;
        return;
      }
      if (argv.json) {
        const { payload } = found;
        const printable = payload && 'args' in payload ? { ...payload, args: undefined } : payload;
        process.stdout.write(`${JSON.stringify({ ...found, payload: printable })}\n`);
        return;
      }
      const e = found.entity;
      const lines = [
        `key          ${found.key}`,
        `task         ${e.task}   (queue ${e.queue})`,
        `state        ${e.state}${e.transactional ? '   transactional' : ''}`,
        `attempts     ${e.attempts}`,
        `last error   ${e.lastError ?? '-'}`,
        `created      ${when(e.created)}`,
        `eta          ${when(e.eta)}`,
        `lease until  ${when(e.leaseUntil)}`,
        `finished     ${when(e.finishedAt)}`,
        `retention    ${e.retentionMs} ms`,
        `expires      ${when(e.expireAt)}`,
        `shard        ${e.shard}`,
        `payload      ${e.payloadBytes} bytes, ${e.encoding}, ${e.chunks} chunk(s)`,
        `cloud task   ${e.cloudTaskName} (${typeof found.cloudTask === 'string' ? found.cloudTask : `look-up failed: ${found.cloudTask.error}`})`,
        `sweep        ${found.verdict}`,
      ];
      const payload = found.payload;
      if (payload === null) lines.push('arguments    - (payload dropped: the task is done)');
      else if ('error' in payload) lines.push(`arguments    unreadable payload: ${payload.error}`);
      else if (payload.args) lines.push('arguments', formatArgs(payload.args));
      else lines.push(`arguments    (encoded; ${payload.decodeError})`, `  ${JSON.stringify(payload.encodedArgs)}`);
      process.stdout.write(`${lines.join('\n')}\n`);
    } finally {
      await connection.close();
    }
  },
};
