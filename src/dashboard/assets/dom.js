// @ts-check
/** Building the page from data: elements with text content only (never HTML), and the formats the views share. */

/**
 * @typedef {string | number | Node | null | undefined | false} Child
 * @typedef {Record<string, string | number | boolean | null | undefined | ((event: Event) => void)>} Attrs
 */

/**
 * An element with attributes and children. Strings become text nodes, so whatever a task's arguments hold is shown as
 * text. `on*` attributes must be functions (listeners), never strings.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Attrs | null} [attrs]
 * @param {...(Child | Child[])} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

/**
 * An SVG element.
 * @param {string} tag
 * @param {Record<string, string | number | null | undefined>} [attrs]
 * @param {...(Child | Child[])} children
 * @returns {SVGElement}
 */
export function svg(tag, attrs, ...children) {
  const el = /** @type {SVGElement} */ (document.createElementNS('http://www.w3.org/2000/svg', tag));
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value !== null && value !== undefined) el.setAttribute(name, String(value));
  }
  append(el, children);
  return el;
}

/**
 * @param {Element} el
 * @param {Attrs | null | undefined} attrs
 */
function setAttrs(el, attrs) {
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith('on')) {
      if (typeof value !== 'function') throw new TypeError(`${name} must be a function`);
      el.addEventListener(name.slice(2), /** @type {EventListener} */ (value));
    } else if (name === 'class') el.className = String(value);
    else if (value === true) el.setAttribute(name, '');
    else el.setAttribute(name, String(value));
  }
}

/**
 * @param {Node} el
 * @param {(Child | Child[])[]} children
 */
function append(el, children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.appendChild(typeof child === 'object' ? child : document.createTextNode(String(child)));
  }
}

/**
 * Replaces an element's children.
 * @param {Element} el
 * @param {...(Child | Child[])} children
 */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

const numberFormat = new Intl.NumberFormat('en-US');
/** @param {number | null | undefined} n */
export const num = (n) => (n === null || n === undefined ? '-' : numberFormat.format(n));

/**
 * `3 min`, `2 h 5 min`, `4 d 2 h`.
 * @param {number} ms
 */
export function duration(ms) {
  const s = Math.round(Math.abs(ms) / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const hours = Math.floor(m / 60);
  if (hours < 48) return m % 60 ? `${hours} h ${m % 60} min` : `${hours} h`;
  const d = Math.floor(hours / 24);
  return hours % 24 ? `${d} d ${hours % 24} h` : `${d} d`;
}

/**
 * `5 min ago`, `in 2 h`, relative to `nowMs`.
 * @param {string | null | undefined} iso
 * @param {number} [nowMs]
 */
export function ago(iso, nowMs = Date.now()) {
  if (!iso) return '-';
  const diff = nowMs - Date.parse(iso);
  if (Math.abs(diff) < 5000) return 'now';
  return diff >= 0 ? `${duration(diff)} ago` : `in ${duration(-diff)}`;
}

/**
 * `2026-01-10 12:15:00` in local time.
 * @param {string | null | undefined} iso
 */
export function when(iso) {
  if (!iso) return '-';
  const d = new Date(iso);
  const pad = (/** @type {number} */ n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/**
 * A time cell: relative, with the exact time as tooltip.
 * @param {string | null | undefined} iso
 */
export const time = (iso) => h('span', { title: iso ? when(iso) : null }, ago(iso));

/** @param {number} bytes */
export function bytes(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/**
 * A state pill.
 * @param {string} state
 */
export function statePill(state) {
  const tone =
    {
      pending: 'accent',
      running: 'info',
      done: 'ok',
      failed: 'bad',
      retried: 'warn',
      RUNNING: 'ok',
      PAUSED: 'warn',
      DISABLED: 'bad',
      succeeded: 'ok',
      idle: '',
    }[state] ?? '';
  return h('span', { class: `pill ${tone}` }, state.toLowerCase());
}

/**
 * A panel with a head (title, note, actions) and a body.
 * @param {{ title: string, sub?: Child, actions?: Child[], body: Child | Child[], flush?: boolean, id?: string }} p
 */
export function panel(p) {
  return h(
    'section',
    { class: 'panel', id: p.id ?? null },
    h(
      'div',
      { class: 'panel-head' },
      h('h2', null, p.title),
      p.sub ? h('span', { class: 'sub' }, p.sub) : null,
      p.actions ? h('div', { class: 'actions' }, p.actions) : null,
    ),
    p.flush ? p.body : h('div', { class: 'panel-body' }, p.body),
  );
}

/**
 * A table from a header and rows; a row may be a `tr` already.
 * @param {(string | { text: string, num?: boolean })[]} head
 * @param {(HTMLTableRowElement | Child[])[]} rows
 * @param {string} [empty]
 */
export function table(head, rows, empty = 'Nothing here.') {
  if (rows.length === 0) return h('div', { class: 'empty' }, empty);
  return h(
    'table',
    null,
    h(
      'thead',
      null,
      h(
        'tr',
        null,
        head.map((c) => (typeof c === 'string' ? h('th', null, c) : h('th', { class: c.num ? 'num' : null }, c.text))),
      ),
    ),
    h(
      'tbody',
      null,
      rows.map((row) =>
        Array.isArray(row)
          ? h(
              'tr',
              null,
              row.map((cell) => (cell instanceof HTMLTableCellElement ? cell : h('td', null, cell))),
            )
          : row,
      ),
    ),
  );
}

/**
 * A right-aligned number cell.
 * @param {number | null | undefined} n
 */
export const numCell = (n) => h('td', { class: 'num' }, num(n));

/**
 * A horizontal bar row: label, bar scaled to `max`, count.
 * @param {string} label
 * @param {number} n
 * @param {number} max
 * @param {string} [tone]
 */
export function barRow(label, n, max, tone = '') {
  const fill = h('div', { class: `fill ${tone}` });
  fill.style.width = `${max > 0 ? Math.max(n > 0 ? 1.5 : 0, (n / max) * 100) : 0}%`;
  return h(
    'div',
    { class: 'bar-row' },
    h('span', { class: 'name' }, label),
    h('div', { class: 'track' }, fill),
    h('span', { class: 'n' }, num(n)),
  );
}
