// Fault-test harness: child processes to kill, a run ledger, leftover counting and the reliability counts of a scenario.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { Datastore, type Key } from '@google-cloud/datastore';
import { afterEach } from 'vitest';
import type { FaultPlan } from '../fixtures/fault-process.js';
import { LOCATION, PROJECT, SECRET } from './runtime.js';
import { nodeArgs } from './test-scripts.js';
import type { StorageContext } from './backends.js';

/** One line of the run ledger: a run of task `work(id)` started or ended, in process `pid`. */
export interface RunEvent {
  readonly e: 'start' | 'end';
  readonly id: string;
  readonly pid: number;
}

/** Runs of `work(id)`, recorded in memory (in-process handlers) or read from a child's ledger file. */
export class Ledger {
  readonly events: RunEvent[] = [];
  private readonly counts = { start: new Map<string, number>(), end: new Map<string, number>() };

  record(e: RunEvent['e'], id: string): void {
    this.add({ e, id, pid: process.pid });
  }

  private add(event: RunEvent): void {
    this.events.push(event);
    this.counts[event.e].set(event.id, (this.counts[event.e].get(event.id) ?? 0) + 1);
  }

  /** Adds the lines of a ledger file written by child processes. */
  load(file: string): this {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      return this; // nobody ran anything yet
    }
    for (const line of text.split('\n')) if (line) this.add(JSON.parse(line) as RunEvent);
    return this;
  }

  starts(id: string): number {
    return this.counts.start.get(id) ?? 0;
  }

  /** Completed runs: the function returned. */
  ends(id: string): number {
    return this.counts.end.get(id) ?? 0;
  }

  /** How many distinct ids completed at least once. */
  get completed(): number {
    return this.counts.end.size;
  }
}

/** What a scenario expects of one deferral. */
export interface Expected {
  readonly id: string;
  readonly kind: 'inline' | 'entity' | 'transactional';
  /** The caller was told the task exists (defer() resolved, or the transaction committed): it must run (or be reported). */
  readonly promised: boolean;
  /** The Cloud Task name, to match handler logs. */
  readonly cloudTaskName?: string;
}

/** One row of the README's reliability table. */
export interface Counts {
  scenario: string;
  backend: string;
  tasks: number;
  lost: number;
  doubleRuns: number;
  livePayloadsDeleted: number;
  leaks: number;
  /** Promised tasks the sweeper reported (deleted as leaked) instead of running: documented outcomes, not losses. */
  reported?: number;
  throughput?: string;
}

/**
 * Tallies a scenario. Lost: promised, never completed and not in `reported`. Double runs: entity-backed or transactional
 * deferrals whose function completed more than once. Live payloads deleted: deliveries of promised deferrals that found
 * no entity (outcome `missing`) before the task had completed. Leaks: the leftovers passed in.
 */
export function tally(
  scenario: string,
  backend: string,
  expected: readonly Expected[],
  ledger: Ledger,
  options: { missingTaskNames?: readonly string[]; reported?: ReadonlySet<string>; leaks: number },
): Counts {
  const missing = new Set(options.missingTaskNames ?? []);
  let lost = 0;
  let doubleRuns = 0;
  let livePayloadsDeleted = 0;
  let reported = 0;
  for (const e of expected) {
    const ends = ledger.ends(e.id);
    if (e.promised && ends === 0) {
      if (options.reported?.has(e.id)) reported++;
      else lost++;
    }
    if (e.kind !== 'inline' && ends > 1) doubleRuns++;
    if (e.promised && ends === 0 && e.cloudTaskName && missing.has(e.cloudTaskName)) livePayloadsDeleted++;
  }
  return {
    scenario,
    backend,
    tasks: expected.length,
    lost,
    doubleRuns,
    livePayloadsDeleted,
    leaks: options.leaks,
    reported,
  };
}

/** Prints a counts row (the README's reliability table is filled from these lines). */
export function report(counts: Counts): void {
  const cells = [
    counts.scenario,
    counts.backend,
    counts.tasks,
    counts.lost,
    counts.doubleRuns,
    counts.livePayloadsDeleted,
    counts.leaks,
    counts.reported ?? 0,
    counts.throughput ?? '',
  ];
  process.stdout.write(`[reliability] | ${cells.join(' | ')} |\n`);
}

