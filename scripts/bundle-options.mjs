// The esbuild options every bundle of this package's code shares: the build's (scripts/bundle.mjs) and the test
// scripts' (test/setup/test-scripts.ts), so that tests run what the package ships. ESM for Node 20 and later, one
// copy of every module across entry points (code splitting, so `instanceof` holds between them), and packages left
// external (the app's own Google clients, never a copy bundled in).
export const BUNDLE_OPTIONS = Object.freeze({
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  chunkNames: 'chunks/[name]-[hash]',
  // Maps back to the sources (esbuild reads tsc's maps), for stack traces under --enable-source-maps.
  sourcemap: true,
  logLevel: 'warning',
});
