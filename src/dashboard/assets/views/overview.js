// @ts-check
/** The overview: counts by state, the sweeper's backlog, queues with pause/resume, entities by age, and sweeps over time. */
import { get } from '../api.js';
import { failuresChart, sweepChart } from '../chart.js';
import { barRow, duration, h, num, numCell, panel, replace, statePill, table, time, when } from '../dom.js';
import { hrefIn, namespaceLabel } from '../namespaces.js';
import { queueActions } from './queues.js';
import { chartWidth, runsTable } from './sweeper.js';

/**
 * @param {string} label
 * @param {string | number} value
 * @param {string} hint
 * @param {string} [tone]
 * @param {string} [href]
 */
function card(label, value, hint, tone = '', href) {
  const body = [
    h('div', { class: 'label' }, label),
    h('div', { class: 'value', 'data-card': label }, typeof value === 'number' ? num(value) : value),
    h('div', { class: 'hint' }, hint),
  ];
  return href ? h('a', { class: `card ${tone}`, href }, body) : h('div', { class: `card ${tone}` }, body);
}

/**
 * The namespaces the dashboard shows, each with links to its tasks and failures (none when it shows only its own).
 * @param {import('../app.js').Context} ctx
 */
function namespacesPanel(ctx) {
  const shown = ctx.summary.namespaces;
  if (shown.length < 2) return null;
  return panel({
    title: 'Namespaces',
    sub: `the runtime's own and the ${num(shown.length - 1)} its registry names (tenants' entity groups it writes task entities to); the counts above are its own`,
    flush: true,
    body: table(
      ['namespace', ''],
      shown.map((namespace) =>
        h(
          'tr',
          { 'data-namespace': namespace },
          h('td', null, namespaceLabel(namespace, ctx)),
          h(
            'td',
            { class: 'actions' },
            h('a', { href: hrefIn('tasks', {}, namespace, ctx) }, 'Tasks'),
            ' · ',
            h('a', { href: hrefIn('failed', {}, namespace, ctx) }, 'Failed'),
          ),
        ),
      ),
    ),
  });
}

/**
 * @param {HTMLElement} root
 * @param {URLSearchParams} _params
 * @param {import('../app.js').Context} ctx
 */
