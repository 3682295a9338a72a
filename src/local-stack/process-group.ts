/** Spawning a child in its own session and stopping every process of that session, even when our process is interrupted or dies. */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';

/**
 * A running session whose leader we spawned. We track the session rather than the process group because `gcloud`
 * moves itself into a process group of its own; every descendant still shares the session id.
 */
export interface ProcessSession {
  /** Process id of the session leader (also the session id). */
  readonly pid: number;
  readonly child: ChildProcess;
  /** Kills every process of the session (SIGTERM, then SIGKILL after `graceMs`) and resolves once none is left. */
  stop(graceMs?: number): Promise<void>;
}

/** Sessions not yet stopped, each with the folder removed once it is gone (or null). */
const live = new Map<number, string | null>();

/** Removes a session's folder; best effort (a process still dying may hold a file for a moment). */
function removeFolder(folder: string | null): void {
  if (folder === null) return;
  try {
    rmSync(folder, { recursive: true, force: true, maxRetries: 3, retryDelay: 50 });
  } catch {
    /* the watchdog removes it too once the session is gone */
  }
}

/** Kills every live session at once (SIGKILL) and removes their folders: what an exiting process can still do. */
function killAllNow(): void {
  for (const [sid, folder] of live) {
    signalSession(sid, 'SIGKILL');
    removeFolder(folder);
  }
  live.clear();
}
let hooksInstalled = false;

/** Live (non-zombie) process ids whose session id is `sid`. Linux: read from /proc. */
export function sessionMembers(sid: number): number[] {
  const members: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // Fields after the parenthesised command: state ppid pgrp session ...
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (fields[0] !== 'Z' && fields[0] !== 'X' && Number(fields[3]) === sid) members.push(Number(entry));
    } catch {
      /* the process ended while we looked */
    }
  }
  return members;
}

function signalSession(sid: number, signal: NodeJS.Signals): void {
  for (const pid of sessionMembers(sid)) {
    try {
      process.kill(pid, signal);
    } catch {
      /* already gone */
    }
  }
}

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  // Synchronous last resort: on any exit, kill what is left.
  process.on('exit', killAllNow);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      // Someone else handles the signal too (a graceful stop, as `deferred dev` makes: its worker finishes what it is
      // writing before the emulators stop): theirs to stop them in order; the exit hook kills what is left.
      if (process.listenerCount(signal) > 1) return;
      // Nobody else: behave as if we had not handled the signal, with nothing of ours left behind.
      killAllNow();
      process.exit(signal === 'SIGINT' ? 130 : signal === 'SIGTERM' ? 143 : 129);
    });
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Starts `command args` in a new session, under a tiny `sh` watchdog that kills the session if this Node process
 * disappears without cleaning up (SIGKILL, crash). Output is piped so callers can show it on failure. `folder` (the
 * command's scratch folder) is removed once the session is gone: by `stop()`, by this process's exit and signal hooks,
 * or by the watchdog when this process was killed outright.
 */
export function spawnSession(
  command: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
  folder: string | null = null,
): ProcessSession {
  // The watchdog shell leads the session: it runs the command in the background, then polls our pid; when we are gone
  // (or the command ended) it kills every process of its session, itself last, after removing the folder (if any).
  const script = [
    'folder=$1; shift',
    '"$@" &',
    'child=$!',
    `while kill -0 ${process.pid} 2>/dev/null && kill -0 $child 2>/dev/null; do sleep 1; done`,
    'for sig in TERM KILL; do',
    '  for stat in /proc/[0-9]*/stat; do',
    '    pid=${stat#/proc/}; pid=${pid%/stat}',
    '    [ "$pid" = "$$" ] && continue',
    '    set -- $(sed "s/.*) //" "$stat" 2>/dev/null)',
    '    [ "$4" = "$$" ] && kill -$sig "$pid" 2>/dev/null',
    '  done',
    '  sleep 2',
    'done',
    '[ -n "$folder" ] && rm -rf -- "$folder"',
  ].join('\n');
  const child = spawn('/bin/sh', ['-c', script, 'watchdog', folder ?? '', command, ...args], {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env,
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not spawn ${command}`);
  live.set(pid, folder);
  installHooks();
  return {
    pid,
    child,
    async stop(graceMs = 5000) {
      signalSession(pid, 'SIGTERM');
      const deadline = Date.now() + graceMs;
      while (sessionMembers(pid).length > 0 && Date.now() < deadline) await sleep(50);
      const hardDeadline = Date.now() + 5000;
      while (sessionMembers(pid).length > 0 && Date.now() < hardDeadline) {
        signalSession(pid, 'SIGKILL');
        await sleep(50);
      }
      live.delete(pid);
      removeFolder(folder);
      child.stdout?.destroy();
      child.stderr?.destroy();
    },
  };
}
