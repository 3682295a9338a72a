// Bundles the compiled `dist/` into its entry points (package.json's exports and bin) and shared chunks, so that an
// import loads a few files instead of one per module (Node's cost at a cold start is per module). Code splitting
// keeps one copy of every module across the entry points (`instanceof` holds between them); packages stay external
// (the app's own clients). The `.d.ts` files tsc wrote stay as they are.
import { build } from 'esbuild';
import { cpSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { BUNDLE_OPTIONS } from './bundle-options.mjs';

const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
const entryPoints = [...Object.values(pkg.exports).map((target) => target.import), ...Object.values(pkg.bin)].map(
  (path) => path.replace(/^\.\//, ''),
);

const out = 'dist-bundle';
rmSync(out, { recursive: true, force: true });
await build({
  ...BUNDLE_OPTIONS,
  entryPoints,
  outdir: out,
  outbase: 'dist',
});

/** Every `.js` file tsc wrote (and its map) is replaced by the bundle's files. */
function removeJs(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) {
      if (name !== 'assets') removeJs(path);
    } else if (name.endsWith('.js') || name.endsWith('.js.map')) rmSync(path);
  }
}
removeJs('dist');
cpSync(out, 'dist', { recursive: true });
rmSync(out, { recursive: true, force: true });
