// generateTaskId (src/tasks-emulator/names.ts): the ids the emulator gives unnamed tasks.
import { describe, expect, it } from 'vitest';
import { generateTaskId } from '../../src/tasks-emulator/names.js';

describe('generateTaskId', () => {
  it('gives 19-digit ids that never start with 0, all different', () => {
    const ids = Array.from({ length: 5000 }, () => generateTaskId());
    for (const id of ids) expect(id).toMatch(/^[1-9]\d{18}$/);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
