// Types of scripts/bundle-options.mjs for the TypeScript that imports it (test/setup/test-scripts.ts).
import type { BuildOptions } from 'esbuild';

export declare const BUNDLE_OPTIONS: Readonly<BuildOptions>;
