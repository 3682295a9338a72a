// @ts-check
/** The dashboard page: header and navigation, a hash router over the views, and the refresh loop (paused while the tab is hidden). */
import { get } from './api.js';
import { h, replace } from './dom.js';
import { mountFailed } from './views/failed.js';
import { mountJobs, mountMapper } from './views/jobs.js';
import { mountOverview } from './views/overview.js';
import { mountSweeper } from './views/sweeper.js';
import { mountTask, mountTasks } from './views/tasks.js';

/**
 * @typedef {{ title: string, projectId: string, location: string, namespace: string, namespaces: string[], readOnly: boolean, refreshMs: number, canCreateTasks: boolean, ledger: boolean, now: string }} Summary
 * @typedef {{ summary: Summary, canChange: boolean, go: (hash: string) => void, refreshNow: () => void }} Context
 * @typedef {{ refresh?: () => Promise<void> }} View
 * @typedef {(root: HTMLElement, params: URLSearchParams, ctx: Context) => View | Promise<View>} Mount
 */

/** @type {Record<string, { mount: Mount, nav: string }>} */
const ROUTES = {
  '': { mount: mountOverview, nav: '' },
  failed: { mount: mountFailed, nav: 'failed' },
  tasks: { mount: mountTasks, nav: 'tasks' },
  task: { mount: mountTask, nav: 'tasks' },
  jobs: { mount: mountJobs, nav: 'jobs' },
  mapper: { mount: mountMapper, nav: 'jobs' },
  sweeper: { mount: mountSweeper, nav: 'sweeper' },
};

const NAV = [
  ['', 'Overview'],
  ['failed', 'Failed'],
  ['tasks', 'Tasks'],
  ['jobs', 'Jobs'],
  ['sweeper', 'Sweeper'],
];

async function start() {
  const app = /** @type {HTMLElement} */ (document.getElementById('app'));
  /** @type {Summary} */
  let summary;
  try {
    summary = await get('summary');
  } catch (error) {
    replace(
      app,
      h(
        'main',
        null,
        h('div', { class: 'banner bad' }, `The dashboard could not load: ${/** @type {Error} */ (error).message}`),
      ),
    );
    return;
  }
  document.title = summary.title;
  const status = h('span', { class: 'dot', title: 'auto-refresh on' });
  const statusText = h('span', null, 'loading…');
  const toggle = h(
    'button',
    { type: 'button', class: 'small', title: 'Pause or resume the automatic refresh' },
    'Pause',
  );
  const navLinks = NAV.map(([route, label]) => h('a', { href: `#/${route}`, 'data-nav': route }, label));
  const main = h('main', { id: 'view' });
  replace(
    app,
    h(
      'header',
      { class: 'top' },
      h(
        'div',
        { class: 'top-inner' },
        h(
          'div',
          { class: 'brand' },
          h('img', { src: `${document.querySelector('link[rel=icon]')?.getAttribute('href') ?? ''}`, alt: '' }),
          summary.title,
        ),
        h(
          'div',
          { class: 'where' },
          h('span', { class: 'chip', title: 'project' }, h('b', null, summary.projectId)),
          h('span', { class: 'chip', title: 'Cloud Tasks location' }, summary.location),
          h(
            'span',
            { class: 'chip', title: 'Datastore namespace' },
            'ns ',
            h('b', null, summary.namespace || '(default)'),
          ),
          summary.readOnly ? h('span', { class: 'chip' }, h('b', null, 'read-only')) : null,
        ),
        h('nav', { class: 'nav' }, navLinks),
        h('div', { class: 'refresh' }, status, statusText, toggle),
      ),
    ),
    main,
  );

  let auto = true;
  /** @type {View} */
  let view = {};
  let generation = 0;
  let lastOk = 0;
  /** The generation whose refresh is in flight (a new view does not wait for the old one's). */
  let busy = -1;
  const ctx = /** @type {Context} */ ({
    summary,
    canChange: !summary.readOnly,
    go: (/** @type {string} */ hash) => {
      location.hash = hash;
    },
    refreshNow: () => void refresh(),
  });

  const paint = (/** @type {'ok' | 'err' | 'off'} */ state, /** @type {string} */ message) => {
    status.className = `dot${state === 'ok' ? '' : ` ${state}`}`;
    statusText.textContent = message;
  };

  async function refresh() {
    const mine = generation;
    if (!view.refresh || busy === mine) return;
    busy = mine;
    try {
      await view.refresh();
      if (mine !== generation) return;
      lastOk = Date.now();
      paint(auto ? 'ok' : 'off', `updated ${new Date(lastOk).toLocaleTimeString([], { hour12: false })}`);
    } catch (error) {
      if (mine === generation) paint('err', `refresh failed: ${/** @type {Error} */ (error).message}`);
    } finally {
      if (busy === mine) busy = -1;
    }
  }

  async function route() {
    const hash = location.hash.replace(/^#\/?/, '');
    const [name = '', query = ''] = hash.split('?');
    const entry = ROUTES[name] ?? ROUTES[''];
    for (const link of navLinks) link.classList.toggle('active', link.getAttribute('data-nav') === entry.nav);
    generation++;
    view = {};
    const root = h('div', { class: 'view', style: null });
    replace(main, root);
    window.scrollTo(0, 0);
    try {
      view = await entry.mount(root, new URLSearchParams(query), ctx);
      await refresh();
    } catch (error) {
      replace(root, h('div', { class: 'banner bad' }, /** @type {Error} */ (error).message));
    }
  }

  toggle.addEventListener('click', () => {
    auto = !auto;
    toggle.textContent = auto ? 'Pause' : 'Resume';
    paint(auto ? 'ok' : 'off', auto ? 'auto-refresh on' : 'auto-refresh paused');
    if (auto) void refresh();
  });
  setInterval(() => {
    if (auto && document.visibilityState === 'visible') void refresh();
  }, summary.refreshMs);
  document.addEventListener('visibilitychange', () => {
    if (auto && document.visibilityState === 'visible' && Date.now() - lastOk > summary.refreshMs) void refresh();
  });
  window.addEventListener('hashchange', () => void route());
  await route();
}

void start();
