// @ts-check
/** Task views: the entities of one state a page at a time, and one task as `deferred inspect` shows it. */
import { ApiError, get, post } from '../api.js';
import { hrefIn, namespaceLabel, namespaceParams, namespacePicker, viewNamespace } from '../namespaces.js';
import { actionButton, confirmDialog, cursorPaging } from '../ui.js';
import { bytes, duration, h, num, panel, replace, statePill, table, time, when } from '../dom.js';

const STATES = ['pending', 'running', 'failed', 'done', 'retried'];

/**
 * A box that opens a task by key, in `namespace`.
 * @param {import('../app.js').Context} ctx
 * @param {string} namespace
 */
export function openTaskBox(ctx, namespace) {
  const input = h('input', {
    type: 'search',
    name: 'key',
    placeholder: 'Open a task: entity name or key path',
    'aria-label': 'task key',
  });
  const form = h(
    'form',
    {
      class: 'toolbar',
      onsubmit: (/** @type {Event} */ e) => {
        e.preventDefault();
        if (input.value.trim()) ctx.go(hrefIn('task', { key: input.value.trim() }, namespace, ctx));
      },
    },
    input,
    h('button', { type: 'submit' }, 'Open'),
  );
  return form;
}

/**
 * Rows of task entities of `namespace`, each opening the task view.
 * @param {any[]} rows
 * @param {import('../app.js').Context} ctx
 * @param {string} namespace
 */
export function taskRows(rows, ctx, namespace) {
  return rows.map((r) =>
    h(
      'tr',
      { class: 'link', 'data-key': r.key, onclick: () => ctx.go(hrefIn('task', { key: r.key }, namespace, ctx)) },
      h('td', { class: 'key', title: r.key }, r.key),
      h('td', { class: 'mono' }, r.task),
      h('td', null, r.queue),
      h('td', null, statePill(r.state)),
      h('td', { class: 'num' }, num(r.attempts)),
      h(
        'td',
        null,
        time(r.state === 'done' || r.state === 'failed' || r.state === 'retried' ? r.finishedAt : r.created),
      ),
      h('td', null, r.lastError ? h('span', { class: 'err' }, r.lastError) : h('span', { class: 'note' }, '-')),
    ),
  );
}

export const TASK_HEAD = ['key', 'task', 'queue', 'state', { text: 'attempts', num: true }, 'when', 'last error'];

/**
 * @param {HTMLElement} root
 * @param {URLSearchParams} params
 * @param {import('../app.js').Context} ctx
 */
export function mountTasks(root, params, ctx) {
  const state = STATES.includes(params.get('state') ?? '') ? /** @type {string} */ (params.get('state')) : 'pending';
  const namespace = viewNamespace(params, ctx);
  const list = h('div');
  const pager = h('div', { class: 'toolbar' });
  const paging = cursorPaging(pager, () => void refresh());
  replace(
    root,
    h(
      'div',
      { class: 'page-title' },
      h('h1', null, 'Tasks'),
      h('span', { class: 'sub' }, 'entity-backed tasks and failure records (_DeferredTask)'),
      namespacePicker(namespace, ctx, (ns) => ctx.go(hrefIn('tasks', { state }, ns, ctx))),
    ),
    h(
      'div',
      { class: 'toolbar' },
      h(
        'div',
        { class: 'tabs' },
        STATES.map((s) =>
          h('a', { href: hrefIn('tasks', { state: s }, namespace, ctx), class: s === state ? 'active' : null }, s),
        ),
      ),
      h('span', { style: null }, ' '),
      openTaskBox(ctx, namespace),
    ),
    list,
    pager,
  );
  async function refresh() {
    const data = await get('tasks', { state, cursor: paging.cursor, ...namespaceParams(namespace, ctx) });
    replace(
      list,
      panel({
        title: `${state[0].toUpperCase()}${state.slice(1)} tasks`,
        sub: `${namespaceLabel(namespace, ctx)} · page ${paging.page + 1} · in key order · ${data.cost.billedReads} entity reads`,
        flush: true,
        body: table(TASK_HEAD, taskRows(data.rows, ctx, namespace), `No ${state} task entities.`),
      }),
    );
    paging.show(data.next);
  }
  return { refresh };
}

