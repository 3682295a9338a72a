// Running the `deferred` CLI as a child process (this run's bundle of src/cli/main.ts), for tests of its output, exit
// codes and kills.
import { spawn, type ChildProcess } from 'node:child_process';
import { nodeArgs } from './test-scripts.js';

/** Environment pointing the CLI at the emulators, in one namespace. */
export function cliEnv(options: { projectId: string; datastore: string; tasks: string; namespace: string }) {
  return {
    ...process.env,
    METADATA_SERVER_DETECTION: 'none',
    GOOGLE_CLOUD_PROJECT: options.projectId,
    DATASTORE_EMULATOR_HOST: options.datastore,
    CLOUD_TASKS_EMULATOR_HOST: options.tasks,
    DATASTORE_NAMESPACE: options.namespace,
  };
}

/** Starts `deferred <args>`. */
export function spawnCli(args: string[], env: NodeJS.ProcessEnv = process.env): ChildProcess {
  return spawn(process.execPath, nodeArgs('cli', args), { stdio: ['ignore', 'pipe', 'pipe'], env });
}

/** Runs `deferred <args>` to the end. */
export async function runCli(
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawnCli(args, env);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  return { code, stdout, stderr };
}
