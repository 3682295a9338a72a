// `deferred dashboard` as a real child process against both Datastore emulators and our Cloud Tasks emulator: the URL it prints, its token, its counts, a clean stop.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { describeStorage, type StorageContext } from './support/backends.js';
import { useRuntime, type RuntimeFixture } from './support/runtime.js';
import { nodeArgs } from './support/test-scripts.js';

const children: ChildProcessWithoutNullStreams[] = [];

afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});

/** Starts `deferred dashboard` (this run's bundle) against this test's emulators and namespace. */
function dashboard(storage: StorageContext, rt: RuntimeFixture, args: string[]) {
  const child = spawn(
    process.execPath,
    nodeArgs('cli', [
      'dashboard',
      ...args,
      '--project',
      storage.clientOptions.projectId,
      '--datastore-emulator-host',
      storage.clientOptions.apiEndpoint,
      '--tasks-emulator-host',
      `127.0.0.1:${rt.emulator.port}`,
      '--namespace',
      storage.namespace,
    ]),
    { env: { ...process.env, METADATA_SERVER_DETECTION: 'none' } },
  );
  children.push(child);
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => void (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const firstLine = new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    lines.once('line', (line) => resolve(line));
    void exited.then((code) => reject(new Error(`deferred dashboard exited (${String(code)}) first: ${stderr}`)));
  });
  firstLine.catch(() => undefined); // awaited only by the tests that expect the URL; the others await `exited`
  return { child, firstLine, exited, stderr: () => stderr };
}

describe('deferred dashboard', () => {
  const setup = useRuntime();

  describeStorage('CLI', (ctx) => {
    it('prints a loopback URL with a token; the token opens it, its absence is refused; counts come from the store; SIGTERM stops it', async () => {
      const rt = await setup(ctx());
      const later = rt.deferred.task('later', () => undefined);
      await later.with({ entityBacked: true, delay: '1h' }).defer();
      await later.with({ entityBacked: true, delay: '1h' }).defer();

      const run = dashboard(ctx(), rt, ['--json', '--read-only']);
      const { url, origin } = JSON.parse(await run.firstLine) as { url: string; origin: string };
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?token=[A-Za-z0-9_-]{43}$/);
      expect(url.startsWith(`${origin}/`)).toBe(true);

      expect((await fetch(`${origin}/`)).status).toBe(403);
      expect((await fetch(`${origin}/?token=${'x'.repeat(43)}`, { redirect: 'manual' })).status).toBe(403);
      const opened = await fetch(url, { redirect: 'manual' });
      expect(opened.status).toBe(303);
      expect(opened.headers.get('location')).toBe('/');
      const cookie = opened.headers.get('set-cookie')!.split(';')[0]!;

      const page = await fetch(`${origin}/`, { headers: { cookie } });
      expect(page.status).toBe(200);
      expect(page.headers.get('content-security-policy')).toContain("default-src 'none'");
      const summary = (await (await fetch(`${origin}/api/summary`, { headers: { cookie } })).json()) as {
        namespace: string;
        readOnly: boolean;
        canCreateTasks: boolean;
      };
      expect(summary).toMatchObject({ namespace: ctx().namespace, readOnly: true, canCreateTasks: false });
      const counts = (await (await fetch(`${origin}/api/counts`, { headers: { cookie } })).json()) as {
        byState: Record<string, number>;
      };
      expect(counts.byState).toMatchObject({ pending: 2, running: 0, done: 0, failed: 0 });
      // Read-only: a change is refused before anything else is looked at.
      const change = await fetch(`${origin}/api/sweep`, {
        method: 'POST',
        headers: { cookie, 'content-type': 'application/json' },
        body: '{}',
      });
      expect(change.status).toBe(403);

      run.child.kill('SIGTERM');
      expect(await run.exited).toBe(0);
    });

    it('refuses a non-loopback --host with the usage exit code, saying what to do instead', async () => {
      const rt = await setup(ctx());
      const run = dashboard(ctx(), rt, ['--host', '0.0.0.0']);
      expect(await run.exited).toBe(2);
      expect(run.stderr()).toMatch(/--host must be a loopback address.*createDashboard\(\)/s);
    });
  });
});
