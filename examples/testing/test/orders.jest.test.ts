// The order flow under Jest (ESM: NODE_OPTIONS=--experimental-vm-modules), in memory.
import { afterEach, beforeEach, expect, test } from '@jest/globals';
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
  const runs = await harness.advance('1m');
  expect(runs.map((run) => run.task)).toEqual(['shipOrder', 'sendReceipt']);
  expect(await harness.app.statusOf('o1')).toBe('shipped');
  expect(sent).toEqual(['ada@example.com: Order o1 is on its way (attempt 1)']);
});

test('nothing is shipped when the order is not saved', async () => {
  await expect(harness.app.placeOrder('o3', 'not-an-address')).rejects.toThrow('is not an e-mail address');
  expect(await harness.deferred()).toEqual([]);
  expect(await harness.app.statusOf('o3')).toBeUndefined();
});
