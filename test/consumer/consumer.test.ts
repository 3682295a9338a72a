// The packed library as a user's app gets it: installed next to the current (and the previous) Google client majors,
// one copy of each, type-checked strictly, and run on Node 22 and 24 against the local stack (test/consumer/app).
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startDatastoreEmulator, type RunningDatastoreEmulator } from 'cloud-deferred/local';
import { NPM_INSTALL, copiesOf, nodeBinary, npm, repoPackage, run } from './packed.js';

const appSource = fileURLToPath(new URL('./app', import.meta.url));

/**
 * The client majors an app may bring, and the Node versions each is run on: the current majors need Node 22; the
 * previous ones still run on Node 20 (out of support since April 2026), which is checked too.
 */
const MAJORS = [
  { name: 'current majors', datastore: '11', tasks: '7', nodes: ['22', '24'] },
  { name: 'previous majors', datastore: '10', tasks: '6', nodes: ['20', '22', '24'] },
] as const;

const { tarball, scratch } = inject('packed');
let emulator: RunningDatastoreEmulator;

beforeAll(async () => {
  emulator = await startDatastoreEmulator({ backend: 'datastore', projectId: 'consumer-app' });
}, 600_000);

afterAll(async () => {
  await emulator?.stop();
});

describe.each(MAJORS)('the packed library in a fresh app with the $name', (majors) => {
  let app: string;

  beforeAll(async () => {
    app = join(scratch, `app-datastore${majors.datastore}-tasks${majors.tasks}`);
    mkdirSync(app);
    writeFileSync(
      join(app, 'package.json'),
      JSON.stringify({ name: 'consumer-app', private: true, type: 'module' }, null, 2),
    );
    for (const file of ['main.ts', 'tsconfig.json']) copyFileSync(join(appSource, file), join(app, file));
    await npm(app, [
      ...NPM_INSTALL,
      tarball,
      `@google-cloud/datastore@${majors.datastore}`,
      `@google-cloud/tasks@${majors.tasks}`,
      `typescript@${repoPackage.devDependencies.typescript}`,
      '@types/node@22',
    ]);
  }, 600_000);

  it('installs one copy of each Google client and of google-gax: the app’s', () => {
    for (const name of ['@google-cloud/datastore', '@google-cloud/tasks', 'google-gax']) {
      const copies = copiesOf(app, name);
      expect(copies, `${name}: ${copies.join(', ')}`).toHaveLength(1);
      expect(copies[0]).toBe(join(app, 'node_modules', ...name.split('/')));
    }
    expect(existsSync(join(app, 'node_modules', 'cloud-deferred', 'node_modules', '@google-cloud'))).toBe(false);
  });

  it(`has @opentelemetry/api only where google-gax brings it (${majors.tasks === '6' ? 'not at all' : 'one copy'})`, () => {
    // cloud-deferred's own dependency on it is an optional peer: npm installs nothing for it.
    expect(copiesOf(app, '@opentelemetry/api')).toHaveLength(majors.tasks === '6' ? 0 : 1);
  });

  it('imports cloud-deferred without loading @opentelemetry/api; createDeferred loads it in the background when it is there', async () => {
    const log = join(app, 'resolved.log');
    writeFileSync(
      join(app, 'hooks.mjs'),
      `import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  if (result.url.includes('/node_modules/@opentelemetry/api/')) appendFileSync(${JSON.stringify(log)}, result.url + '\\n');
  return result;
}
`,
    );
    writeFileSync(
      join(app, 'register.mjs'),
      `import { register } from 'node:module';\nregister('./hooks.mjs', import.meta.url);\n`,
    );
    const script = `
import { existsSync } from 'node:fs';
const { createDeferred } = await import('cloud-deferred');
const afterImport = existsSync(${JSON.stringify(log)});
createDeferred({ projectId: 'p', location: 'l', secret: 'consumer-test-secret-0123456789', datastore: {}, tasks: {}, handlerUrl: 'http://127.0.0.1:1/_deferred' });
await new Promise((r) => setTimeout(r, 500));
console.log(JSON.stringify({ afterImport, afterCreate: existsSync(${JSON.stringify(log)}) }));
`;
    const node = await nodeBinary('22');
    const { stdout } = await run(node, ['--import', './register.mjs', '--input-type=module', '-e', script], {
      cwd: app,
      timeout: 60_000,
    });
    const seen = JSON.parse(stdout.trim().split('\n').pop()!) as { afterImport: boolean; afterCreate: boolean };
    expect(seen).toEqual({ afterImport: false, afterCreate: majors.tasks !== '6' });
  }, 120_000);

  it('imports cloud-deferred without loading the emulator, the local stack, the CLI, the jobs, the inspection helpers, jose, cron-parser or yargs', async () => {
    const log = join(app, 'loaded.log');
    writeFileSync(
      join(app, 'load-hooks.mjs'),
      `import { appendFileSync } from 'node:fs';
export async function load(url, context, next) {
  appendFileSync(${JSON.stringify(log)}, url + '\\n');
  return next(url, context);
}
`,
    );
    writeFileSync(
      join(app, 'register-load.mjs'),
      `import { register } from 'node:module';\nregister('./load-hooks.mjs', import.meta.url);\n`,
    );
    const node = await nodeBinary('22');
    await run(
      node,
      ['--import', './register-load.mjs', '--input-type=module', '-e', "await import('cloud-deferred');"],
      {
        cwd: app,
        timeout: 60_000,
      },
    );
    const loaded = readFileSync(log, 'utf8').trim().split('\n');
    const ours = loaded
      .map((url) => /\/node_modules\/cloud-deferred\/(dist\/.+)$/.exec(url)?.[1])
      .filter((path) => path !== undefined);
    // dist/ is bundled (scripts/bundle.mjs): the entry and the shared chunks it needs, a few files, not one per module.
    expect(ours).toContain('dist/index.js');
    expect(ours.length).toBeLessThan(30);
    // What those files define: the runtime and its handler, and none of what lives behind the other entry points.
    const code = ours.map((path) => readFileSync(join(app, 'node_modules', 'cloud-deferred', path), 'utf8')).join('\n');
    expect(code).toMatch(/\b(class|var) TaskExecutor\b/); // esbuild writes some classes as `var X = class`
    expect(code).toMatch(/\bfunction createDeferred\b/);
    const elsewhere =
      /\bfunction (startTasksEmulator|startLocalStack|startWorker|startDatastoreEmulator|defineMapper|defineRecurringJob|inventory|inventoryAll|inspectTask|createDashboard|createTestHarness|createMemoryTasks)\b/g;
    expect(code.match(elsewhere) ?? []).toEqual([]);
    expect(loaded.filter((url) => /\/node_modules\/(jose|cron-parser|yargs)\//.test(url))).toEqual([]);
  }, 120_000);

  it('type-checks the app, which passes its own clients without a cast, under tsc --strict', async () => {
    const result = await run(join(app, 'node_modules', '.bin', 'tsc'), ['-p', app], { cwd: app }).catch(
      (error: { stdout: string; stderr: string }) => error,
    );
    expect(`${result.stdout}${result.stderr}`).toBe('');
    expect(existsSync(join(app, 'dist', 'main.js'))).toBe(true);
  }, 120_000);

  it('answers an import of the emulator from the production entry with a TypeScript error naming it', async () => {
    const moved = join(app, 'moved');
    mkdirSync(moved);
    // The app's own compiler options (strict, NodeNext), on one file.
    writeFileSync(
      join(moved, 'tsconfig.json'),
      JSON.stringify({ extends: '../tsconfig.json', compilerOptions: { noEmit: true }, include: ['moved.ts'] }),
    );
    const typeCheck = (line: string) => {
      writeFileSync(join(moved, 'moved.ts'), `${line}\nvoid startTasksEmulator;\n`);
      return run(join(app, 'node_modules', '.bin', 'tsc'), ['-p', moved], { cwd: app }).then(
        () => '',
        (error: { stdout: string; stderr: string }) => `${error.stdout}${error.stderr}`,
      );
    };
    expect(await typeCheck("import { startTasksEmulator } from 'cloud-deferred';")).toMatch(
      /TS2305: Module '"cloud-deferred"' has no exported member 'startTasksEmulator'/,
    );
    expect(await typeCheck("import { startTasksEmulator } from 'cloud-deferred/emulator';")).toBe('');
  }, 120_000);

  it.each(majors.nodes)(
    'runs on Node %s: inline, transactional (committed and rolled back), 2 MB spilled, chained, a Key saved as a key, a sweep by its clients',
    async (major) => {
      const node = await nodeBinary(major);
      const env: NodeJS.ProcessEnv = {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        DATASTORE_EMULATOR_HOST: emulator.endpoint,
        GOOGLE_CLOUD_PROJECT: 'consumer-app',
        APP_NAMESPACE: `consumer-d${majors.datastore}-n${major}-${process.pid}`,
      };
      const result = await run(node, [join(app, 'dist', 'main.js')], { cwd: app, env, timeout: 120_000 }).catch(
        (error: { stdout: string; stderr: string }) => error,
      );
      const line = result.stdout.trim().split('\n').pop() ?? '';
      const report = JSON.parse(line || '{}') as { node?: string; ok?: boolean; checks?: Record<string, unknown> };
      expect(report.node, result.stderr).toMatch(new RegExp(`^v${major}\\.`));
      expect(report.checks).toBeDefined();
      for (const [name, value] of Object.entries(report.checks!)) expect(value, name).toBe(true);
      expect(report.ok).toBe(true);
      // No noise from the clients pointed at the emulators: no metadata-server probe, no deprecation warnings of ours.
      expect(result.stderr).not.toMatch(/MetadataLookupWarning/);
    },
    180_000,
  );
});
