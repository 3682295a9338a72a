/** Where the benchmark runs: the local stack (a Datastore emulator and our Cloud Tasks emulator in child processes) or a real project. */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Datastore } from '@google-cloud/datastore';
import { CloudTasksClient } from '@google-cloud/tasks';
import { grpc } from 'google-gax';
import { startDatastoreEmulator, type DatastoreBackend } from '../../src/local-stack/index.js';
import { sessionMembers } from '../../src/local-stack/process-group.js';

/** Repository root (the benchmark spawns children from here so `--import tsx` resolves). */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** How child processes reach the same Datastore and Cloud Tasks. */
export interface ChildEndpoints {
  readonly projectId: string;
  readonly location: string;
  /** `host:port` of the Datastore emulator; absent on a real project (the child uses Application Default Credentials). */
  readonly datastoreEndpoint?: string;
  /** Port of the Cloud Tasks emulator on 127.0.0.1; absent on a real project. */
  readonly tasksPort?: number;
}

/** Options of one benchmark queue. */
export interface QueueOptions {
  /** Create it paused (tasks wait until {@link BenchStack.resumeQueue}). @default true */
  readonly paused?: boolean;
  /** `rateLimits.maxConcurrentDispatches`. @default 1000 (the service's default) */
  readonly maxConcurrentDispatches?: number;
}

/** CPU time used so far, in milliseconds, by the benchmark process and by each emulator (all its processes). */
export interface CpuSnapshot {
  readonly bench: number;
  readonly tasksEmulator: number;
  readonly datastoreEmulator: number;
}

/** What the figures run against. */
export interface BenchStack {
  readonly mode: 'local' | 'project';
  /** Datastore backend on the local stack; `project` on a real project. */
  readonly backend: DatastoreBackend | 'project';
  readonly projectId: string;
  readonly location: string;
  readonly tasks: CloudTasksClient;
  readonly endpoints: ChildEndpoints;
  /**
   * The handler host for the `run` figure: where our HTTP server listens and the URL Cloud Tasks sends to. Null when
   * Cloud Tasks cannot reach this machine (a real project without `--handler-url`).
   */
  readonly handler: { readonly listenHost: string; readonly listenPort: number; readonly publicUrl: string | null };
  /**
   * Handler URL of tasks that are never delivered (their queue stays paused until it is purged or deleted): nothing
   * listens there.
   */
  readonly parkedUrl: string;
  /** CPU used so far by this process and the local emulators; null on a real project (the services' CPU is not ours to see). */
  cpu(): CpuSnapshot | null;
  /** A fresh namespace, cleaned up when the stack stops. */
  namespace(label: string): string;
  /** A Datastore client bound to `namespace`. */
  datastore(namespace: string): Datastore;
  /** Deletes every entity of a namespace. */
  clearNamespace(namespace: string): Promise<void>;
  /** Creates a queue (deleted when the stack stops) and returns its full path. */
  createQueue(label: string, options?: QueueOptions): Promise<string>;
  resumeQueue(path: string): Promise<void>;
  pauseQueue(path: string): Promise<void>;
  purgeQueue(path: string): Promise<void>;
  /** Deletes what the benchmark created and stops what it started. */
  stop(): Promise<void>;
}

/** How to reach a real project, from flags or `DEFERRED_BENCH_*` environment variables. */
export interface ProjectTarget {
  readonly projectId: string;
  readonly location: string;
  /** Public URL that reaches `handlerPort` on this machine (a tunnel), for the `run` figure. */
  readonly handlerUrl?: string;
  readonly handlerPort?: number;
}

const RUN_ID = randomBytes(3).toString('hex');

/** Deletes every entity of a namespace (kindless keys-only query, batched deletes). */
export async function clearNamespace(datastore: Datastore, namespace: string): Promise<void> {
  for (;;) {
    const [rows] = await datastore.runQuery(datastore.createQuery(namespace, []).select('__key__').limit(500));
    if (rows.length === 0) return;
    await datastore.delete(rows.map((row) => row[Datastore.KEY]));
  }
}

