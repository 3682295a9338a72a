/** Starting Google's Datastore emulator or the Firestore emulator in Datastore mode on loopback, in memory, and stopping it. */
import { accessSync, constants, existsSync, mkdtempSync, realpathSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { EMULATOR_AUTH_OPTIONS } from '../clients/gax.js';
import { EmulatorStartError, PrerequisiteMissingError } from '../errors/index.js';
import { spawnSession, type ProcessSession } from './process-group.js';

/** Which of Google's two Datastore-compatible emulators to run. */
export type DatastoreBackend = 'datastore' | 'firestore';

/** Options of {@link startDatastoreEmulator}. */
export interface DatastoreEmulatorOptions {
  /**
   * `datastore`: the Cloud Datastore emulator (`gcloud beta emulators datastore`), which answers `__kind__` queries.
   * `firestore`: the Firestore emulator with `--database-mode=datastore-mode`.
   * @default 'datastore'
   */
  readonly backend?: DatastoreBackend;
  /** Project id the client must use. @default 'demo-deferred' */
  readonly projectId?: string;
  /** Loopback host to bind. @default '127.0.0.1' */
  readonly host?: string;
  /** Port to bind; 0 picks a free one. @default 0 */
  readonly port?: number;
  /** The `gcloud` executable: a path, or a name looked up on PATH. @default 'gcloud' */
  readonly gcloudPath?: string;
  /** The `java` executable the emulators need: a path, or a name looked up on PATH. @default 'java' */
  readonly javaPath?: string;
  /** How long to wait for the health endpoint before giving up, in milliseconds. @default 90000 */
  readonly startTimeoutMs?: number;
}

/** A running emulator and what a `Datastore` client needs to reach it. */
export interface RunningDatastoreEmulator {
  readonly backend: DatastoreBackend;
  readonly projectId: string;
  readonly host: string;
  readonly port: number;
  /** `host:port`, the value for `DATASTORE_EMULATOR_HOST`. */
  readonly endpoint: string;
  /** Pass to `new Datastore(...)` (add `namespace` as needed). */
  readonly clientOptions: { readonly projectId: string; readonly apiEndpoint: string; readonly universeDomain: string };
  /** Session id of the emulator: its watchdog shell, gcloud and the JVM all belong to it. */
  readonly sid: number;
  /**
   * The emulator's scratch folder in the temp directory (its gcloud configuration; the Datastore emulator's data dir).
   * Removed when the emulator stops, and also when this process is interrupted or killed.
   */
  readonly dataDir: string;
  /** Stops the emulator by killing every process of its session; resolves when nothing of it is left. */
  stop(): Promise<void>;
}

const COMPONENT_DIR: Record<DatastoreBackend, { dir: string; component: string }> = {
  datastore: { dir: 'cloud-datastore-emulator', component: 'cloud-datastore-emulator' },
  firestore: { dir: 'cloud-firestore-emulator', component: 'cloud-firestore-emulator' },
};

/** Resolves an executable given as a path or a bare name on PATH; undefined when it is not there. */
export function findExecutable(nameOrPath: string): string | undefined {
  const candidates = nameOrPath.includes('/')
    ? [nameOrPath]
    : (process.env.PATH ?? '').split(delimiter).map((dir) => join(dir, nameOrPath));
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      /* not here */
    }
  }
  return undefined;
}

/**
 * Checks that gcloud, the emulator component and Java are installed, and throws a one-line
 * {@link PrerequisiteMissingError} naming what to install otherwise.
 */
export function checkPrerequisites(backend: DatastoreBackend, gcloudPath = 'gcloud', javaPath = 'java'): string {
  const gcloud = findExecutable(gcloudPath);
  if (!gcloud) {
    throw new PrerequisiteMissingError(
      `Google Cloud CLI not found (looked for "${gcloudPath}"): install it (https://cloud.google.com/sdk/docs/install) and put gcloud on PATH.`,
    );
  }
  const { dir, component } = COMPONENT_DIR[backend];
  const sdkRoot = dirname(dirname(realpathSync(gcloud)));
  if (!existsSync(join(sdkRoot, 'platform', dir))) {
    throw new PrerequisiteMissingError(
      `The ${backend} emulator is not installed in ${sdkRoot}: run "gcloud components install ${component}" (or apt-get install google-cloud-cli-${component.replace('cloud-', '')}).`,
    );
  }
  if (!findExecutable(javaPath)) {
    throw new PrerequisiteMissingError(
      `Java not found (looked for "${javaPath}"): the ${backend} emulator needs a Java 11+ runtime, e.g. apt-get install openjdk-17-jre-headless.`,
    );
  }
  return gcloud;
}