/** @param {[string, unknown][]} pairs */
function kv(pairs) {
  return h(
    'div',
    { class: 'kv' },
    pairs.flatMap(([k, v]) => [h('div', null, k), h('div', { 'data-field': k }, /** @type {any} */ (v ?? '-'))]),
  );
}

/**
 * @param {HTMLElement} root
 * @param {URLSearchParams} params
 * @param {import('../app.js').Context} ctx
 * @param {(task: any, ctx: import('../app.js').Context) => Node | null} [extraActions]
 */
export function mountTask(root, params, ctx, extraActions = ledgerActions) {
  const key = params.get('key') ?? '';
  const namespace = viewNamespace(params, ctx);
  const where = namespaceParams(namespace, ctx);
  const body = h('div', { class: 'view' });
  replace(
    root,
    h(
      'div',
      { class: 'page-title' },
      h('h1', null, 'Task'),
      h('span', { class: 'sub mono' }, key),
      where.namespace === undefined
        ? null
        : h('span', { class: 'chip', 'data-namespace': namespace }, namespaceLabel(namespace, ctx)),
    ),
    openTaskBox(ctx, namespace),
    body,
  );
  async function refresh() {
    let t;
    try {
      t = await get('task', { key, ...where });
      t.namespace = namespace;
      if (ctx.summary.ledger && (t.state === 'failed' || t.state === 'retried'))
        t.ledger = await get('failed/one', { key, ...where });
    } catch (error) {
      if (error instanceof ApiError && (error.status === 404 || error.status === 400)) {
        replace(body, h('div', { class: 'banner' }, error.message));
        return;
      }
      throw error;
    }
    const verdictTone = t.verdict.startsWith('delete') ? 'bad' : t.verdict.startsWith('re-drive') ? 'warn' : 'ok';
    const args = t.args;
    replace(
      body,
      h(
        'div',
        { class: 'grid-2' },
        panel({
          title: t.task,
          sub: `queue ${t.queue}`,
          actions: [statePill(t.state), extraActions ? extraActions(t, ctx) : null],
          flush: true,
          body: kv([
            ['key', h('span', { class: 'mono' }, t.path)],
            ['state', `${t.state}${t.transactional ? ' · transactional' : ''}`],
            ['attempts', num(t.attempts)],
            ['last error', t.lastError ? h('span', { class: 'err mono' }, t.lastError) : '-'],
            ['created', when(t.created)],
            ['eta', when(t.eta)],
            ['lease until', when(t.leaseUntil)],
            ['finished', when(t.finishedAt)],
            ['retention', duration(t.retentionMs)],
            ['expires', when(t.expireAt)],
            ['shard', String(t.shard)],
            ['payload', `${bytes(t.payloadBytes)}, ${t.encoding}, ${t.chunks} chunk(s)`],
          ]),
        }),
        h(
          'div',
          { class: 'view' },
          panel({
            title: 'What a sweep would do now',
            flush: true,
            body: kv([
              ['verdict', h('span', { class: `pill ${verdictTone}`, 'data-verdict': t.verdict }, t.verdict)],
              [
                'cloud task',
                h(
                  'span',
                  null,
                  h('span', { class: `pill ${t.cloudTask === 'exists' ? 'ok' : ''}` }, t.cloudTask),
                  ' ',
                  h('span', { class: 'mono note' }, t.cloudTaskName),
                ),
              ],
            ]),
          }),
          panel({
            title: 'Arguments',
            sub: args.note ?? args.error ?? 'decoded (Dates, Maps, BigInts, Buffers as Node prints them)',
            flush: true,
            body: [
              args.text === ''
                ? h('div', { class: 'empty', 'data-args': 'decoded' }, 'No arguments.')
                : args.text !== null
                  ? h('pre', { 'data-args': 'decoded' }, args.text)
                  : null,
              t.bound
                ? h('details', null, h('summary', null, 'Bound environment (closure)'), h('pre', null, t.bound))
                : null,
              args.encoded !== null
                ? h(
                    'details',
                    { open: args.text === null },
                    h('summary', null, `Encoded JSON${args.truncated ? ' (first 64 KB)' : ''}`),
                    h('pre', { 'data-args': 'encoded' }, args.encoded),
                  )
                : null,
            ],
          }),
        ),
      ),
      t.ledger ? historyPanel(t.ledger) : null,
    );
  }
  return { refresh };
}