/** Runs our Cloud Tasks emulator (the `deferred emulator tasks` CLI) in a child process; resolves with its port. */
async function startTasksEmulatorProcess(): Promise<{ port: number; child: ChildProcess; stop(): Promise<void> }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'src/cli/main.ts', 'emulator', 'tasks', '--port', '0', '--json', '--tombstone', '1m'],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, METADATA_SERVER_DETECTION: 'none' } },
  );
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-2000)));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`Cloud Tasks emulator did not start in 60 s: ${stderr}`)), 60_000);
    child.once('exit', (code) => reject(new Error(`Cloud Tasks emulator exited (${code}): ${stderr}`)));
    createInterface({ input: child.stdout! }).once('line', (line) => {
      clearTimeout(timer);
      try {
        resolve((JSON.parse(line) as { port: number }).port);
      } catch {
        reject(new Error(`Cloud Tasks emulator said: ${line}`));
      }
    });
  });
  return {
    port,
    child,
    stop: async () => {
      process.off('exit', killOnExit);
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** CPU time (user + system) of one process in milliseconds, from /proc (Linux; 0 when unreadable). */
export function processCpuMs(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return 0;
  }
}

/** Kernel clock ticks per second (USER_HZ), 100 on every mainstream Linux. */
const CLOCK_TICKS = 100;

function benchCpuMs(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
}

function queueParent(projectId: string, location: string): string {
  return `projects/${projectId}/locations/${location}`;
}

/** The parts of a stack that are the same locally and on a real project. */
function assemble(
  base: Pick<
    BenchStack,
    'mode' | 'backend' | 'projectId' | 'location' | 'tasks' | 'endpoints' | 'handler' | 'cpu' | 'parkedUrl'
  >,
  datastoreOptions: { projectId: string; apiEndpoint?: string },
  stopServices: () => Promise<void>,
): BenchStack {
  const namespaces = new Set<string>();
  const queues = new Set<string>();
  const clients = new Map<string, Datastore>();
  let queueCount = 0;
  const datastore = (namespace: string) => {
    let client = clients.get(namespace);
    if (!client) {
      client = new Datastore({ ...datastoreOptions, namespace });
      clients.set(namespace, client);
    }
    return client;
  };
  return {
    ...base,
    namespace(label) {
      const namespace = `bench-${RUN_ID}-${label}-${namespaces.size}`;
      namespaces.add(namespace);
      return namespace;
    },
    datastore,
    clearNamespace: (namespace) => clearNamespace(datastore(namespace), namespace),
    async createQueue(label, options = {}) {
      const name = `${queueParent(base.projectId, base.location)}/queues/bench-${RUN_ID}-${label}-${queueCount++}`;
      await base.tasks.createQueue({
        parent: queueParent(base.projectId, base.location),
        queue: {
          name,
          rateLimits: { maxDispatchesPerSecond: 500, maxConcurrentDispatches: options.maxConcurrentDispatches ?? 1000 },
          retryConfig: { maxAttempts: 3, minBackoff: { seconds: 1 } },
        },
      });
      queues.add(name);
      if (options.paused ?? true) await base.tasks.pauseQueue({ name });
      return name;
    },
    async resumeQueue(name) {
      await base.tasks.resumeQueue({ name });
    },
    async pauseQueue(name) {
      await base.tasks.pauseQueue({ name });
    },
    async purgeQueue(name) {
      await base.tasks.purgeQueue({ name });
    },
    async stop() {
      const errors: unknown[] = [];
      if (base.mode === 'project') {
        // Nothing of ours may stay behind in a real project.
        for (const name of queues) await base.tasks.deleteQueue({ name }).catch((e: unknown) => errors.push(e));
        for (const namespace of namespaces) {
          await clearNamespace(datastore(namespace), namespace).catch((e: unknown) => errors.push(e));
        }
      }
      await base.tasks.close().catch(() => undefined);
      await stopServices();
      if (errors.length) throw new Error(`cleanup failed: ${String(errors[0])}`);
    },
  };
}

/** Starts the local stack: one Datastore emulator (in memory) and our Cloud Tasks emulator, each in its own process. */
export async function startLocalStack(backend: DatastoreBackend): Promise<BenchStack> {
  const projectId = 'demo-deferred-bench';
  const location = 'us-central1';
  const [datastoreEmulator, tasksEmulator] = await Promise.all([
    startDatastoreEmulator({ backend, projectId }),
    startTasksEmulatorProcess(),
  ]);
  const tasks = new CloudTasksClient({
    apiEndpoint: '127.0.0.1',
    port: tasksEmulator.port,
    sslCreds: grpc.credentials.createInsecure(),
  });
  return assemble(
    {
      mode: 'local',
      backend,
      projectId,
      location,
      tasks,
      endpoints: { projectId, location, datastoreEndpoint: datastoreEmulator.endpoint, tasksPort: tasksEmulator.port },
      handler: { listenHost: '127.0.0.1', listenPort: 0, publicUrl: null },
      parkedUrl: 'http://127.0.0.1:9/_deferred', // the discard port: nothing local ever answers
      cpu: () => ({
        bench: benchCpuMs(),
        tasksEmulator: processCpuMs(tasksEmulator.child.pid!),
        datastoreEmulator: sessionMembers(datastoreEmulator.sid).reduce((sum, pid) => sum + processCpuMs(pid), 0),
      }),
    },
    datastoreEmulator.clientOptions,
    async () => {
      await Promise.all([datastoreEmulator.stop(), tasksEmulator.stop()]);
    },
  );
}

/** Connects to a real project with Application Default Credentials. Everything the benchmark creates is deleted at the end. */
export async function connectProject(target: ProjectTarget): Promise<BenchStack> {
  const tasks = new CloudTasksClient();
  return assemble(
    {
      mode: 'project',
      backend: 'project',
      projectId: target.projectId,
      location: target.location,
      tasks,
      endpoints: { projectId: target.projectId, location: target.location },
      handler: {
        listenHost: '0.0.0.0',
        listenPort: target.handlerPort ?? 8080,
        publicUrl: target.handlerUrl ?? null,
      },
      cpu: () => null,
      parkedUrl: 'https://example.com/_deferred', // a valid public URL the service accepts; never dispatched
    },
    { projectId: target.projectId },
    async () => undefined,
  );
}

/** A Cloud Tasks client for a child process, from the parent's {@link ChildEndpoints}. */
export function childTasksClient(endpoints: ChildEndpoints): CloudTasksClient {
  if (endpoints.tasksPort === undefined) return new CloudTasksClient();
  return new CloudTasksClient({
    apiEndpoint: '127.0.0.1',
    port: endpoints.tasksPort,
    sslCreds: grpc.credentials.createInsecure(),
  });
}

/** A Datastore client for a child process, from the parent's {@link ChildEndpoints}. */
export function childDatastore(endpoints: ChildEndpoints, namespace: string): Datastore {
  return new Datastore({
    projectId: endpoints.projectId,
    namespace,
    ...(endpoints.datastoreEndpoint ? { apiEndpoint: endpoints.datastoreEndpoint } : {}),
  });
}
