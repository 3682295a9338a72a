// The one logging model: jsonLogger, silentLogger, MemoryLogger and the runtime's never-throwing log().
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
