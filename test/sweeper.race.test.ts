// Race test: tasks run, retry, fail and finish while two sweepers run; 0 live payloads deleted, 0 reclaimable left.
import { describe } from 'vitest';
import { describeRace } from './support/race-suite.js';

/** 5 seeds x 2 emulators x 210 entities = 2,100 entities. */
const SEEDS = [1, 2, 3, 4, 5];
const PER_SEED = 210;

// The seeds run concurrently (Vitest's maxConcurrency), as the five files they once were ran side by side.
describe.concurrent.each(SEEDS)('seed %i', (seed) => describeRace(seed, PER_SEED));
