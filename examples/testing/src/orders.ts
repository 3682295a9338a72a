// The app under test: placing an order defers its shipping in the same transaction; shipping marks the order
// shipped and defers a receipt, which retries while the mailer is down.
import type { Datastore } from '@google-cloud/datastore';
import { createDeferred, currentTask, type DeferredConfig } from 'cloud-deferred';

/** What the app needs from its surroundings: in production its own clients, in tests the harness's `env`. */
export type OrdersConfig = Pick<DeferredConfig, 'datastore' | 'tasks'> & Partial<DeferredConfig>;

export function createOrders(config: OrdersConfig, mailer: { send(to: string, text: string): Promise<void> }) {
  const deferred = createDeferred({
    projectId: 'my-shop',
    location: 'europe-west1',
    handlerUrl: 'https://shop.example.com/_deferred',
    secret: process.env.DEFERRED_SECRET ?? 'dev-only-secret-change-me',
    ...config,
  });
  const datastore: Datastore = config.datastore;
  const orderKey = (id: string) => datastore.key(['Order', id]);

  const sendReceipt = deferred.task(
    'sendReceipt',
    async (orderId: string, email: string) => {
      await mailer.send(email, `Order ${orderId} is on its way (attempt ${currentTask()!.attempt})`);
    },
    { maxAttempts: 5 },
  );

  const shipOrder = deferred.task('shipOrder', async (orderId: string) => {
    const [order] = await datastore.get(orderKey(orderId));
    await datastore.save({ key: orderKey(orderId), data: { ...order, status: 'shipped' } });
    await sendReceipt.defer(orderId, order.email); // held until this run succeeds
  });

  /** Places an order; shipping starts a minute later, if and only if the order is saved. */
  async function placeOrder(orderId: string, email: string): Promise<void> {
    await deferred.transaction(async (tx) => {
      tx.save({ key: orderKey(orderId), data: { email, status: 'placed' } });
      await shipOrder.with({ transaction: tx, delay: '1m' }).defer(orderId);
      if (!email.includes('@')) throw new Error(`order ${orderId}: ${email} is not an e-mail address`); // rolls back
    });
  }

  async function statusOf(orderId: string): Promise<string | undefined> {
    const [order] = await datastore.get(orderKey(orderId));
    return order?.status;
  }

  return { deferred, placeOrder, statusOf };
}
