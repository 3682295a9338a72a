// The order flow under Vitest, in memory (TEST_BACKEND=datastore-emulator runs it on the local stack).
import { afterEach, beforeEach, expect, test } from 'vitest';
import { createTestHarness, type HarnessBackend, type TestHarness } from 'cloud-deferred/testing';
import { createOrders } from '../src/orders.js';

const backend = (process.env.TEST_BACKEND ?? 'memory') as HarnessBackend;
let sent: string[];
let down: number; // how many sends fail before the mailer is back
let harness: TestHarness<ReturnType<typeof createOrders>>;

beforeEach(async () => {
  sent = [];
  down = 0;
  const mailer = {
    async send(to: string, text: string) {
      if (down-- > 0) throw new Error('mailer unavailable');
      sent.push(`${to}: ${text}`);
    },
  };
  harness = await createTestHarness((env) => createOrders(env, mailer), { backend });
});
afterEach(() => harness.close());

test('a placed order is shipped a minute later, then its receipt is sent', async () => {
  await harness.app.placeOrder('o1', 'ada@example.com');
  expect(await harness.deferred()).toMatchObject([{ task: 'shipOrder', args: ['o1'], due: false }]);
  expect(await harness.drain()).toEqual([]); // not due yet

  const runs = await harness.advance('1m');
  expect(runs.map((run) => [run.task, run.outcome])).toEqual([
    ['shipOrder', 'done'],
    ['sendReceipt', 'done'],
  ]);
  expect(await harness.app.statusOf('o1')).toBe('shipped');
  expect(sent).toEqual(['ada@example.com: Order o1 is on its way (attempt 1)']);
});

test('a receipt is retried on the queue backoff while the mailer is down', async () => {
  down = 2;
  await harness.app.placeOrder('o2', 'bob@example.com');
  await harness.advance('1m');
  expect(harness.runs.at(-1)).toMatchObject({
    task: 'sendReceipt',
    outcome: 'retry',
    error: 'Error: mailer unavailable',
  });

  await harness.advance('10s');
  expect(sent).toEqual(['bob@example.com: Order o2 is on its way (attempt 3)']);
  expect(harness.failures).toEqual([]);
});
