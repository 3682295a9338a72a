// Orders the test files of a run so the slowest start first: without Vitest's cache of durations (a fresh clone, as in
// CI) it runs the largest files first, and a long file that is small (the race suite) would start last and run alone.
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/** Files measured as the slowest (CI on 2 cores), slowest first, by name under test/. */
const SLOWEST = [
  'cli.failed',
  'defer.many',
  'sweeper.race',
  'tasks-emulator.gcloud',
  'cli.sweep',
  'cli.jobs',
  'failures.ledger',
];

function rank(spec: TestSpecification): number {
  const index = SLOWEST.findIndex((name) => spec.moduleId.endsWith(`/test/${name}.test.ts`));
  return index === -1 ? SLOWEST.length : index;
}

/** Vitest's order (projects one after the other, failed and longer files first), with {@link SLOWEST} at the front of each project. */
export default class SlowFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const byProject = new Map<string, TestSpecification[]>();
    for (const spec of sorted) byProject.set(spec.project.name, [...(byProject.get(spec.project.name) ?? []), spec]);
    return [...byProject.values()].flatMap((specs) => specs.sort((a, b) => rank(a) - rank(b)));
  }
}
