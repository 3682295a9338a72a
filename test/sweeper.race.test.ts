// Race test: tasks run, retry, fail and finish while two sweepers run; 0 live payloads deleted, 0 reclaimable left.
import { describeRace } from './support/race-suite.js';

// 5 seeds x 2 emulators x 210 entities = 2,100 entities; each emulator runs one seed at a time.
describeRace([1, 2, 3, 4, 5], 210);
