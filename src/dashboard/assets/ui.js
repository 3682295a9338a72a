// @ts-check
/** Page-wide pieces: the confirmation dialog, toasts, buttons that run a change and report it, and a list's paging. */
import { h, replace } from './dom.js';

/**
 * Asks before a change; resolves true when confirmed.
 * @param {{ title: string, body: (string | Node)[], confirm: string, danger?: boolean }} p
 * @returns {Promise<boolean>}
 */
export function confirmDialog(p) {
  return new Promise((resolve) => {
    /** @type {HTMLDialogElement} */
    const dialog = h(
      'dialog',
      { class: 'confirm' },
      h(
        'div',
        { class: 'd-body' },
        h('h2', null, p.title),
        ...p.body.map((b) => (typeof b === 'string' ? h('p', null, b) : b)),
      ),
      h(
        'div',
        { class: 'd-actions' },
        h('button', { type: 'button', onclick: () => close(false) }, 'Cancel'),
        h(
          'button',
          {
            type: 'button',
            class: p.danger ? 'danger solid' : 'primary',
            'data-confirm': true,
            onclick: () => close(true),
          },
          p.confirm,
        ),
      ),
    );
    const close = (/** @type {boolean} */ yes) => {
      dialog.close();
      dialog.remove();
      resolve(yes);
    };
    dialog.addEventListener('cancel', () => close(false));
    document.body.appendChild(dialog);
    dialog.showModal();
  });
}

/**
 * Shows a message for a few seconds.
 * @param {string} message
 * @param {boolean} [bad]
 */
export function toast(message, bad = false) {
  let box = document.querySelector('.toasts');
  if (!box) {
    box = h('div', { class: 'toasts', role: 'status', 'aria-live': 'polite' });
    document.body.appendChild(box);
  }
  const item = h('div', { class: `toast${bad ? ' bad' : ''}` }, message);
  box.appendChild(item);
  while (box.children.length > 3) box.firstElementChild?.remove();
  setTimeout(() => item.remove(), bad ? 8000 : 4000);
}

/**
 * A button that runs `action` (disabled meanwhile), toasts its message or error, then calls `after`.
 * @param {string} label
 * @param {() => Promise<{ message?: string } | void>} action
 * @param {{ class?: string, title?: string, disabled?: boolean, after?: () => void, name?: string }} [o]
 */
export function actionButton(label, action, o = {}) {
  const button = h(
    'button',
    {
      type: 'button',
      class: o.class ?? 'small',
      title: o.title ?? null,
      disabled: o.disabled ?? false,
      'data-action': o.name ?? label,
    },
    label,
  );
  button.addEventListener('click', async () => {
    button.disabled = true;
    try {
      const result = await action();
      if (result && result.message) toast(result.message);
      o.after?.();
    } catch (error) {
      toast(/** @type {Error} */ (error).message, true);
    } finally {
      button.disabled = o.disabled ?? false;
    }
  });
  return button;
}

/**
 * The paging of a list read by cursor: the page shown, the cursor that reads it, and the pager's two buttons (a page
 * back, disabled on the first page; a page on, disabled without a next one).
 * @param {HTMLElement} pager where the buttons go
 * @param {() => void} refresh reads and shows the current page
 * @param {[string, string]} [labels] the buttons' labels
 */
export function cursorPaging(pager, refresh, labels = ['← Previous', 'Next →']) {
  /** @type {(string | null)[]} */
  const cursors = [null];
  let page = 0;
  /** @param {-1 | 1} delta */
  const go = (delta) => {
    page += delta;
    refresh();
  };
  return {
    /** The page shown, 0 for the first. */
    get page() {
      return page;
    },
    /** The cursor that reads the page shown (null for the first). */
    get cursor() {
      return cursors[page] ?? null;
    },
    /**
     * Shows the buttons for the page just read, whose next page starts at `next` (null: it is the last).
     * @param {string | null} next
     */
    show(next) {
      cursors[page + 1] = next;
      replace(
        pager,
        h('button', { type: 'button', disabled: page === 0, onclick: () => go(-1) }, labels[0]),
        h('button', { type: 'button', disabled: !next, onclick: () => go(1) }, labels[1]),
      );
    },
  };
}
