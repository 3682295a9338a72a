// Bundles the scripts that integration tests run as child processes (the `deferred` CLI, the fault and emulator
// fixtures) once per test run, so that each child is a plain `node` start instead of tsx compiling every module again.
import { cpSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { BUNDLE_OPTIONS } from '../../scripts/bundle-options.mjs';

/** The scripts, by name, and their sources (relative to the checkout). */
export const TEST_SCRIPTS = {
  cli: 'src/cli/main.ts',
  'fault-process': 'test/fixtures/fault-process.ts',
  'hold-emulator': 'test/fixtures/hold-emulator.ts',
} as const;

export type TestScript = keyof typeof TEST_SCRIPTS;

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * Bundles every script of {@link TEST_SCRIPTS} with esbuild into a fresh folder of this run under
 * `node_modules/.cache/` (git-ignored; `remove` deletes it), with the build's options (scripts/bundle-options.mjs):
 * packages stay external, so the children load the app's Google clients from node_modules; the dashboard's assets are
 * copied where the bundled code looks for them (`../dashboard/assets/`, as in `dist/`). Built from the sources every
 * run, never kept from an earlier one. The scripts are `<dir>/bin/<name>.mjs`.
 */
export async function buildTestScripts(): Promise<{ dir: string; remove: () => void }> {
  const dir = join(ROOT, 'node_modules', '.cache', 'cloud-deferred-test', `scripts-${process.pid}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  await build({
    ...BUNDLE_OPTIONS,
    absWorkingDir: ROOT,
    entryPoints: Object.fromEntries(Object.entries(TEST_SCRIPTS).map(([name, source]) => [`bin/${name}`, source])),
    outdir: dir,
    // `.mjs`: under node_modules/ no package.json says `"type": "module"`.
    outExtension: { '.js': '.mjs' },
  });
  cpSync(join(ROOT, 'src', 'dashboard', 'assets'), join(dir, 'dashboard', 'assets'), { recursive: true });
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
