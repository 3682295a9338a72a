// Tests of the local stack launcher: one-line prerequisite errors, and no emulator process outliving an interrupted run.
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PrerequisiteMissingError } from '../src/errors/index.js';
import { startDatastoreEmulator } from '../src/local-stack/index.js';
import { freePort, launchDatastoreEmulator } from '../src/local-stack/datastore-emulator.js';
import { sessionMembers } from '../src/local-stack/process-group.js';
import { nodeArgs } from './support/test-scripts.js';

async function expectOneLineError(promise: Promise<unknown>, mentions: RegExp) {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(PrerequisiteMissingError);
  const message = (error as Error).message;
  expect(message).not.toContain('\n');
  expect(message).toMatch(mentions);
}

describe('startDatastoreEmulator prerequisites', () => {
  it('names the Google Cloud CLI when gcloud is missing', async () => {
    await expectOneLineError(
      startDatastoreEmulator({ gcloudPath: '/nonexistent/bin/gcloud' }),
      /Google Cloud CLI.*install/,
    );
  });

  it('names the component when the emulator is not installed', async () => {
    const sdk = mkdtempSync(join(tmpdir(), 'fake-sdk-'));
    try {
      mkdirSync(join(sdk, 'bin'));
      writeFileSync(join(sdk, 'bin', 'gcloud'), '#!/bin/sh\nexit 1\n');
      chmodSync(join(sdk, 'bin', 'gcloud'), 0o755);
      await expectOneLineError(
        startDatastoreEmulator({ backend: 'firestore', gcloudPath: join(sdk, 'bin', 'gcloud') }),
        /gcloud components install cloud-firestore-emulator/,
      );
    } finally {
      rmSync(sdk, { recursive: true, force: true });
    }
  });

  it('names Java when it is missing', async () => {
    await expectOneLineError(startDatastoreEmulator({ javaPath: '/nonexistent/java' }), /Java not found.*Java 11\+/);
  });
});

/** Runs the hold-emulator fixture in a child Node process and resolves with its emulator's session id and folder. */
function startChild(backend: string, mode?: 'graceful') {
  const child = spawn(process.execPath, nodeArgs('hold-emulator', mode ? [backend, mode] : [backend]), {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  const started = new Promise<{ sid: number; dir: string }>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /SID (\d+) DIR (\S+)\n/.exec(out);
      if (match) resolve({ sid: Number(match[1]), dir: match[2]! });
    });
    child.on('exit', (code) => reject(new Error(`fixture exited early with ${code}`)));
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, started, exited, output: () => out };
}

async function waitUntilGone(sid: number, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (sessionMembers(sid).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  return sessionMembers(sid);
}

describe('startDatastoreEmulator clean-up', () => {
  it('leaves no emulator process and no scratch folder when the run is interrupted with SIGINT', async () => {
    const run = startChild('datastore');
    const { sid, dir } = await run.started;
    expect(sessionMembers(sid).length).toBeGreaterThan(1); // watchdog, gcloud, JVM
    expect(existsSync(dir)).toBe(true);
    run.child.kill('SIGINT');
    await run.exited;
    expect(await waitUntilGone(sid, 10_000)).toEqual([]);
    expect(existsSync(dir)).toBe(false); // removed by the exiting process itself
  });

  it("lets the app's own SIGINT handler still use the emulator and stop it; nothing is left after it exits", async () => {
    const run = startChild('datastore', 'graceful');
    const { sid, dir } = await run.started;
    run.child.kill('SIGINT');
    expect(await run.exited).toBe(0);
    expect(run.output()).toContain('WROTE\n'); // its write after the signal reached the emulator
    expect(await waitUntilGone(sid, 10_000)).toEqual([]);
    expect(existsSync(dir)).toBe(false);
  });

  it('leaves no emulator process and no scratch folder when the run is killed outright (SIGKILL)', async () => {
    const run = startChild('firestore');
    const { sid, dir } = await run.started;
    expect(sessionMembers(sid).length).toBeGreaterThan(1);
    expect(existsSync(dir)).toBe(true);
    run.child.kill('SIGKILL');
    await run.exited;
    // The watchdog notices within a second and kills the session (TERM, then KILL two seconds later), then removes
    // the folder and ends itself.
    expect(await waitUntilGone(sid, 15_000)).toEqual([]);
    expect(existsSync(dir)).toBe(false);
  });
});

describe('startDatastoreEmulator ports', () => {
  it('starts again on another free port when the one it picked is taken before the emulator binds it', async () => {
    // A port held by someone else, handed out as if it were free (what a race with another process looks like).
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const taken = (holder.address() as AddressInfo).port;
    const handedOut: number[] = [];
    const ports = [taken];
    try {
      const emulator = await launchDatastoreEmulator({ backend: 'datastore' }, async () => {
        const port = ports.shift() ?? (await freePort());
        handedOut.push(port);
        return port;
      });
      try {
        expect(handedOut[0]).toBe(taken);
        expect(handedOut).toHaveLength(2);
        expect(emulator.port).toBe(handedOut[1]);
      } finally {
        await emulator.stop();
      }
      // A port the caller chose is tried once: the error names the conflict.
      await expect(startDatastoreEmulator({ backend: 'datastore', port: taken })).rejects.toMatchObject({
        code: 'EMULATOR_START_FAILED',
        output: expect.stringMatching(/BindException|Address already in use/),
      });
    } finally {
      holder.close();
    }
  });
});
