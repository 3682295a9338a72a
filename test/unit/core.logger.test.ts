// The one logging model: jsonLogger, silentLogger, MemoryLogger and the runtime's never-throwing log().
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { log } from '../../src/core/logger.js';
import { MemoryLogger, jsonLogger, silentLogger } from '../../src/index.js';

describe('jsonLogger', () => {
  afterEach(() => vi.restoreAllMocks());

  it('writes one JSON object per line, stdout below WARNING and stderr from WARNING', () => {
    const out = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const logger = jsonLogger();
    logger.write({ severity: 'DEBUG', message: 'a', task: 't' });
    logger.write({ severity: 'NOTICE', message: 'b' });
    logger.write({ severity: 'WARNING', message: 'c' });
    logger.write({ severity: 'CRITICAL', message: 'd' });
    expect(out.mock.calls.map(([line]) => line)).toEqual([
      '{"severity":"DEBUG","message":"a","task":"t"}\n',
      '{"severity":"NOTICE","message":"b"}\n',
    ]);
    expect(err.mock.calls.map(([line]) => line)).toEqual([
      '{"severity":"WARNING","message":"c"}\n',
      '{"severity":"CRITICAL","message":"d"}\n',
    ]);
  });

  it('drops entries below minSeverity, adds fields before the entry, and writes all to a given stream', () => {
    const lines: string[] = [];
    const logger = jsonLogger({
      minSeverity: 'INFO',
      fields: { component: 'cloud-deferred/sweeper', event: 'default' },
      stream: { write: (line: string) => lines.push(line) },
    });
    logger.write({ severity: 'DEBUG', message: 'dropped' });
    logger.write({ severity: 'INFO', message: 'kept', event: 'shard-done' });
    logger.write({ severity: 'ERROR', message: 'also here' });
    expect(lines.map((line) => JSON.parse(line))).toEqual([
      { component: 'cloud-deferred/sweeper', event: 'shard-done', severity: 'INFO', message: 'kept' },
      { component: 'cloud-deferred/sweeper', event: 'default', severity: 'ERROR', message: 'also here' },
    ]);
  });
});

describe('jsonLogger({ batch: true })', () => {
  afterEach(() => vi.restoreAllMocks());
  const turn = () => new Promise((resolve) => setImmediate(resolve));

  it('writes the lines of one event-loop turn as one write per stream, in order, and nothing before the turn ends', async () => {
    const out = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const logger = jsonLogger({ batch: true });
    logger.write({ severity: 'INFO', message: 'a' });
    logger.write({ severity: 'ERROR', message: 'b' });
    logger.write({ severity: 'INFO', message: 'c' });
    expect(out).not.toHaveBeenCalled();
    await turn();
    expect(out.mock.calls.map(([text]) => text)).toEqual([
      '{"severity":"INFO","message":"a"}\n{"severity":"INFO","message":"c"}\n',
    ]);
    expect(err.mock.calls.map(([text]) => text)).toEqual(['{"severity":"ERROR","message":"b"}\n']);
    logger.write({ severity: 'INFO', message: 'd' });
    await turn();
    expect(out).toHaveBeenCalledTimes(2);
    expect(out.mock.calls[1]![0]).toBe('{"severity":"INFO","message":"d"}\n');
  });

  it('writes at once when a turn has buffered 64 KiB, and to a given stream for every severity', async () => {
    const writes: string[] = [];
    const logger = jsonLogger({ batch: true, stream: { write: (text: string) => writes.push(text) } });
    const message = 'x'.repeat(1000);
    for (let i = 0; i < 70; i++) logger.write({ severity: i % 2 ? 'ERROR' : 'INFO', message, i });
    expect(writes).toHaveLength(1); // the first 64 KiB, without waiting for the turn
    await turn();
    expect(writes).toHaveLength(2);
    const lines = writes.join('').trimEnd().split('\n');
    expect(lines.map((line) => (JSON.parse(line) as { i: number }).i)).toEqual([...Array(70).keys()]);
  });

  it('writes what it holds before the process exits (process.exit right after logging)', () => {
    const logger = fileURLToPath(new URL('../../src/core/logger.ts', import.meta.url));
    const script = `
      const { jsonLogger } = await import(${JSON.stringify(logger)});
      const log = jsonLogger({ batch: true });
      for (let i = 0; i < 3; i++) log.write({ severity: 'INFO', message: 'line ' + i });
      log.write({ severity: 'ERROR', message: 'to stderr' });
      process.exit(0);`;
    const stdout = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    expect(
      stdout
        .trimEnd()
        .split('\n')
        .map((line) => (JSON.parse(line) as { message: string }).message),
    ).toEqual(['line 0', 'line 1', 'line 2']);
  });
});

describe('silentLogger, MemoryLogger and log()', () => {
  it('silentLogger drops, MemoryLogger keeps, and log() never lets a throwing logger through', () => {
    expect(() => silentLogger.write({ severity: 'ERROR', message: 'x' })).not.toThrow();
    const memory = new MemoryLogger();
    log(memory, { severity: 'INFO', message: 'kept' });
    expect(memory.entries).toEqual([{ severity: 'INFO', message: 'kept' }]);
    const broken = {
      write: () => {
        throw new Error('disk full');
      },
    };
    expect(() => log(broken, { severity: 'INFO', message: 'lost' })).not.toThrow();
  });
});