/** Asks the kernel for a free TCP port on `host`. */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function healthy(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(1000) });
    await response.text();
    return response.ok;
  } catch {
    return false;
  }
}

/**
 * Starts one emulator in memory on a free loopback port and waits until its health endpoint answers.
 *
 * @example
 * const emulator = await startDatastoreEmulator({ backend: 'firestore' });
 * const datastore = new Datastore(emulator.clientOptions);
 * // ...
 * await emulator.stop();
 */
export async function startDatastoreEmulator(
  options: DatastoreEmulatorOptions = {},
): Promise<RunningDatastoreEmulator> {
  return launchDatastoreEmulator(options, () => freePort(options.host ?? '127.0.0.1'));
}

/**
 * {@link startDatastoreEmulator} with the free ports taken from `nextPort`. A free port can be taken by another process
 * before the JVM binds it (tests start emulators side by side): then the emulator exits at once with a BindException,
 * and it is started again on the next free port, up to {@link PORT_ATTEMPTS} times. A port the caller chose is tried
 * once.
 */
export async function launchDatastoreEmulator(
  options: DatastoreEmulatorOptions,
  nextPort: () => Promise<number>,
): Promise<RunningDatastoreEmulator> {
  const gcloud = checkPrerequisites(options.backend ?? 'datastore', options.gcloudPath, options.javaPath);
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(options, gcloud, options.port || (await nextPort()));
    } catch (error) {
      const taken = error instanceof EmulatorStartError && /BindException|Address already in use/.test(error.output);
      if (!taken || options.port || attempt >= PORT_ATTEMPTS) throw error;
    }
  }
}

/** Free ports an emulator start tries before it gives up. */
const PORT_ATTEMPTS = 3;

/** One start of the emulator on `port`, waiting for its health endpoint. */
async function startOnce(
  options: DatastoreEmulatorOptions,
  gcloud: string,
  port: number,
): Promise<RunningDatastoreEmulator> {
  const backend = options.backend ?? 'datastore';
  const projectId = options.projectId ?? 'demo-deferred';
  const host = options.host ?? '127.0.0.1';
  const dataDir = mkdtempSync(join(tmpdir(), `deferred-${backend}-`));
  const args =
    backend === 'datastore'
      ? [
          'beta',
          'emulators',
          'datastore',
          'start',
          `--project=${projectId}`,
          '--no-store-on-disk',
          '--consistency=1.0',
          `--data-dir=${dataDir}`,
          `--host-port=${host}:${port}`,
        ]
      : [
          'emulators',
          'firestore',
          'start',
          `--project=${projectId}`,
          '--database-mode=datastore-mode',
          `--host-port=${host}:${port}`,
        ];
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    CLOUDSDK_CORE_DISABLE_PROMPTS: '1',
    CLOUDSDK_CONFIG: join(dataDir, 'gcloud-config'),
  };
  if (options.javaPath?.includes('/')) env.PATH = `${dirname(options.javaPath)}${delimiter}${env.PATH ?? ''}`;
  const group: ProcessSession = spawnSession(gcloud, args, env, dataDir);
  let output = '';
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4000);
  };
  group.child.stdout?.on('data', collect);
  group.child.stderr?.on('data', collect);
  let exited = false;
  group.child.on('exit', () => {
    exited = true;
  });

  const stop = () => group.stop(); // and removes dataDir

  const deadline = Date.now() + (options.startTimeoutMs ?? 90_000);
  const url = `http://${host}:${port}/`;
  for (;;) {
    // An exit is looked at first: another emulator that took the port may answer the health check meanwhile.
    if (!exited && (await healthy(url)) && !exited) break;
    if (exited || Date.now() > deadline) {
      await stop();
      const lastLine = output.trim().split('\n').slice(-1)[0] ?? '';
      throw new EmulatorStartError(
        `The ${backend} emulator ${exited ? 'exited' : 'did not answer on ' + url} before becoming healthy: ${lastLine}`,
        output,
      );
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    backend,
    projectId,
    host,
    port,
    endpoint: `${host}:${port}`,
    clientOptions: { projectId, apiEndpoint: `${host}:${port}`, ...EMULATOR_AUTH_OPTIONS },
    sid: group.pid,
    dataDir,
    stop,
  };
}
