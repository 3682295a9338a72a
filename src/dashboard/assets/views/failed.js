// @ts-check
/** Failed tasks: the failure records (`state = failed`), newest page first, each opening its task view. */
import { get } from '../api.js';
import { h, panel, replace, table } from '../dom.js';
import { TASK_HEAD, taskRows } from './tasks.js';

/**
 * @param {HTMLElement} root
 * @param {URLSearchParams} _params
 * @param {import('../app.js').Context} ctx
 */
export function mountFailed(root, _params, ctx) {
  const list = h('div');
  /** @type {(string | null)[]} */
  const cursors = [null];
  let page = 0;
  const pager = h('div', { class: 'toolbar' });
  replace(
    root,
    h(
      'div',
      { class: 'page-title' },
      h('h1', null, 'Failed tasks'),
      h('span', { class: 'sub' }, 'tasks that failed for good, kept for their retention'),
    ),
    list,
    pager,
  );
  async function refresh() {
    const data = await get('tasks', { state: 'failed', cursor: cursors[page] });
    cursors[page + 1] = data.next;
    replace(
      list,
      panel({
        title: 'Failure records',
        sub: `page ${page + 1}`,
        flush: true,
        body: table(TASK_HEAD, taskRows(data.rows, ctx), 'No failed tasks.'),
      }),
    );
    replace(
      pager,
      h(
        'button',
        {
          type: 'button',
          disabled: page === 0,
          onclick: () => {
            page--;
            void refresh();
          },
        },
        '← Previous',
      ),
      h(
        'button',
        {
          type: 'button',
          disabled: !data.next,
          onclick: () => {
            page++;
            void refresh();
          },
        },
        'Next →',
      ),
    );
  }
  return { refresh };
}
