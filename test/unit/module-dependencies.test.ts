// How the modules of src/ depend on each other: no import cycle, and only the directions the README's design section
// draws (its diagram). A new dependency that breaks them fails here, naming the file and the import.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

/**
 * What each module (a folder of src/, or a file at its top) may import, besides itself. `runtime/services` is the seam
 * for modules built on a runtime instance; nothing else of `runtime/` is theirs to import.
 */
const ALLOWED: Record<string, readonly string[]> = {
  errors: [],
  util: ['errors'],
  codec: ['errors', 'util'],
  clients: ['errors'],
  types: ['codec'],
  store: ['errors', 'util', 'codec', 'types'],
  core: ['errors', 'util', 'codec', 'store', 'types'],
  defer: ['errors', 'util', 'codec', 'store', 'core', 'types'],
  handler: ['errors', 'util', 'codec', 'store', 'core', 'types'],
  failures: ['errors', 'util', 'codec', 'store', 'core', 'defer', 'types'],
  runtime: ['errors', 'util', 'codec', 'clients', 'store', 'core', 'defer', 'handler', 'failures', 'types'],
  jobs: ['errors', 'util', 'codec', 'store', 'core', 'runtime/services', 'types'],
  sweeper: ['errors', 'util', 'codec', 'store', 'core', 'runtime/services', 'types'],
  'tasks-emulator': ['errors', 'util', 'clients'],
  'local-stack': ['errors', 'util', 'clients', 'core', 'runtime', 'sweeper', 'tasks-emulator', 'types'],
  dashboard: ['errors', 'util', 'codec', 'store', 'core', 'runtime', 'jobs', 'sweeper', 'types'],
  testing: [
    'errors',
    'util',
    'codec',
    'clients',
    'store',
    'core',
    'runtime/services',
    'sweeper',
    'tasks-emulator',
    'local-stack',
    'types',
  ],
  cli: ['*'],
  index: ['*'],
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** The relative imports of a file (static, re-exports, dynamic, type-only too), resolved to files of src/. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const found: string[] = [];
  for (const match of text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)['"](\.{1,2}\/[^'"]+)['"]/gm)) {
    found.push(resolve(dirname(file), match[1]!.replace(/\.js$/, '.ts')));
  }
  return found;
}

/** `core`, `runtime/services`, `index`: the module a file belongs to, and the file's name inside it. */
function moduleOf(file: string): { module: string; path: string } {
  const path = relative(SRC, file).replace(/\.ts$/, '');
  const slash = path.indexOf('/');
  return { module: slash < 0 ? path : path.slice(0, slash), path };
}

function allowed(from: string, to: string): boolean {
  const source = moduleOf(from);
  const target = moduleOf(to);
  if (source.module === target.module) return true;
  const rules = ALLOWED[source.module];
  if (!rules) return false;
  return rules.includes('*') || rules.includes(target.module) || rules.includes(target.path);
}

/** The strongly connected components with more than one file (Tarjan), each a cycle of imports. */
function cycles(graph: Map<string, string[]>): string[][] {
  let index = 0;
  const stack: string[] = [];
  const state = new Map<string, { index: number; low: number; onStack: boolean }>();
  const found: string[][] = [];
  const visit = (node: string) => {
    const own = { index, low: index, onStack: true };
    index++;
    state.set(node, own);
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      const seen = state.get(next);
      if (!seen) {
        visit(next);
        own.low = Math.min(own.low, state.get(next)!.low);
      } else if (seen.onStack) own.low = Math.min(own.low, seen.index);
    }
    if (own.low === own.index) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        state.get(member)!.onStack = false;
        component.push(member);
      } while (member !== node);
      if (component.length > 1) found.push(component.map((f) => relative(SRC, f)).sort());
    }
  };
  for (const node of graph.keys()) if (!state.has(node)) visit(node);
  return found;
}

describe('src/ module dependencies', () => {
  const files = sourceFiles(SRC);
  const graph = new Map(files.map((file) => [file, importsOf(file)]));

  it('every relative import names a file of src/', () => {
    const known = new Set(files);
    const missing = [...graph].flatMap(([file, imports]) =>
      imports
        .filter((target) => !known.has(target))
        .map((target) => `${relative(SRC, file)} -> ${relative(SRC, target)}`),
    );
    expect(missing).toEqual([]);
  });

  it('has no import cycle (type-only imports count: they tie the modules together all the same)', () => {
    expect(cycles(graph)).toEqual([]);
  });

  it('imports only in the directions of the design (defer/ and handler/ below the composition root in runtime/)', () => {
    const modules = new Set(files.map((file) => moduleOf(file).module));
    expect([...modules].filter((module) => !(module in ALLOWED))).toEqual([]);
    const forbidden = [...graph].flatMap(([file, imports]) =>
      imports
        .filter((target) => !allowed(file, target))
        .map((target) => `${relative(SRC, file)} -> ${relative(SRC, target)}`),
    );
    expect(forbidden).toEqual([]);
  });

  it('names each file once (index.ts aside), so a name sends a reader to one file', () => {
    const byName = new Map<string, string[]>();
    for (const file of files) {
      const name = file.slice(file.lastIndexOf('/') + 1);
      if (name !== 'index.ts') byName.set(name, [...(byName.get(name) ?? []), relative(SRC, file)]);
    }
    expect([...byName.values()].filter((paths) => paths.length > 1)).toEqual([]);
  });

  it('finds a cycle and a forbidden import when there is one (the check itself)', () => {
    const a = join(SRC, 'defer/a.ts');
    const b = join(SRC, 'defer/b.ts');
    expect(
      cycles(
        new Map([
          [a, [b]],
          [b, [a]],
        ]),
      ),
    ).toEqual([['defer/a.ts', 'defer/b.ts']]);
    expect(allowed(join(SRC, 'handler/execute.ts'), join(SRC, 'defer/enqueue.ts'))).toBe(false);
    expect(allowed(join(SRC, 'sweeper/distributed.ts'), join(SRC, 'runtime/deferred-runtime.ts'))).toBe(false);
    expect(allowed(join(SRC, 'sweeper/distributed.ts'), join(SRC, 'runtime/services.ts'))).toBe(true);
    expect(allowed(join(SRC, 'testing/harness.ts'), join(SRC, 'runtime/deferred-runtime.ts'))).toBe(false);
  });
});
