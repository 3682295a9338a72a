/** Child process of the `sweep_memory` figure: sweeps one namespace and prints its peak RSS (VmHWM) as one JSON line. */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { silentLogger } from '../src/core/logger.js';
import { sweep } from '../src/sweeper/index.js';
import { childDatastore, childTasksClient } from './lib/stack.js';
import type { MemoryChildInput, MemoryChildResult } from './sweep-memory.js';

/** Peak resident set size in bytes: VmHWM on Linux, else what the OS reports as maxRSS. */
function peakRssBytes(): number {
  try {
    const match = /^VmHWM:\s+(\d+)\s+kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (match) return Number(match[1]) * 1024;
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS * 1024;
}

const input = JSON.parse(process.argv[2] ?? '') as MemoryChildInput;
const datastore = childDatastore(input.endpoints, input.namespace);
const tasks = childTasksClient(input.endpoints);
// Connect (gRPC channel, protos) before taking the starting mark, so the growth is the sweep's own.
await datastore.runQuery(datastore.createQuery(input.namespace, '_BenchWarmUp').select('__key__').limit(1));
const collect = (globalThis as { gc?: () => void }).gc ?? (() => undefined);
collect();
const startRssBytes = peakRssBytes();
const startHeapBytes = process.memoryUsage().heapUsed;
const started = performance.now();
const { stats } = await sweep({
  datastore,
  tasks,
  namespace: input.namespace,
  shards: input.shards,
  now: new Date(input.nowMs),
  log: silentLogger,
});
const endPeakRssBytes = peakRssBytes();
collect();
const result: MemoryChildResult = {
  peakRssBytes: endPeakRssBytes,
  startRssBytes,
  retainedHeapBytes: process.memoryUsage().heapUsed - startHeapBytes,
  deleted: stats.deleted.done,
  ms: performance.now() - started,
};
await tasks.close();
process.stdout.write(`${JSON.stringify(result)}\n`);
