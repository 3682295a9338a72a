// @ts-check
/** Jobs: recurring jobs with Enable / Disable / Run now, and mapper jobs with their progress, failures and shards. */
import { get, post } from '../api.js';
import { h, num, numCell, panel, replace, statePill, table, time } from '../dom.js';
import { actionButton, confirmDialog } from '../ui.js';

/**
 * @param {any} job
 * @param {import('../app.js').Context} ctx
 */
function recurringActions(job, ctx) {
  const needsTasks = !ctx.summary.canCreateTasks;
  const why = 'creates a Cloud Task: needs the app runtime (deferred dashboard --secret --handler-url)';
  const change = (/** @type {string} */ verb) => () => post(`jobs/${verb}`, { name: job.name });
  return [
    job.enabled
      ? actionButton(
          'Disable',
          async () => {
            const ok = await confirmDialog({
              title: `Disable ${job.name}?`,
              body: ['Its pending run notices and stops; nothing runs until it is enabled again.'],
              confirm: 'Disable',
              danger: true,
            });
            return ok ? change('disable')() : undefined;
          },
          { class: 'small danger', after: ctx.refreshNow, name: 'disable' },
        )
      : actionButton('Enable', change('enable'), {
          after: ctx.refreshNow,
          disabled: needsTasks,
          title: needsTasks ? why : 'Start a new chain of runs',
          name: 'enable',
        }),
    ' ',
    actionButton('Run now', change('run-now'), {
      after: ctx.refreshNow,
      disabled: needsTasks,
      title: needsTasks ? why : 'One run now, outside the schedule',
      name: 'run-now',
    }),
  ];
}

/** @param {any} m */
function progress(m) {
  const bar = h('progress', { max: Math.max(1, m.shards), value: m.shardsDone });
  return h('span', null, bar, ' ', h('span', { class: 'note' }, `${m.shardsDone}/${m.shards} shards`));
}

/**
 * @param {HTMLElement} root
 * @param {URLSearchParams} _params
 * @param {import('../app.js').Context} ctx
 */
export function mountJobs(root, _params, ctx) {
  const recurring = h('div');
  const mappers = h('div');
  replace(
    root,
    h(
      'div',
      { class: 'page-title' },
      h('h1', null, 'Jobs'),
      h('span', { class: 'sub' }, 'recurring jobs and mapper jobs, from their records'),
    ),
    recurring,
    mappers,
  );
  async function refresh() {
    const data = await get('jobs');
    replace(
      recurring,
      panel({
        title: 'Recurring jobs',
        flush: true,
        body: table(
          ['job', 'enabled', 'status', 'schedule', 'next due', 'last run', 'result', { text: 'runs', num: true }, ''],
          data.recurring.map((/** @type {any} */ j) =>
            h(
              'tr',
              { 'data-job': j.name },
              h('td', { class: 'mono' }, j.name),
              h('td', null, h('span', { class: `pill ${j.enabled ? 'ok' : ''}` }, j.enabled ? 'enabled' : 'disabled')),
              h('td', null, statePill(j.status)),
              h('td', null, j.schedule),
              h('td', null, time(j.nextDue)),
              h('td', null, time(j.lastRunFinished ?? j.lastRunStarted)),
              h(
                'td',
                null,
                j.lastRunSucceeded === null
                  ? h('span', { class: 'note' }, '-')
                  : j.lastRunSucceeded
                    ? h(
                        'span',
                        null,
                        h('span', { class: 'pill ok' }, 'ok'),
                        ' ',
                        h('span', { class: 'note' }, j.lastRunMessage ?? ''),
                      )
                    : h('span', { class: 'err' }, j.lastRunMessage ?? 'failed'),
              ),
              numCell(j.runs),
              h('td', { class: 'actions' }, ctx.canChange ? recurringActions(j, ctx) : null),
            ),
          ),
          'No recurring jobs yet: a job appears once the app calls ensure().',
        ),
      }),
    );
    replace(
      mappers,
      panel({
        title: 'Mapper jobs',
        sub: 'newest first',
        flush: true,
        body: table(
          [
            'job',
            'mapper',
            'status',
            'progress',
            { text: 'processed', num: true },
            { text: 'failed', num: true },
            'started',
            'finished',
          ],
          data.mappers.map((/** @type {any} */ m) =>
            h(
              'tr',
              {
                class: 'link',
                'data-mapper': m.jobId,
                onclick: () => ctx.go(`#/mapper?id=${encodeURIComponent(m.jobId)}`),
              },
              h('td', { class: 'mono' }, m.jobId),
              h('td', null, m.mapper),
              h('td', null, statePill(m.status)),
              h('td', null, progress(m)),
              numCell(m.processed),
              h('td', { class: `num${m.failed ? ' err' : ''}` }, num(m.failed)),
              h('td', null, time(m.startedAt)),
              h('td', null, time(m.finishedAt)),
            ),
          ),
          'No mapper jobs yet.',
        ),
      }),
    );
  }
  return { refresh };
}

/**
 * @param {HTMLElement} root
 * @param {URLSearchParams} params
 */
export function mountMapper(root, params) {
  const id = params.get('id') ?? '';
  const body = h('div', { class: 'view' });
  replace(
    root,
    h(
      'div',
      { class: 'page-title' },
      h('h1', null, 'Mapper job'),
      h('span', { class: 'sub mono' }, id),
      h('a', { href: '#/jobs' }, '← Jobs'),
    ),
    body,
  );
  async function refresh() {
    const m = await get('mapper', { id });
    replace(
      body,
      h(
        'div',
        { class: 'cards' },
        h(
          'div',
          { class: 'card' },
          h('div', { class: 'label' }, 'Status'),
          h('div', { class: 'value' }, statePill(m.status)),
          h('div', { class: 'hint' }, m.message),
        ),
        h(
          'div',
          { class: 'card' },
          h('div', { class: 'label' }, 'Shards done'),
          h('div', { class: 'value' }, `${m.shardsDone}/${m.shards}`),
          h('div', { class: 'hint' }, progress(m)),
        ),
        h(
          'div',
          { class: 'card ok' },
          h('div', { class: 'label' }, 'Processed'),
          h('div', { class: 'value' }, num(m.processed)),
          h('div', { class: 'hint' }, 'entities mapped'),
        ),
        h(
          'div',
          { class: `card ${m.failed ? 'bad' : ''}` },
          h('div', { class: 'label' }, 'Failed'),
          h('div', { class: 'value' }, num(m.failed)),
          h('div', { class: 'hint' }, 'entities whose map threw'),
        ),
      ),
      panel({
        title: 'Failures',
        sub: m.failures.length ? `first ${m.failures.length}` : '',
        flush: true,
        body: m.failures.length ? h('pre', null, m.failures.join('\n')) : h('div', { class: 'empty' }, 'No failures.'),
      }),
      panel({
        title: 'Shards',
        flush: true,
        body: table(
          [
            { text: 'shard', num: true },
            'status',
            { text: 'step', num: true },
            { text: 'processed', num: true },
            { text: 'failed', num: true },
            'updated',
          ],
          m.shardRecords.map((/** @type {any} */ s) => [
            numCell(s.shard),
            statePill(s.status),
            numCell(s.step),
            numCell(s.processed),
            numCell(s.failed),
            time(s.updatedAt),
          ]),
        ),
      }),
    );
  }
  return { refresh };
}
