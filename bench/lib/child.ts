/** Benchmark child processes that print their result as the last line of stdout, as JSON. */
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';

/**
 * Runs `node <args>` and resolves with the JSON of the last line it printed and the wall time from spawn to exit.
 * Rejects, naming the child by `label`, when it exits non-zero or prints no result (with the end of its stderr).
 */
export function runJsonChild<T>(
  label: string,
  args: readonly string[],
  options: { readonly cwd: string; readonly env: NodeJS.ProcessEnv },
): Promise<{ result: T; ms: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
    child.once('error', reject);
    child.once('exit', (code) => {
      const ms = performance.now() - started;
      if (code !== 0) return reject(new Error(`${label} exited with ${code}: ${stderr.trim()}`));
      try {
        resolve({ result: JSON.parse(stdout.trim().split('\n').pop()!) as T, ms });
      } catch {
        reject(new Error(`${label} printed no result: ${stdout.slice(-500)} ${stderr}`));
      }
    });
  });
}
