// examples/testing as a user runs it: the app and its tests copied into a fresh folder, the packed library and the
// test runners installed from the npm registry, then its tests run under Vitest, Jest and node:test (in memory), and
// under Vitest on the local stack (the harness starts a Datastore emulator itself).
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { NPM_INSTALL, npm, run } from './packed.js';

const exampleSource = fileURLToPath(new URL('../../examples/testing', import.meta.url));
const { tarball, scratch } = inject('packed');

/** Runs a command in the example app; resolves with its output whether it passed or not. */
async function inApp(app: string, command: string, args: string[], env: NodeJS.ProcessEnv = {}) {
  return run(command, args, {
    cwd: app,
    env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0', ...env },
    timeout: 300_000,
    maxBuffer: 64 * 1024 * 1024,
  }).then(
    ({ stdout, stderr }) => ({ code: 0, output: `${stdout}${stderr}` }),
    (error: { code?: number; stdout?: string; stderr?: string }) => ({
      code: error.code ?? 1,
      output: `${error.stdout ?? ''}${error.stderr ?? ''}`,
    }),
  );
}

describe('examples/testing, from the packed library', () => {
  let app: string;

  beforeAll(async () => {
    app = join(scratch, 'examples-testing');
    cpSync(exampleSource, app, { recursive: true, filter: (source) => !/node_modules|[/\\]dist$/.test(source) });
    // The example names the published package; here it gets the tarball, as `npm install cloud-deferred` would.
    const manifest = JSON.parse(readFileSync(join(app, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    manifest.dependencies['cloud-deferred'] = `file:${tarball}`;
    writeFileSync(join(app, 'package.json'), JSON.stringify(manifest, null, 2));
    await npm(app, [...NPM_INSTALL]);
  }, 600_000);

  it('type-checks under tsc --strict', async () => {
    const result = await inApp(app, 'npm', ['run', 'typecheck']);
    expect(result.output).not.toMatch(/error TS/);
    expect(result.code).toBe(0);
  }, 120_000);

  it.each([
    ['Vitest', 'test:vitest', /Tests\s+2 passed/],
    ['Jest', 'test:jest', /Tests:\s+2 passed/],
    // node --test prints TAP ('# pass 1') up to Node 22 and the spec reporter ('ℹ pass 1') from Node 23 on.
    ['node:test', 'test:node', /^(?:#|ℹ) pass 1$/m],
  ])(
    'passes under %s, in memory',
    async (_runner, script, passed) => {
      const result = await inApp(app, 'npm', ['run', script]);
      expect(result.output).toMatch(passed);
      expect(result.code, result.output).toBe(0);
    },
    180_000,
  );

  it('passes under Vitest on the local stack (TEST_BACKEND=datastore-emulator)', async () => {
    const result = await inApp(app, 'npm', ['run', 'test:vitest'], { TEST_BACKEND: 'datastore-emulator' });
    expect(result.output).toMatch(/Tests\s+2 passed/);
    expect(result.code, result.output).toBe(0);
  }, 300_000);
});
