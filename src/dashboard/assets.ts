/** The dashboard's own static files (script modules, style sheet, icon), read once from the package and served with their hash as ETag. */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { join, relative, sep } from 'node:path';

/** One served file. */
export interface Asset {
  readonly body: Buffer;
  readonly type: string;
  readonly etag: string;
}

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/**
 * The folder of the assets: `assets/` beside this module in `src/`, or `dist/dashboard/assets/` seen from the bundled
 * chunk of `dist/` this code lands in (`dist/dashboard/` or `dist/chunks/`).
 */
export const ASSET_DIR =
  ['./assets/', '../dashboard/assets/']
    .map((path) => fileURLToPath(new URL(path, import.meta.url)))
    .find((dir) => existsSync(dir)) ?? fileURLToPath(new URL('./assets/', import.meta.url));

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await walk(path)));
    else out.push(path);
  }
  return out;
}

/** Every asset by its path under `assets/` (`app.js`, `views/overview.js`), and a version of them all for URLs. */
export async function loadAssets(dir = ASSET_DIR): Promise<{ files: Map<string, Asset>; version: string }> {
  const files = new Map<string, Asset>();
  const all = createHash('sha256');
  for (const path of (await walk(dir)).sort()) {
    const ext = path.slice(path.lastIndexOf('.'));
    const type = TYPES[ext];
    if (!type) continue; // only what the page loads
    const body = await readFile(path);
    const hash = createHash('sha256').update(body).digest('base64url').slice(0, 16);
    const name = relative(dir, path).split(sep).join('/');
    files.set(name, { body, type, etag: `"${hash}"` });
    all.update(name).update(hash);
  }
  return { files, version: all.digest('base64url').slice(0, 10) };
}
