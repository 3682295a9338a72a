// Race test, seed 1: tasks run, retry, fail and finish while two sweepers run; 0 live payloads deleted, 0 reclaimable left.
import { describeRace } from './support/race-suite.js';

// 5 seed files x 2 emulators x 210 entities = 2,100 entities; one seed per file keeps each file under a minute.
describeRace(1, 210);
