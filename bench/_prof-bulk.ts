import { typicalArgs } from './codec.js';
import { startLocalStack } from './lib/stack.js';
import { benchDeferred } from './lib/runtime.js';
process.env.METADATA_SERVER_DETECTION ??= 'none';
const stack = await startLocalStack('datastore');
const queuePath = await stack.createQueue('bulk', { paused: true });
const namespace = stack.namespace('bulk');
const deferred = benchDeferred(stack, { queuePath, namespace, handlerUrl: stack.parkedUrl });
const t = deferred.task('sendReceipt', (..._args: unknown[]) => undefined).with({ entityBacked: true });
const argsList = Array.from({ length: 1000 }, () => typicalArgs());
for (let i = 0; i < 12; i++) {
  const s = performance.now();
  await t.deferMany(argsList);
  console.error('ms', performance.now() - s);
  await stack.clearNamespace(namespace);
  await stack.purgeQueue(queuePath);
}
await stack.stop();
