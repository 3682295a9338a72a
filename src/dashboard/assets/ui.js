// @ts-check
/** Page-wide pieces: the confirmation dialog, toasts, buttons that run a change and report it, and a list's pager. */
import { h } from './dom.js';

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
 * The two buttons of a paged list: a page back (disabled on the first page) and a page on (disabled without a next).
 * @param {{ page: number, hasNext: boolean, go: (delta: -1 | 1) => void, labels?: [string, string] }} p
 */
export function pagerButtons(p) {
  const [back, on] = p.labels ?? ['← Previous', 'Next →'];
  return [
    h('button', { type: 'button', disabled: p.page === 0, onclick: () => p.go(-1) }, back),
    h('button', { type: 'button', disabled: !p.hasNext, onclick: () => p.go(1) }, on),
  ];
}
