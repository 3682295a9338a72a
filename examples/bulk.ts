// README example "Many tasks at once": one receipt per order in one call; a partial failure names the calls to retry.
import { DeferManyError, type Deferred } from 'cloud-deferred';

export function receiptTasks(deferred: Deferred) {
  const sent: string[] = [];
  const sendReceipt = deferred.task('sendReceipt', async (orderId: string) => {
    sent.push(orderId);
  });

  async function sendReceipts(orderIds: readonly string[]) {
    // Named after the order: deferring the same orders again (a retried request) creates nothing twice.
    const calls = orderIds.map((orderId) => ({
      task: sendReceipt,
      args: [orderId] as [string],
      options: { name: `receipt-${orderId}`, ifExists: 'ignore' as const, entityBacked: true },
    }));
    try {
      await deferred.deferMany(calls);
    } catch (error) {
      if (!(error instanceof DeferManyError)) throw error; // a call was refused: nothing was written
      // The others are deferred; nothing of the failed ones was kept, so retrying them (same names) doubles nothing.
      await deferred.deferMany(error.failed.map((index) => calls[index]!));
    }
  }

  // One task, many argument lists, shared options: `.with(options).deferMany(argsList)`.
  const remindLater = (orderIds: readonly string[]) =>
    sendReceipt.with({ delay: '1d' }).deferMany(orderIds.map((orderId) => [orderId]));

  return { sendReceipts, remindLater, sent };
}