/** Transient (underscore-kind) entities left in a namespace, by kind: after a final sweep these are leaks. */
export async function leftovers(storage: StorageContext): Promise<Record<string, number>> {
  const [rows] = await storage.datastore.runQuery(
    storage.datastore.createQuery(storage.namespace, []).select('__key__'),
  );
  const byKind: Record<string, number> = {};
  for (const row of rows) {
    const kind = (row[Datastore.KEY] as Key).kind;
    if (kind.startsWith('_')) byKind[kind] = (byKind[kind] ?? 0) + 1;
  }
  return byKind;
}

/** Sum of a {@link leftovers} result. */
export function total(byKind: Record<string, number>): number {
  return Object.values(byKind).reduce((sum, n) => sum + n, 0);
}

/** A free TCP port on 127.0.0.1 (closed again, for a child process to listen on). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** A running fixture process: its lines, and ways to wait for one, stop, continue or kill it. */
export class FaultProcess {
  readonly lines: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private stderr = '';
  private waiters: { pattern: RegExp; resolve: (line: string) => void }[] = [];

  constructor(readonly child: ChildProcess) {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      this.lines.push(line);
      for (const waiter of [...this.waiters]) {
        if (waiter.pattern.test(line)) {
          this.waiters.splice(this.waiters.indexOf(waiter), 1);
          waiter.resolve(line);
        }
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Resolves with the first line (already printed or to come) matching `pattern`; rejects if the process exits first. */
  waitFor(pattern: RegExp): Promise<string> {
    const seen = this.lines.find((line) => pattern.test(line));
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      this.waiters.push({ pattern, resolve });
      void this.exited.then(({ code, signal }) =>
        reject(new Error(`fault process exited (${code ?? signal}) before printing ${pattern}:\n${this.stderr}`)),
      );
    });
  }

  /** Lines `CONFIRMED <id> <name>` as [id, name]. */
  confirmed(): [string, string][] {
    return this.lines
      .filter((l) => l.startsWith('CONFIRMED '))
      .map((l) => l.split(' ').slice(1, 3) as [string, string]);
  }

  /** Handler log entries the process printed (JSON lines). */
  logs(): Record<string, unknown>[] {
    return this.lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
  }

  /** SIGKILL, and wait until it is gone. */
  async kill(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    await this.exited;
  }

  get errors(): string {
    return this.stderr;
  }
}

/** The process state letter from /proc (`T` when stopped). */
export function processState(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return 'gone';
  }
}

/** Options of {@link startFaultProcess}. */
export interface FaultProcessOptions {
  readonly mode: 'defer' | 'worker';
  readonly storage: StorageContext;
  readonly tasksPort: number;
  readonly queue: string;
  readonly handlerUrl: string;
  readonly clockMs: number;
  readonly plan?: FaultPlan;
  readonly port?: number;
  readonly ledger?: string;
  readonly hang?: boolean;
}

const started = new Set<FaultProcess>();

/** Kills every fixture process a test left running. Call once per file. */
export function useFaultProcesses(): void {
  afterEach(async () => {
    await Promise.all([...started].map((p) => p.kill()));
    started.clear();
  });
}

/** Starts test/fixtures/fault-process.ts (this run's bundle of it). */
export function startFaultProcess(options: FaultProcessOptions): FaultProcess {
  const child = spawn(process.execPath, nodeArgs('fault-process'), {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      METADATA_SERVER_DETECTION: 'none',
      FAULT_MODE: options.mode,
      DATASTORE_API: options.storage.clientOptions.apiEndpoint,
      DATASTORE_PROJECT: options.storage.clientOptions.projectId,
      DATASTORE_NS: options.storage.namespace,
      TASKS_PORT: String(options.tasksPort),
      PROJECT,
      LOCATION,
      SECRET,
      QUEUE: options.queue,
      HANDLER_URL: options.handlerUrl,
      CLOCK_MS: String(options.clockMs),
      FAULT_PLAN: options.plan ? JSON.stringify(options.plan) : '',
      PORT: options.port === undefined ? '' : String(options.port),
      LEDGER: options.ledger ?? '',
      HANG: options.hang ? '1' : '',
    },
  });
  const processHandle = new FaultProcess(child);
  started.add(processHandle);
  return processHandle;
}
