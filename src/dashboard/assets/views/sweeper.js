// @ts-check
/** The sweeper page: how far behind it is, runs over time, the last runs, and a sweep from here (a dry run first). */
import { get, post } from '../api.js';
import { sweepChart } from '../chart.js';
import { duration, h, num, numCell, panel, replace, statePill, table, time, when } from '../dom.js';
import { confirmDialog, toast } from '../ui.js';

/** @param {any[]} runs */
export function runsTable(runs) {
  return table(
    [
      'run',
      'status',
      'started',
      { text: 'shards', num: true },
      { text: 'scanned', num: true },
      { text: 'deleted', num: true },
      { text: 're-driven', num: true },
      { text: 'kept', num: true },
      { text: 'errors', num: true },
    ],
    runs.map((r) => [
      h('td', { class: 'mono' }, r.runId),
      h('td', null, statePill(r.status === 'done' ? 'done' : 'running')),
      h('td', null, time(r.startedAt)),
      h('td', { class: 'num' }, `${r.shardsDone}/${r.shards}`),
      numCell(r.totals.scanned),
      numCell(r.deleted),
      numCell(r.totals.redriven),
      numCell(r.totals.kept),
      h('td', { class: `num${r.totals.errors ? ' err' : ''}` }, num(r.totals.errors)),
    ]),
    'No sweep runs recorded yet.',
  );
}

/**
 * The drawing width of a full-width panel's body in `root`.
 * @param {HTMLElement} root
 */
export const chartWidth = (root) => Math.max(360, root.getBoundingClientRect().width - 34);

/** @param {any} stats */
function statsTable(stats) {
  const d = stats.deleted;
  const rows = /** @type {[string, number, string][]} */ ([
    ['scanned', stats.scanned, 'scanned'],
    ['deleted: done', d.done, 'done deleted'],
    ['deleted: failed', d.failed, 'failed deleted'],
    ['deleted: leaked', d.leaked, 'leaked deleted'],
    ['deleted: expired', d.expired, 'expired deleted'],
    ['deleted: other transient kinds', d.transientKind, 'other kinds'],
    ['re-driven', stats.redriven, 're-driven'],
    ['kept', stats.kept, 'kept'],
    ['errors', stats.errors, 'errors'],
  ]);
  return h(
    'div',
    { class: 'cards compact' },
    rows.map(([what, n, label]) =>
      h(
        'div',
        { class: `card${what === 'errors' && n > 0 ? ' bad' : ''}`, 'data-stat': what, title: what },
        h('div', { class: 'label' }, label),
        h('div', { class: 'value' }, num(n)),
      ),
    ),
  );
}

/**
 * @param {HTMLElement} root
 * @param {URLSearchParams} _params
 * @param {import('../app.js').Context} ctx
 */
export function mountSweeper(root, _params, ctx) {
  const state = h('div', { class: 'cards' });
  const chart = h('div');
  const runs = h('div');
  const result = h('div', { id: 'sweep-result' });
  const dry = h('button', { type: 'button', class: 'primary', 'data-action': 'dry-run' }, 'Dry run');
  const real = h(
    'button',
    { type: 'button', class: 'danger', 'data-action': 'sweep-now', disabled: true, title: 'Run a dry run first' },
    'Sweep now',
  );
  let dryDone = false;

  /** @param {boolean} dryRun */
  async function run(dryRun) {
    dry.disabled = true;
    real.disabled = true;
    replace(
      result,
      panel({
        title: dryRun ? 'Dry run' : 'Sweep',
        body: h('div', null, h('span', { class: 'spinner' }), ' sweeping every shard…'),
      }),
    );
    try {
      const r = await post('sweep', { dryRun });
      replace(
        result,
        panel({
          title: dryRun ? 'Dry run: what a sweep would do now' : 'Sweep done',
          sub: `${r.shards} shards in ${duration(r.elapsedMs)}${dryRun ? ' · nothing was changed' : ''}`,
          body: statsTable(r.stats),
        }),
      );
      dryDone = dryRun;
      toast(r.message);
      if (!dryRun) ctx.refreshNow();
    } catch (error) {
      replace(result, h('div', { class: 'banner bad' }, /** @type {Error} */ (error).message));
    } finally {
      dry.disabled = false;
      real.disabled = !dryDone;
      real.title = dryDone ? 'Sweep for real, with what the dry run showed' : 'Run a dry run first';
    }
  }
  dry.addEventListener('click', () => void run(true));
  real.addEventListener('click', async () => {
    const ok = await confirmDialog({
      title: 'Sweep now?',
      body: [
        'Deletes what the dry run counted (finished entities past their retention, leaked and expired ones) and re-drives lost transactional tasks.',
      ],
      confirm: 'Sweep now',
      danger: true,
    });
    if (ok) void run(false);
  });

  replace(
    root,
    h(
      'div',
      { class: 'page-title' },
      h('h1', null, 'Sweeper'),
      h('span', { class: 'sub' }, 'reclaims transient entities, separately from task execution'),
    ),
    state,
    ctx.canChange
      ? panel({
          title: 'Sweep from here',
          sub: 'every shard, in the dashboard process, like `deferred sweep`',
          actions: [dry, real],
          body: h(
            'div',
            { class: 'note' },
            'A dry run decides everything, Cloud Tasks look-ups included, and changes nothing; its counts are what the sweep then does.',
          ),
        })
      : null,
    result,
    chart,
    runs,
  );

  async function refresh() {
    const [counts, sweeps] = await Promise.all([get('counts'), get('sweeps')]);
    const behind = counts.behindByMs;
    const f = counts.finished.byAge;
    replace(
      state,
      h(
        'div',
        { class: `card ${behind > 3_600_000 ? 'bad' : behind > 0 ? 'warn' : 'ok'}` },
        h('div', { class: 'label' }, 'Behind by'),
        h('div', { class: 'value' }, behind > 0 ? duration(behind) : 'up to date'),
        h(
          'div',
          { class: 'hint' },
          counts.oldestReclaimable
            ? `oldest reclaimable since ${when(counts.oldestReclaimable)}`
            : 'nothing reclaimable',
        ),
      ),
      h(
        'div',
        { class: 'card' },
        h('div', { class: 'label' }, 'Reclaimable now'),
        h('div', { class: 'value' }, num(f['due < 1h'] + f['due 1h - 1d'] + f['due >= 1d'] + counts.expired)),
        h('div', { class: 'hint' }, `finished past retention, plus ${num(counts.expired)} past expireAt`),
      ),
      h(
        'div',
        { class: 'card' },
        h('div', { class: 'label' }, 'Retained'),
        h('div', { class: 'value' }, num(f.retained)),
        h('div', { class: 'hint' }, 'finished, within their retention'),
      ),
      h(
        'div',
        { class: 'card' },
        h('div', { class: 'label' }, 'Last run'),
        h('div', { class: 'value' }, sweeps.runs[0] ? time(sweeps.runs[0].startedAt) : '-'),
        h('div', { class: 'hint' }, sweeps.runs[0] ? `run ${sweeps.runs[0].runId}` : 'no distributed run recorded'),
      ),
    );
    replace(
      chart,
      panel({
        title: 'Sweeps over time',
        sub: `last ${sweeps.runs.length} runs`,
        body: sweepChart(sweeps.runs, chartWidth(root)),
      }),
    );
    replace(
      runs,
      panel({
        title: 'Runs',
        sub: `${sweeps.cost.billedReads} entity reads`,
        flush: true,
        body: runsTable(sweeps.runs.slice(0, 20)),
      }),
    );
  }
  return { refresh };
}
