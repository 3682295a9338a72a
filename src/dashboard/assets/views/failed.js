// @ts-check
/** Failed tasks: the failure ledger with filters, newest first, and Retry / Discard of one, the selected, or all matching. */
import { get, post } from '../api.js';
import { h, num, panel, replace, table, time } from '../dom.js';
import { hrefIn, namespaceLabel, namespaceParams, namespacePicker, viewNamespace } from '../namespaces.js';
import { confirmDialog, cursorPaging, toast } from '../ui.js';
import { TASK_HEAD, taskRows } from './tasks.js';

/**
 * @param {HTMLElement} root
 * @param {URLSearchParams} params
 * @param {import('../app.js').Context} ctx
 */
export function mountFailed(root, params, ctx) {
  return ctx.summary.ledger ? mountLedger(root, params, ctx) : mountRecords(root, params, ctx);
}

/**
 * The title of the failed view, with the namespace picker.
 * @param {string} sub
 * @param {string} namespace
 * @param {import('../app.js').Context} ctx
 * @param {(namespace: string) => void} open
 */
function title(sub, namespace, ctx, open) {
  return h(
    'div',
    { class: 'page-title' },
    h('h1', null, 'Failed tasks'),
    h('span', { class: 'sub' }, sub),
    namespacePicker(namespace, ctx, open),
  );
}

/**
 * The failure records by state, for a dashboard without the runtime's ledger.
 * @param {HTMLElement} root
 * @param {URLSearchParams} params
 * @param {import('../app.js').Context} ctx
 */
function mountRecords(root, params, ctx) {
  const namespace = viewNamespace(params, ctx);
  const list = h('div');
  const pager = h('div', { class: 'toolbar' });
  const paging = cursorPaging(pager, () => void refresh());
  replace(
    root,
    title('tasks that failed for good, kept for their retention', namespace, ctx, (ns) =>
      ctx.go(hrefIn('failed', {}, ns, ctx)),
    ),
    list,
    pager,
  );
  async function refresh() {
    const data = await get('tasks', { state: 'failed', cursor: paging.cursor, ...namespaceParams(namespace, ctx) });
    replace(
      list,
      panel({
        title: 'Failure records',
        sub: `${namespaceLabel(namespace, ctx)} · page ${paging.page + 1}`,
        flush: true,
        body: table(TASK_HEAD, taskRows(data.rows, ctx, namespace), 'No failed tasks.'),
      }),
    );
    paging.show(data.next);
  }
  return { refresh };
}

/** @param {any[]} results */
function outcome(results) {
  const counts = new Map();
  for (const r of results) counts.set(r.status, (counts.get(r.status) ?? 0) + 1);
  return [...counts].map(([status, n]) => `${n} ${status}`).join(', ') || 'nothing';
}

/**
 * @param {HTMLElement} root
 * @param {URLSearchParams} params
 * @param {import('../app.js').Context} ctx
 */
