// Global set-up of `npm run test:consumer`: builds and packs the library once for every consumer test, in a scratch
// folder outside the repository, removed at the end.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { packLibrary } from './packed.js';

declare module 'vitest' {
  export interface ProvidedContext {
    packed: { tarball: string; scratch: string };
  }
}

export default async function setup(project: TestProject) {
  const scratch = mkdtempSync(join(tmpdir(), 'cloud-deferred-consumer-'));
  try {
    project.provide('packed', { tarball: await packLibrary(scratch), scratch });
  } catch (error) {
    rmSync(scratch, { recursive: true, force: true });
    throw error;
  }
  return () => rmSync(scratch, { recursive: true, force: true });
}