/**
 * Retry and Discard of a failure record (the failure ledger's), with its attempt history under the task.
 * @param {any} t
 * @param {import('../app.js').Context} ctx
 */
function ledgerActions(t, ctx) {
  if (!t.ledger || !ctx.canChange) return null;
  const failed = t.ledger.state === 'failed';
  const act = (/** @type {'retry' | 'discard'} */ action) => async () => {
    const ok = await confirmDialog({
      title: `${action === 'retry' ? 'Retry' : 'Discard'} this ${t.task} task?`,
      body: [
        action === 'retry'
          ? 'It is deferred again with its stored arguments and options, once.'
          : 'The record and its payload are deleted now.',
      ],
      confirm: action === 'retry' ? 'Retry' : 'Discard',
      danger: action === 'discard',
    });
    if (!ok) return;
    const result = await post(`failed/${action}`, { keys: [t.key], namespace: t.namespace });
    // A discarded record is gone: back to the list (refreshing this view would ask for it again).
    if (action === 'discard' && result.results[0]?.status === 'discarded')
      ctx.go(hrefIn('failed', {}, t.namespace, ctx));
    else ctx.refreshNow();
    return result;
  };
  return h(
    'span',
    null,
    failed && ctx.summary.canCreateTasks
      ? actionButton('Retry', act('retry'), { class: 'small primary', name: 'retry' })
      : null,
    ' ',
    actionButton('Discard', act('discard'), { class: 'small danger', name: 'discard' }),
  );
}

/**
 * Links to an attempt's log lines (the Logs Explorer: its trace, span, task, attempt and time) and to its trace (Cloud
 * Trace, when sampled), when it had one.
 * @param {any} a
 */
function traceCell(a) {
  if (!a.logsUrl) return '-';
  const external = { target: '_blank', rel: 'noopener noreferrer' };
  return h(
    'span',
    { class: 'links', title: a.logQuery },
    h('a', { href: a.logsUrl, ...external, 'data-link': 'logs' }, 'logs'),
    a.traceUrl ? [' · ', h('a', { href: a.traceUrl, ...external, 'data-link': 'trace' }, 'trace')] : null,
  );
}

/**
 * The attempts of a failure record, oldest first.
 * @param {any} ledger
 */
export function historyPanel(ledger) {
  const traced = ledger.history.some((/** @type {any} */ a) => a.logsUrl);
  return panel({
    title: 'Attempts',
    sub: ledger.retried
      ? `retried ${when(ledger.retried.at)} as ${ledger.retried.cloudTaskName.split('/').pop()}`
      : `${ledger.history.length} kept`,
    flush: true,
    body: table(
      [
        'when',
        { text: 'attempt', num: true },
        { text: 'answer', num: true },
        'outcome',
        { text: 'took', num: true },
        'error',
        ...(traced ? ['trace'] : []),
      ],
      ledger.history.map((/** @type {any} */ a) => [
        time(a.at),
        h('td', { class: 'num' }, num(a.attempt)),
        h('td', { class: 'num' }, String(a.status)),
        statePill(a.outcome === 'retry' ? 'retried' : a.outcome),
        h('td', { class: 'num' }, a.durationMs === undefined ? '-' : `${num(a.durationMs)} ms`),
        a.error
          ? h('details', null, h('summary', { class: 'err' }, a.error), a.stack ? h('pre', null, a.stack) : null)
          : '-',
        ...(traced ? [traceCell(a)] : []),
      ]),
      'No attempts recorded (records of earlier versions keep only the last error).',
    ),
  });
}
