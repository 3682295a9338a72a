// @ts-check
/** The sweeps-over-time chart, drawn as SVG from the run records: deletions per run stacked by reason, re-drives, errors as a line. */
import { h, num, svg, when } from './dom.js';

/** Series stacked per run, in drawing order: [field of totals, css class, legend label]. */
const SERIES = /** @type {const} */ ([
  ['done', 'done', 'done deleted'],
  ['failed', 'failed', 'failed deleted'],
  ['leaked', 'leaked', 'leaked deleted'],
  ['expired', 'expired', 'expired deleted'],
  ['transientKind', 'transient', 'other kinds'],
]);

/**
 * A round axis maximum at or above `n`: four steps of 1, 2, 2.5 or 5 times a power of ten, so every tick is a whole number.
 * @param {number} n
 */
function niceMax(n) {
  const raw = Math.max(1, n) / 4;
  const p = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * p).find((s) => s >= raw) ?? 10 * p;
  return Math.max(4, Math.ceil(step) * 4);
}

/**
 * @param {{ runId: string, startedAt: string | null, totals: { deleted: Record<string, number>, redriven: number, errors: number, scanned: number } }[]} runsNewestFirst
 * @param {number} [width] drawing width in CSS pixels (the panel's), so text keeps its size
 */
export function sweepChart(runsNewestFirst, width = 800) {
  const runs = [...runsNewestFirst].reverse();
  if (runs.length === 0)
    return h(
      'div',
      { class: 'empty' },
      'No sweep runs recorded yet: the distributed sweeper writes one record per run (installSweeper).',
    );
  const W = Math.max(360, Math.round(width));
  const H = 220;
  const left = 44;
  const right = 12;
  const top = 10;
  const bottom = 28;
  const plotW = W - left - right;
  const plotH = H - top - bottom;
  const stackOf = (/** @type {typeof runs[number]} */ r) =>
    SERIES.reduce((s, [f]) => s + (r.totals.deleted[f] ?? 0), 0) + r.totals.redriven;
  const max = niceMax(Math.max(1, ...runs.map((r) => Math.max(stackOf(r), r.totals.errors))));
  const slot = plotW / runs.length;
  const barW = Math.max(2, Math.min(28, slot * 0.7));
  const y = (/** @type {number} */ v) => top + plotH - (v / max) * plotH;
  const root = svg('svg', {
    class: 'chart',
    viewBox: `0 0 ${W} ${H}`,
    role: 'img',
    'aria-label': 'Sweep runs over time',
  });
  for (let i = 0; i <= 4; i++) {
    const v = (max / 4) * i;
    root.appendChild(svg('line', { class: i === 0 ? 'axis' : 'grid', x1: left, x2: W - right, y1: y(v), y2: y(v) }));
    root.appendChild(svg('text', { x: left - 6, y: y(v) + 4, 'text-anchor': 'end' }, num(Math.round(v))));
  }
  const errorPoints = [];
  runs.forEach((run, i) => {
    const x = left + slot * i + (slot - barW) / 2;
    let acc = 0;
    const g = svg('g', { 'data-run': run.runId });
    const parts = [...SERIES.map(([f, cls]) => [run.totals.deleted[f] ?? 0, cls]), [run.totals.redriven, 'redriven']];
    for (const [value, cls] of parts) {
      if (!value) continue;
      const y0 = y(acc);
      acc += /** @type {number} */ (value);
      g.appendChild(
        svg('rect', { class: `s-${cls}`, x, width: barW, y: y(acc), height: Math.max(0.5, y0 - y(acc)), rx: 1.5 }),
      );
    }
    const t = run.totals;
    g.appendChild(
      svg(
        'title',
        {},
        `run ${run.runId} (${when(run.startedAt)}): scanned ${t.scanned}, deleted done ${t.deleted.done ?? 0}, failed ${t.deleted.failed ?? 0}, leaked ${t.deleted.leaked ?? 0}, expired ${t.deleted.expired ?? 0}, other kinds ${t.deleted.transientKind ?? 0}, re-driven ${t.redriven}, errors ${t.errors}`,
      ),
    );
    // a transparent column, so the tooltip shows on hover over the whole slot
    g.appendChild(svg('rect', { x: left + slot * i, y: top, width: slot, height: plotH, fill: 'transparent' }));
    root.appendChild(g);
    errorPoints.push(`${x + barW / 2},${y(run.totals.errors)}`);
  });
  if (runs.some((r) => r.totals.errors > 0))
    root.appendChild(svg('polyline', { class: 'errors', points: errorPoints.join(' ') }));
  const labels = Math.min(6, runs.length);
  for (let k = 0; k < labels; k++) {
    const i = labels === 1 ? 0 : Math.round((k * (runs.length - 1)) / (labels - 1));
    const started = runs[i]?.startedAt;
    const label = started ? when(started).slice(5, 16) : (runs[i]?.runId ?? '');
    root.appendChild(svg('text', { x: left + slot * i + slot / 2, y: H - 8, 'text-anchor': 'middle' }, label));
  }
  return h(
    'div',
    null,
    root,
    h(
      'div',
      { class: 'legend' },
      SERIES.map(([, cls, label]) => h('span', { class: `c-${cls}` }, label)),
      h('span', { class: 'c-redriven' }, 're-driven'),
      h('span', { class: 'c-errors' }, 'errors (line)'),
    ),
  );
}

/**
 * Failures per hour over the last 24 hours, as bars.
 * @param {{ start: string, failed: number }[]} hours oldest first
 * @param {number} [width]
 */
export function failuresChart(hours, width = 800) {
  const W = Math.max(360, Math.round(width));
  const H = 160;
  const left = 44;
  const right = 12;
  const top = 10;
  const bottom = 24;
  const plotW = W - left - right;
  const plotH = H - top - bottom;
  const max = niceMax(Math.max(...hours.map((x) => x.failed)));
  const y = (/** @type {number} */ v) => top + plotH - (v / max) * plotH;
  const slot = plotW / hours.length;
  const root = svg('svg', {
    class: 'chart short',
    viewBox: `0 0 ${W} ${H}`,
    role: 'img',
    'aria-label': 'Failures per hour',
  });
  for (let i = 0; i <= 4; i++) {
    const v = (max / 4) * i;
    root.appendChild(svg('line', { class: i === 0 ? 'axis' : 'grid', x1: left, x2: W - right, y1: y(v), y2: y(v) }));
    root.appendChild(svg('text', { x: left - 6, y: y(v) + 4, 'text-anchor': 'end' }, num(Math.round(v))));
  }
  hours.forEach((hour, i) => {
    const x = left + slot * i + slot * 0.15;
    const g = svg('g', { 'data-hour': hour.start });
    if (hour.failed)
      g.appendChild(
        svg('rect', {
          class: 's-failed',
          x,
          width: slot * 0.7,
          y: y(hour.failed),
          height: y(0) - y(hour.failed),
          rx: 1.5,
        }),
      );
    g.appendChild(svg('title', {}, `${when(hour.start).slice(0, 16)}: ${hour.failed} failed`));
    g.appendChild(svg('rect', { x: left + slot * i, y: top, width: slot, height: plotH, fill: 'transparent' }));
    root.appendChild(g);
    if (i % 4 === 0)
      root.appendChild(
        svg(
          'text',
          { x: left + slot * i + slot / 2, y: H - 6, 'text-anchor': 'middle' },
          when(hour.start).slice(11, 16),
        ),
      );
  });
  return root;
}
