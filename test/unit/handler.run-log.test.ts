// Unit tests of a delivery's log lines (src/handler/run-log.ts): built whole, they are the lines log() would write inside the delivery's scope, field for field and in the same order.
import { Datastore } from '@google-cloud/datastore';
import { describe, expect, it } from 'vitest';
import { log, MemoryLogger, writeLog } from '../../src/core/logger.js';
import { runInDelivery } from '../../src/core/run-context.js';
import { SingularTaskFailure } from '../../src/errors/task-failures.js';
import { deliveryFields, deliveryLine, requestLineFields, runLine } from '../../src/handler/run-log.js';
import { tracedInfo, type BareTaskInfo } from '../../src/handler/run-trace.js';
import type { RunOutcome } from '../../src/store/state-machine.js';
import type { LogEntry, TaskInfo } from '../../src/types.js';

const datastore = new Datastore({ projectId: 'unit', apiEndpoint: 'localhost:1' });
const delivered = { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', sampled: true };

const bare: BareTaskInfo = {
  task: 'sendReceipt',
  queue: 'mail',
  cloudTaskName: 'projects/unit/locations/here/queues/mail/tasks/t1',
  retryCount: 2,
  executionCount: 1,
  attempt: 3,
  maxAttempts: null,
  eta: null,
  previousResponse: 500,
  retryReason: null,
  entityKey: null,
};

const infos: [string, TaskInfo][] = [
  ['no trace', tracedInfo('unit', bare, null)],
  ['a delivered trace', tracedInfo('unit', bare, delivered)],
  [
    'an entity in a namespace',
    tracedInfo(
      'unit',
      { ...bare, entityKey: datastore.key({ namespace: 'tenant', path: ['_DeferredTask', 'k'] }) },
      null,
    ),
  ],
];

/** What log() writes for `entry` inside a delivery whose scope holds `info.logFields` (the runtime's own setting). */
function viaLog(info: TaskInfo, entry: LogEntry): string {
  const logger = new MemoryLogger();
  runInDelivery({ fields: info.logFields }, () => log(logger, entry));
  return JSON.stringify(logger.entries[0]);
}

function written(entry: LogEntry): string {
  const logger = new MemoryLogger();
  writeLog(logger, entry);
  return JSON.stringify(logger.entries[0]);
}

describe.each(infos)('the lines of a delivery with %s', (_, info) => {
  it('a run line is the line log() would write, byte for byte', () => {
    const error = new Error('boom');
    const cases: [RunOutcome, unknown][] = [
      [{ kind: 'done' }, undefined],
      [{ kind: 'retry', error: 'Error: boom' }, error],
      [{ kind: 'failed', error: 'Error: boom' }, error],
      [{ kind: 'retry', error: 'not yet' }, new SingularTaskFailure('not yet')],
    ];
    for (const [outcome, caught] of cases) {
      const severity = outcome.kind === 'done' || caught instanceof SingularTaskFailure ? 'INFO' : 'ERROR';
      const message =
        outcome.kind === 'done'
          ? 'task sendReceipt done'
          : outcome.kind === 'failed'
            ? `task sendReceipt failed permanently: ${outcome.error}`
            : `task sendReceipt failed, will retry: ${outcome.error}`;
      const expected = viaLog(info, {
        severity,
        message,
        ...deliveryFields(info),
        durationMs: 12,
        outcome: outcome.kind,
        ...(severity === 'ERROR' ? { stack_trace: error.stack } : {}),
      });
      expect(written(runLine(info, outcome, caught, 12))).toBe(expected);
    }
  });

  it('a line built by deliveryLine is the line log() would write', () => {
    const line = deliveryLine(info, 'WARNING', 'task sendReceipt is busy');
    line.outcome = 'busy';
    expect(written(line as LogEntry)).toBe(
      viaLog(info, {
        severity: 'WARNING',
        message: 'task sendReceipt is busy',
        ...deliveryFields(info),
        outcome: 'busy',
      }),
    );
  });
});

describe('a run line', () => {
  it('carries Cloud Logging trace fields and labels first', () => {
    const info = tracedInfo('unit', bare, delivered);
    const line = runLine(info, { kind: 'done' }, undefined, 3);
    expect(Object.keys(line).slice(0, 6)).toEqual([
      'logging.googleapis.com/trace',
      'logging.googleapis.com/spanId',
      'logging.googleapis.com/trace_sampled',
      'logging.googleapis.com/labels',
      'severity',
      'message',
    ]);
    expect(line['logging.googleapis.com/trace']).toBe(`projects/unit/traces/${delivered.traceId}`);
    expect(line['logging.googleapis.com/labels']).toEqual({ task: 'sendReceipt', queue: 'mail', attempt: '3' });
    expect(line).toMatchObject({ durationMs: 3, outcome: 'done' });
    expect('entityKey' in line).toBe(false);
    expect('stack' in line).toBe(false);
  });

  it('names the entity of an entity-backed task, and its namespace', () => {
    const line = runLine(infos[2]![1], { kind: 'done' }, undefined, 3);
    expect(line.namespace).toBe('tenant');
    expect(typeof line.entityKey).toBe('string');
  });
});

describe('requestLineFields', () => {
  it("names the request's trace, task, queue and Cloud Task, from its path and headers, as far as they give them", () => {
    expect(
      requestLineFields('p', '/_deferred/tasks/send%20Mail', {
        'x-cloud-trace-context': '4bf92f3577b34da6a3ce929d0e0e4736/123;o=1',
        'x-cloudtasks-queuename': 'emails',
        'x-cloudtasks-taskname': '42',
      }),
    ).toEqual({
      'logging.googleapis.com/trace': 'projects/p/traces/4bf92f3577b34da6a3ce929d0e0e4736',
      'logging.googleapis.com/spanId': '000000000000007b',
      'logging.googleapis.com/trace_sampled': true,
      'logging.googleapis.com/labels': { task: 'send Mail', queue: 'emails' },
      task: 'send Mail',
      taskName: '42',
      queue: 'emails',
    });
    expect(requestLineFields('p', '/_deferred/sweep', {})).toEqual({});
    expect(requestLineFields('p', '/_deferred/tasks/%E0%A4%A', {})).toMatchObject({ task: '%E0%A4%A' });
  });
});