function mountLedger(root, params, ctx) {
  const namespace = viewNamespace(params, ctx);
  const field = (/** @type {string} */ name, /** @type {string} */ placeholder) =>
    h('input', { type: 'text', name, placeholder, value: params.get(name) ?? '', 'aria-label': name });
  const task = field('task', 'task name');
  const queue = field('queue', 'queue');
  const grep = field('grep', 'error contains');
  const since = h(
    'select',
    { name: 'since', 'aria-label': 'failed within' },
    [
      ['', 'any time'],
      ['1h', 'last hour'],
      ['1d', 'last day'],
      ['7d', 'last 7 days'],
    ].map(([v, label]) => h('option', { value: v, selected: (params.get('since') ?? '') === v }, label)),
  );
  const filter = () => ({
    task: task.value.trim(),
    queue: queue.value.trim(),
    grep: grep.value.trim(),
    since: since.value,
  });
  /** This view with the filter in the form, in namespace `ns`. */
  const hrefOf = (/** @type {string} */ ns) =>
    hrefIn('failed', Object.fromEntries(Object.entries(filter()).filter(([, v]) => v)), ns, ctx);
  const open = (/** @type {string} */ ns) => ctx.go(hrefOf(ns));
  const apply = (/** @type {Event} */ e) => {
    e.preventDefault();
    open(namespace);
  };
  /** @type {Set<string>} */
  const selected = new Set();
  const list = h('div');
  const pager = h('div', { class: 'toolbar' });
  const paging = cursorPaging(pager, () => void refresh(), ['← Newer', 'Older →']);
  const selection = h('span', { class: 'note' });
  const elsewhere = h('p', { class: 'note', 'data-elsewhere': '' });
  const canRetry = ctx.canChange && ctx.summary.canCreateTasks;

  /**
   * @param {'retry' | 'discard'} action
   * @param {{ keys?: string[], filter?: Record<string, string> }} what
   * @param {string} label
   */
  async function change(action, what, label) {
    let count = what.keys?.length ?? 0;
    if (what.filter) {
      const dry = await post(`failed/${action}`, { ...what, namespace, dryRun: true });
      count = dry.results.filter((/** @type {any} */ r) => r.status.startsWith('would-')).length;
      if (count === 0) return toast(`Nothing to ${action}: ${outcome(dry.results)}.`);
    }
    const ok = await confirmDialog({
      title: `${action === 'retry' ? 'Retry' : 'Discard'} ${label}?`,
      body: [
        action === 'retry'
          ? `${num(count)} failed task(s) will be deferred again with their stored arguments and options; each record becomes "retried". A record is replayed once, even if asked twice.`
          : `${num(count)} failure record(s) and their payloads will be deleted now. This cannot be undone.`,
      ],
      confirm: action === 'retry' ? 'Retry' : 'Discard',
      danger: action === 'discard',
    });
    if (!ok) return;
    try {
      const result = await post(`failed/${action}`, { ...what, namespace });
      toast(`${result.message}`);
      selected.clear();
      ctx.refreshNow();
    } catch (error) {
      toast(/** @type {Error} */ (error).message, true);
    }
  }

  const bulk = h(
    'div',
    { class: 'toolbar' },
    selection,
    canRetry
      ? h(
          'button',
          {
            type: 'button',
            'data-action': 'retry-selected',
            onclick: () => void change('retry', { keys: [...selected] }, `${selected.size} selected`),
          },
          'Retry selected',
        )
      : null,
    ctx.canChange
      ? h(
          'button',
          {
            type: 'button',
            class: 'danger',
            'data-action': 'discard-selected',
            onclick: () => void change('discard', { keys: [...selected] }, `${selected.size} selected`),
          },
          'Discard selected',
        )
      : null,
    canRetry
      ? h(
          'button',
          {
            type: 'button',
            'data-action': 'retry-matching',
            onclick: () => void change('retry', { filter: filter() }, 'all matching the filter'),
          },
          'Retry all matching',
        )
      : null,
    ctx.canChange
      ? h(
          'button',
          {
            type: 'button',
            class: 'danger',
            'data-action': 'discard-matching',
            onclick: () => void change('discard', { filter: filter() }, 'all matching the filter'),
          },
          'Discard all matching',
        )
      : null,
  );
  const paintSelection = () => {
    selection.textContent = selected.size ? `${selected.size} selected` : 'select records to act on several';
    for (const b of bulk.querySelectorAll('[data-action$="-selected"]'))
      /** @type {HTMLButtonElement} */ (b).disabled = selected.size === 0;
  };

  replace(
    root,
    title('the failure ledger: tasks that failed for good, newest first', namespace, ctx, open),
    h(
      'form',
      { class: 'toolbar', onsubmit: apply },
      task,
      queue,
      since,
      grep,
      h('button', { type: 'submit', class: 'primary' }, 'Filter'),
    ),
    ctx.canChange ? bulk : null,
    list,
    pager,
    elsewhere,
  );

  async function refresh() {
    const data = await get('failed', { ...filter(), cursor: paging.cursor, ...namespaceParams(namespace, ctx) });
    if (paging.page === 0) {
      // The other namespaces holding matching records: said on the first page, kept while paging.
      /** @type {string[]} */
      const others = data.elsewhere ?? [];
      replace(
        elsewhere,
        others.length
          ? [
              'Also failed tasks matching this filter in: ',
              ...others.flatMap((ns, i) => [
                i ? ', ' : '',
                h('a', { href: hrefOf(ns), 'data-namespace': ns }, namespaceLabel(ns, ctx)),
              ]),
              ". This page lists one namespace at a time (the runtime's own, and the tenants' it writes task entities to); from a shell, ",
              h('code', null, 'deferred failed --all-namespaces'),
              ' lists them all.',
            ]
          : null,
      );
    }
    const all = h('input', { type: 'checkbox', 'aria-label': 'select the page' });
    all.addEventListener('change', () => {
      for (const r of data.rows) {
        if (all.checked) selected.add(r.key);
        else selected.delete(r.key);
      }
      for (const box of list.querySelectorAll('input[data-select]'))
        /** @type {HTMLInputElement} */ (box).checked = all.checked;
      paintSelection();
    });
    const rows = data.rows.map((/** @type {any} */ r) => {
      const box = h('input', {
        type: 'checkbox',
        'data-select': r.key,
        'aria-label': `select ${r.key}`,
        checked: selected.has(r.key),
      });
      box.addEventListener('click', (e) => e.stopPropagation());
      box.addEventListener('change', () => {
        if (box.checked) selected.add(r.key);
        else selected.delete(r.key);
        paintSelection();
      });
      return h(
        'tr',
        { class: 'link', 'data-key': r.key, onclick: () => ctx.go(hrefIn('task', { key: r.key }, namespace, ctx)) },
        ctx.canChange ? h('td', null, box) : null,
        h('td', null, time(r.failedAt)),
        h('td', { class: 'mono' }, r.task),
        h('td', null, r.queue),
        h('td', { class: 'num' }, num(r.attempts)),
        h('td', null, h('span', { class: 'err' }, `${r.lastError}${r.lastErrorCut ? '…' : ''}`)),
        h('td', { class: 'key', title: r.key }, r.key),
      );
    });
    const head = [
      ...(ctx.canChange ? [''] : []),
      'failed',
      'task',
      'queue',
      { text: 'attempts', num: true },
      'last error',
      'key',
    ];
    const t = table(head, rows, 'No failed tasks match.');
    const th = t.querySelector('th');
    if (th && ctx.canChange) th.appendChild(all);
    replace(
      list,
      panel({
        title: 'Failure records',
        sub: `${namespaceLabel(namespace, ctx)} · page ${paging.page + 1} · ${num(data.scanned)} index entries read`,
        flush: true,
        body: t,
      }),
    );
    paging.show(data.next);
    paintSelection();
  }
  return { refresh };
}
