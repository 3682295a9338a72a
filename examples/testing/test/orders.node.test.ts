// The order flow under node:test, in memory.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, test } from 'node:test';
import { createTestHarness, type TestHarness } from 'cloud-deferred/testing';
import { createOrders } from '../src/orders.js';

let sent: string[];
let harness: TestHarness<ReturnType<typeof createOrders>>;

beforeEach(async () => {
  sent = [];
  const mailer = { send: async (to: string, text: string) => void sent.push(`${to}: ${text}`) };
  harness = await createTestHarness((env) => createOrders(env, mailer));
});
afterEach(() => harness.close());

test('a placed order is shipped a minute later, then its receipt is sent', async () => {
  await harness.app.placeOrder('o1', 'ada@example.com');
  const [waiting] = await harness.deferred();
  assert.equal(waiting?.task, 'shipOrder');
  assert.deepEqual(waiting?.args, ['o1']);

  const runs = await harness.advance('1m');
  assert.deepEqual(
    runs.map((run) => [run.task, run.outcome]),
    [
      ['shipOrder', 'done'],
      ['sendReceipt', 'done'],
    ],
  );
  assert.equal(await harness.app.statusOf('o1'), 'shipped');
  assert.deepEqual(sent, ['ada@example.com: Order o1 is on its way (attempt 1)']);
});