export function mountOverview(root, _params, ctx) {
  const cards = h('div', { class: 'cards' });
  const queues = h('div');
  const ages = h('div', { class: 'grid-2' });
  const chart = h('div');
  const failures = h('div');
  const runs = h('div');
  const extra = h('div');
  const footer = h('div', { class: 'footer' });
  replace(
    root,
    h(
      'div',
      { class: 'page-title' },
      h('h1', null, 'Overview'),
      h('span', { class: 'sub' }, 'task entities, queues and the sweeper, from the stores themselves'),
    ),
    cards,
    queues,
    ages,
    failures,
    chart,
    runs,
    extra,
    namespacesPanel(ctx),
    footer,
  );

  /** @param {HTMLElement} el @param {string} title @param {unknown} error */
  const failed = (el, title, error) =>
    replace(el, panel({ title, body: h('div', { class: 'banner bad' }, /** @type {Error} */ (error).message) }));

  async function refresh() {
    const [counts, queueData, sweeps, hourly] = await Promise.allSettled([
      get('counts'),
      get('queues'),
      get('sweeps'),
      ctx.summary.ledger ? get('failures-by-hour') : Promise.resolve(null),
    ]);
    if (hourly.status === 'fulfilled' && hourly.value) {
      const total = hourly.value.hours.reduce((/** @type {number} */ n, /** @type {any} */ x) => n + x.failed, 0);
      replace(
        failures,
        panel({
          title: 'Failures over the last 24 hours',
          sub: `${num(total)}${hourly.value.capped ? '+' : ''} tasks failed for good, per hour (the failure ledger)`,
          actions: [h('a', { href: '#/failed' }, 'Failed tasks →')],
          body: failuresChart(hourly.value.hours, chartWidth(root)),
        }),
      );
    } else if (hourly.status === 'rejected') failed(failures, 'Failures', hourly.reason);
    if (counts.status === 'fulfilled') {
      const c = counts.value;
      const s = c.byState;
      const behind = c.behindByMs;
      replace(
        cards,
        card('Pending', s.pending ?? 0, 'waiting for their Cloud Task', '', '#/tasks?state=pending'),
        card('Running', s.running ?? 0, 'under a lease now', '', '#/tasks?state=running'),
        card('Failed', s.failed ?? 0, 'kept for their retention', (s.failed ?? 0) > 0 ? 'bad' : '', '#/failed'),
        card('Done', s.done ?? 0, 'kept for their retention', '', '#/tasks?state=done'),
        card('Retried', s.retried ?? 0, 'failed, then replayed', '', '#/tasks?state=retried'),
        card(
          'Sweeper behind by',
          behind > 0 ? duration(behind) : 'up to date',
          behind > 0
            ? `oldest reclaimable since ${when(c.oldestReclaimable)}`
            : 'nothing past its retention or expireAt',
          behind > 3_600_000 ? 'bad' : behind > 0 ? 'warn' : 'ok',
          '#/sweeper',
        ),
      );
      const u = c.unfinished.byAge;
      const f = c.finished.byAge;
      const uMax = Math.max(...Object.values(u).map(Number));
      const fMax = Math.max(...Object.values(f).map(Number));
      replace(
        ages,
        panel({
          title: 'Unfinished entities by age',
          sub: `${num(c.unfinished.total)} pending or running · oldest created ${c.unfinished.oldestCreated ? when(c.unfinished.oldestCreated) : '-'}`,
          body: h(
            'div',
            { class: 'bars', 'data-ages': 'unfinished' },
            Object.entries(u).map(([label, n]) =>
              barRow(label, n, uMax, label === '>= 7d' || label === '1d - 7d' ? 'warn' : ''),
            ),
          ),
        }),
        panel({
          title: 'Finished entities by retention',
          sub: `${num(c.finished.total)} done or failed · due = past its retention, the sweeper may delete it`,
          body: h(
            'div',
            { class: 'bars', 'data-ages': 'finished' },
            Object.entries(f).map(([label, n]) =>
              barRow(label, n, fMax, label === 'retained' ? 'ok' : label === 'due < 1h' ? 'warn' : 'bad'),
            ),
          ),
        }),
      );
      const kinds = Object.entries(c.kinds);
      replace(
        extra,
        panel({
          title: 'Other transient entities',
          sub: `${num(c.total)} task entities in all · ${num(c.expired)} past expireAt · ${num(c.chunks)} payload chunks · ${c.shards} shards`,
          flush: true,
          body: table(
            ['kind', { text: 'entities', num: true }, { text: 'past expireAt', num: true }],
            kinds.map(([kind, k]) => [h('td', { class: 'mono' }, kind), numCell(k.entities), numCell(k.expired)]),
            'No other underscore-prefixed kinds.',
          ),
        }),
      );
      replace(
        footer,
        `Counts: ${c.cost.queries} index-only queries, about ${num(c.cost.billedReads)} billed entity reads · at ${when(c.at).slice(11)}`,
      );
    } else {
      failed(cards, 'Counts', counts.reason);
    }
    if (queueData.status === 'fulfilled') {
      const list = queueData.value.queues;
      replace(
        queues,
        panel({
          title: 'Queues',
          sub: `Cloud Tasks, ${ctx.summary.location}`,
          flush: true,
          body: table(
            [
              'queue',
              'state',
              { text: 'tasks waiting', num: true },
              { text: 'in flight', num: true },
              { text: 'max / s', num: true },
              { text: 'burst', num: true },
              { text: 'max concurrent', num: true },
              { text: 'max attempts', num: true },
              '',
            ],
            list.map((/** @type {any} */ q) =>
              h(
                'tr',
                { 'data-queue': q.id },
                h('td', { class: 'mono' }, q.id),
                h('td', null, statePill(q.state)),
                h(
                  'td',
                  {
                    class: 'num',
                    title:
                      q.tasksCountFrom === 'stats'
                        ? 'from queue statistics'
                        : q.tasksCountFrom === 'listing'
                          ? 'counted by listing the tasks'
                          : (q.error ?? 'not available'),
                  },
                  q.tasks === null ? '-' : `${num(q.tasks)}${q.tasksCountIsLowerBound ? '+' : ''}`,
                  q.oldestTask ? h('div', { class: 'note' }, 'oldest ', time(q.oldestTask)) : null,
                ),
                numCell(q.inFlight),
                numCell(q.maxDispatchesPerSecond),
                numCell(q.maxBurstSize),
                numCell(q.maxConcurrentDispatches),
                h('td', { class: 'num' }, q.maxAttempts === -1 ? 'unlimited' : num(q.maxAttempts)),
                h('td', { class: 'actions' }, ctx.canChange ? queueActions(q, ctx) : null),
              ),
            ),
            'No queues in this location.',
          ),
        }),
      );
    } else failed(queues, 'Queues', queueData.reason);
    if (sweeps.status === 'fulfilled') {
      replace(
        chart,
        panel({
          title: 'Sweeps over time',
          sub: `last ${sweeps.value.runs.length} runs`,
          body: sweepChart(sweeps.value.runs, chartWidth(root)),
        }),
      );
      replace(
        runs,
        panel({
          title: 'Last sweep runs',
          flush: true,
          body: runsTable(sweeps.value.runs.slice(0, 8)),
          actions: [h('a', { href: '#/sweeper' }, 'Sweeper →')],
        }),
      );
    } else failed(chart, 'Sweeps', sweeps.reason);
  }
  return { refresh };
}
