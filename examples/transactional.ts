// README example "Transactional defer": the task exists if and only if the transaction commits.
import type { Datastore } from '@google-cloud/datastore';
import type { Deferred } from 'cloud-deferred';

export function orderTasks(deferred: Deferred, datastore: Datastore) {
  const shipped: string[] = [];
  const shipOrder = deferred.task('shipOrder', async (orderId: string) => {
    shipped.push(orderId);
  });

  async function placeOrder(orderId: string, paid: boolean) {
    await deferred.transaction(async (tx) => {
      const key = datastore.key(['Order', orderId]);
      tx.save({ key, data: { status: 'placed' } });
      // Written in this transaction, in the order's entity group; the Cloud Task is created after the commit.
      await shipOrder.with({ transaction: tx }).defer(orderId);
      if (!paid) throw new Error(`order ${orderId} is not paid`); // rolls back: no order, no task
    });
  }
  return { placeOrder, shipped };
}
