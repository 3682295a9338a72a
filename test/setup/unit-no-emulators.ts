// Set-up of the unit project: it has no emulators, so a unit test that reaches for one fails at once, naming the fix.
import { vi } from 'vitest';

function refuse(what: string): never {
  throw new Error(
    `${what} in a unit test: test/unit/ runs without emulators (no global set-up, no lock). Move the file out of test/unit/ into the integration project, or test the pure logic only.`,
  );
}

vi.mock('../../src/local-stack/datastore-emulator.js', async (importOriginal) => ({
  ...(await importOriginal<typeof import('../../src/local-stack/datastore-emulator.js')>()),
  startDatastoreEmulator: () => refuse('startDatastoreEmulator()'),
}));

vi.mock('../../src/tasks-emulator/server.js', async (importOriginal) => ({
  ...(await importOriginal<typeof import('../../src/tasks-emulator/server.js')>()),
  startTasksEmulator: () => refuse('startTasksEmulator()'),
}));
