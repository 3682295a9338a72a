// The testing entry point is its own subpath export (`cloud-deferred/testing`): the production entry never loads it,
// and the README shows the example app and its tests as they are in examples/testing.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** Every source file reachable from `entry` through relative imports and re-exports, static or dynamic. */
function reachable(entry: string): Set<string> {
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const text = readFileSync(file, 'utf8');
    const specifiers = [...text.matchAll(/(?:from|import\()\s*['"](\.{1,2}\/[^'"]+)['"]/g)].map((m) => m[1]!);
    for (const specifier of specifiers) {
      const target = resolve(dirname(file), specifier).replace(/\.js$/, '.ts');
      if (existsSync(target)) visit(target);
    }
  };
  visit(entry);
  return seen;
}

describe('cloud-deferred/testing entry point', () => {
  it('is a subpath export of its own, which the production entry does not load', () => {
    const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
      exports: Record<string, { types: string; import: string }>;
    };
    expect(manifest.exports['./testing']).toEqual({
      types: './dist/testing/index.d.ts',
      import: './dist/testing/index.js',
    });
    const production = [...reachable(join(root, 'src/index.ts'))].map((f) => f.slice(root.length));
    expect(production.length).toBeGreaterThan(20);
    expect(production.filter((f) => f.startsWith('src/testing/'))).toEqual([]);
    const testing = [...reachable(join(root, 'src/testing/index.ts'))].map((f) => f.slice(root.length));
    expect(testing).toContain('src/testing/memory-datastore/store.ts');
  });

  it('the README shows examples/testing verbatim', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    for (const file of [
      'src/orders.ts',
      'test/orders.vitest.test.ts',
      'test/orders.jest.test.ts',
      'test/orders.node.test.ts',
    ]) {
      const text = readFileSync(join(root, 'examples/testing', file), 'utf8');
      expect(readme, `README.md must include examples/testing/${file} verbatim in a ts block`).toContain(
        `\`\`\`ts\n${text}\`\`\``,
      );
    }
  });
});
