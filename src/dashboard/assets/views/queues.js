// @ts-check
/** Queue actions: pause and resume, each confirmed first. */
import { post } from '../api.js';
import { actionButton, confirmDialog } from '../ui.js';

/**
 * @param {{ id: string, state: string }} q
 * @param {import('../app.js').Context} ctx
 */
export function queueActions(q, ctx) {
  const pause = q.state !== 'PAUSED';
  const verb = pause ? 'Pause' : 'Resume';
  return actionButton(
    verb,
    async () => {
      const ok = await confirmDialog({
        title: `${verb} queue ${q.id}?`,
        body: [
          pause
            ? 'Cloud Tasks stops dispatching its tasks until it is resumed; tasks can still be added.'
            : 'Cloud Tasks starts dispatching its tasks again.',
        ],
        confirm: verb,
        danger: pause,
      });
      if (!ok) return;
      return post(`queues/${pause ? 'pause' : 'resume'}`, { queue: q.id });
    },
    { class: `small${pause ? ' danger' : ''}`, after: ctx.refreshNow, name: `${verb.toLowerCase()}-queue` },
  );
}
