// The unit project's guard (test/setup/unit-no-emulators.ts): a unit test that reaches for an emulator fails at once.
import { describe, expect, it } from 'vitest';
import { startTasksEmulator } from 'cloud-deferred/emulator';
import { startDatastoreEmulator } from 'cloud-deferred/local';
import { describeStorage, emulators } from '../support/backends.js';

describe('unit project set-up', () => {
  it('refuses to start a Datastore or Cloud Tasks emulator, saying where the test belongs', () => {
    expect(() => startDatastoreEmulator()).toThrow(
      /in a unit test: test\/unit\/ runs without emulators.*Move the file out of test\/unit\//,
    );
    expect(() => startTasksEmulator()).toThrow(/in a unit test: test\/unit\/ runs without emulators/);
  });

  it('has no emulators to inject: emulators() and describeStorage() throw instead of declaring nothing', () => {
    expect(() => emulators()).toThrow(/no emulators in this run: test\/unit\/ runs without them/);
    expect(() => describeStorage('anything', () => {})).toThrow(/no emulators in this run/);
  });
});
