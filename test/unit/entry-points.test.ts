// The package's entry points: what the production entry `cloud-deferred` loads at import (nothing of the emulator,
// the local stack, the CLI, the jobs, the inspection helpers or the sweeping itself: cold starts count), and the
// subpath exports agreeing in package.json, tsconfig.json, vitest.config.ts and the README.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { PACKAGE_ENTRY_POINTS } from '../../vitest.config.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** Type-only imports and re-exports, which TypeScript erases: they load nothing. */
const TYPE_ONLY = /\b(?:import|export)\s+type\s+(?:\{[^}]*\}|\*(?:\s+as\s+\w+)?|\w+)\s*from\s*['"][^'"]+['"]/g;

/** The modules a source file loads when it is evaluated: static imports and re-exports, not `import()`. */
function staticImports(text: string): string[] {
  const code = text.replace(TYPE_ONLY, '').replace(/\bimport\s*\(/g, 'dynamic(');
  return [...code.matchAll(/(?:\bfrom\s*|^\s*import\s+)['"]([^'"]+)['"]/gm)].map((m) => m[1]!);
}

/** What importing `entry` loads: its source files (relative to the repo) and the packages they import. */
function loadedBy(entry: string): { files: string[]; packages: string[] } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string) => {
    if (files.has(file)) return;
    files.add(file);
    for (const specifier of staticImports(readFileSync(file, 'utf8'))) {
      if (specifier.startsWith('node:')) continue;
      if (!specifier.startsWith('.')) {
        packages.add(specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0]!);
        continue;
      }
      const target = resolve(dirname(file), specifier).replace(/\.js$/, '.ts');
      expect(existsSync(target), `${file} imports ${specifier}, which is no file`).toBe(true);
      visit(target);
    }
  };
  visit(join(root, entry));
  return { files: [...files].map((f) => f.slice(root.length)).sort(), packages: [...packages].sort() };
}

const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  exports: Record<string, { types: string; import: string }>;
};
const tsconfig = JSON.parse(readFileSync(join(root, 'tsconfig.json'), 'utf8')) as {
  compilerOptions: { paths: Record<string, string[]> };
};

/** Each subpath export's source file, from its `import` target (`./dist/x/index.js` -> `src/x/index.ts`). */
const entryPoints = Object.entries(manifest.exports).map(([subpath, target]) => ({
  name: subpath === '.' ? 'cloud-deferred' : `cloud-deferred/${subpath.slice(2)}`,
  source: target.import.replace(/^\.\/dist\//, 'src/').replace(/\.js$/, '.ts'),
  target,
}));

describe('the package entry points', () => {
  it('has the production entry and the subpaths emulator, local, jobs, inspect, testing and dashboard', () => {
    expect(entryPoints.map((e) => e.name).sort()).toEqual(
      [
        'cloud-deferred',
        'cloud-deferred/dashboard',
        'cloud-deferred/emulator',
        'cloud-deferred/inspect',
        'cloud-deferred/jobs',
        'cloud-deferred/local',
        'cloud-deferred/testing',
      ].sort(),
    );
    for (const { name, source, target } of entryPoints) {
      expect(existsSync(join(root, source)), `${name}: ${source}`).toBe(true);
      expect(target.types, name).toBe(target.import.replace(/\.js$/, '.d.ts'));
    }
  });

  it('resolves each by package name to its source in tsconfig.json (paths) and vitest.config.ts (aliases)', () => {
    const expected = Object.fromEntries(entryPoints.map(({ name, source }) => [name, `./${source}`]));
    expect(PACKAGE_ENTRY_POINTS).toEqual(expected);
    expect(tsconfig.compilerOptions.paths).toEqual(
      Object.fromEntries(entryPoints.map(({ name, source }) => [name, [`./${source}`]])),
    );
  });

  it('the production entry loads none of the emulator, the local stack, the CLI, the jobs, testing, the dashboard', () => {
    const { files, packages } = loadedBy('src/index.ts');
    expect(files).toContain('src/runtime/deferred-runtime.ts');
    expect(files).toContain('src/handler/execute.ts');
    expect(files).toContain('src/sweeper/distributed.ts');
    const elsewhere = files.filter((f) => /^src\/(tasks-emulator|local-stack|cli|jobs|testing|dashboard)\//.test(f));
    expect(elsewhere, 'the production entry loads these at import; move them behind a subpath export').toEqual([]);
    // The inspection helpers (cloud-deferred/inspect) and the sweeping itself (loaded by the first sweep).
    const sweeping = files.filter((f) =>
      /^src\/sweeper\/(inventory|inspect-task|inspection|sweep-all|sweep-shard|sweep-namespaces|shard-\w+|locate|guarded-delete)\.ts$/.test(
        f,
      ),
    );
    expect(sweeping, 'loaded at import; the production path loads these on first use (sweeper/on-demand.ts)').toEqual(
      [],
    );
    // The failure ledger's operations (loaded by its first call: failures/failure-ledger.ts).
    const ledger = files.filter((f) => /^src\/failures\/(list|read|retry|discard)-failed\.ts$/.test(f));
    expect(ledger, 'loaded at import; the failure ledger loads these on first use').toEqual([]);
    // Only what every process needs; jose loads when an OIDC verifier is made, cron-parser with the first cron schedule.
    expect(packages).toEqual(['@google-cloud/datastore', '@google-cloud/tasks', 'p-limit']);
  });

  it('the subpaths load what they are for', () => {
    expect(loadedBy('src/tasks-emulator/index.ts').files).toContain('src/tasks-emulator/server.ts');
    expect(loadedBy('src/local-stack/index.ts').files).toContain('src/local-stack/stack.ts');
    expect(loadedBy('src/jobs/index.ts').files).toContain('src/jobs/recurring.ts');
    // cron-parser (20-30 ms of start-up) is required by the first cron schedule (src/jobs/schedule.ts), not imported.
    expect(loadedBy('src/jobs/index.ts').packages).not.toContain('cron-parser');
    expect(loadedBy('src/sweeper/inspection.ts').files).toContain('src/sweeper/inspect-task.ts');
    expect(loadedBy('src/cli/main.ts').packages).toContain('yargs');
  });

  it('the CLI loads a command module only when it is run: `deferred --help` loads none, nor the Google clients', () => {
    const { files, packages } = loadedBy('src/cli/main.ts');
    expect(packages).toEqual(['yargs']);
    expect(files.filter((f) => /^src\/(cli\/commands|clients|runtime|store)\//.test(f))).toEqual([]);
    expect(files).toContain('src/cli/command-summaries.ts');
  });

  it('tells a type-only import from one that loads a module (the check itself)', () => {
    expect(
      staticImports(
        [
          "import type { A } from './a.js';",
          "export type {\n  B,\n  C,\n} from './b.js';",
          "import { d } from './d.js';",
          "export { e } from './e.js';",
          "const f = await import('./f.js');",
          "import './g.js';",
        ].join('\n'),
      ),
    ).toEqual(['./d.js', './e.js', './g.js']);
  });

  it('the README says where each entry point is documented: every subpath in its table', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    for (const { name } of entryPoints) expect(readme, name).toContain(`| \`${name}\``);
  });
});
