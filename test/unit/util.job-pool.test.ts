// Unit tests of deferMany's JobPool: at most `concurrency` jobs in flight, in order, idle once all ended, failures only free a slot.
import { describe, expect, it } from 'vitest';
import { JobPool } from '../../src/util/job-pool.js';

/** A job that ends when told to, recording when it started. */
function gate(log: string[], name: string) {
  let end!: (fail: boolean) => void;
  const job = () =>
    new Promise<void>((resolve, reject) => {
      log.push(`start ${name}`);
      end = (fail) => (fail ? reject(new Error(name)) : resolve());
    });
  return { job, end: (fail = false) => end(fail) };
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

describe('JobPool', () => {
  it('runs at most `concurrency` jobs at once, in the order added, the first ones at once', async () => {
    const log: string[] = [];
    const pool = new JobPool(2);
    const jobs = ['a', 'b', 'c', 'd'].map((name) => gate(log, name));
    for (const { job } of jobs) pool.run(job);
    expect(log).toEqual(['start a', 'start b']);
    jobs[1]!.end();
    await turn();
    expect(log).toEqual(['start a', 'start b', 'start c']);
    jobs[0]!.end(true); // a failed job frees its slot too
    await turn();
    expect(log).toEqual(['start a', 'start b', 'start c', 'start d']);
    let idle = false;
    void pool.idle().then(() => (idle = true));
    jobs[2]!.end();
    await turn();
    expect(idle).toBe(false);
    jobs[3]!.end();
    await turn();
    expect(idle).toBe(true);
  });

  it('is idle at once with no job, and again after jobs added later have ended (a throwing one too)', async () => {
    const pool = new JobPool(1);
    await pool.idle();
    const log: string[] = [];
    const later = gate(log, 'later');
    pool.run(() => {
      throw new Error('sync');
    });
    pool.run(later.job);
    expect(log).toEqual([]); // the throwing job holds its slot until its rejection is seen
    await turn();
    expect(log).toEqual(['start later']);
    let idle = false;
    void pool.idle().then(() => (idle = true));
    await turn();
    expect(idle).toBe(false);
    later.end();
    await turn();
    expect(idle).toBe(true);
  });
});
