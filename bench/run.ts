/** `npm run bench`: starts the local stack (or connects to a real project), runs every figure against its raw baseline, prints a table or a JSON report. */
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { codecFigure } from './codec.js';
import { coldImportFigure } from './cold-import.js';
import { deferBulkFigure } from './defer-bulk.js';
import { deferInlineFigure } from './defer-inline.js';
import { deferSpillFigure } from './defer-spill.js';
import type { Figure, FigureRow, StackFigure } from './lib/figure.js';
import { logLineFigure } from './log-line.js';
import { formatMachine, formatTable, machineInfo, type BenchReport } from './lib/report.js';
import { connectProject, startLocalStack, type BenchStack } from './lib/stack.js';
import type { DatastoreBackend } from '../src/local-stack/index.js';
import { sweepMemoryFigure } from './sweep-memory.js';
import { sweepScalingFigure } from './sweep-scaling.js';
import { sweepFigure } from './sweep.js';
import { taskRunFigure } from './task-run.js';

const FIGURES: readonly Figure[] = [
  coldImportFigure,
  codecFigure,
  deferInlineFigure,
  deferSpillFigure,
  deferBulkFigure,
  taskRunFigure,
  logLineFigure,
  sweepFigure,
  sweepScalingFigure,
  sweepMemoryFigure,
];

const USAGE = `Usage: npm run bench -- [options]

Runs each figure against its raw baseline in the same run and prints median (min–max) of the runs.

Options:
  --json               print the JSON report on stdout instead of the table (progress stays on stderr)
  --out <file>         also write the JSON report to this file
  --smoke              tiny counts, one run: checks that every figure works, not how fast (CI)
  --runs <n>           measured runs per figure and side (default 5; smoke: 1)
  --memory-runs <n>    runs of sweep_memory, each seeding and sweeping 60k entities (default: as --runs)
  --only <a,b>         run only these figures (${FIGURES.map((f) => f.name).join(', ')})
  --backend <name>     local Datastore emulator: datastore (default) or firestore (Datastore mode)
  --fail-on-miss       exit with 1 when a target is missed (errors always exit with 1)
  --project <id>       run against a real project instead of the local stack (env DEFERRED_BENCH_PROJECT);
                       creates and deletes queues, tasks and entities there
  --location <region>  Cloud Tasks location of the real project (env DEFERRED_BENCH_LOCATION, default us-central1)
  --handler-url <url>  public URL Cloud Tasks can reach that forwards to --handler-port on this machine, for the
                       run figure on a real project (env DEFERRED_BENCH_HANDLER_URL); without it run is skipped
  --handler-port <n>   port the run figure's handler listens on (env DEFERRED_BENCH_HANDLER_PORT, default 8080)
  -h, --help           this text
`;

function fail(message: string): never {
  process.stderr.write(`bench: ${message}\nRun "npm run bench -- --help" for usage.\n`);
  process.exit(2);
}

const { values } = (() => {
  try {
    return parseArgs({
      options: {
        json: { type: 'boolean', default: false },
        out: { type: 'string' },
        smoke: { type: 'boolean', default: false },
        runs: { type: 'string' },
        'memory-runs': { type: 'string' },
        only: { type: 'string' },
        backend: { type: 'string', default: 'datastore' },
        'fail-on-miss': { type: 'boolean', default: false },
        project: { type: 'string' },
        location: { type: 'string' },
        'handler-url': { type: 'string' },
        'handler-port': { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
    });
  } catch (error) {
    fail((error as Error).message);
  }
})();

if (values.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}

const smoke = values.smoke;
const runs = values.runs === undefined ? (smoke ? 1 : 5) : Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) fail(`--runs must be a positive integer, got ${values.runs}.`);
const memoryRuns = values['memory-runs'] === undefined ? runs : Number(values['memory-runs']);
if (!Number.isInteger(memoryRuns) || memoryRuns < 1) {
  fail(`--memory-runs must be a positive integer, got ${values['memory-runs']}.`);
}
const names = new Set(FIGURES.map((f) => f.name));
const only = values.only?.split(',').map((s) => s.trim()) ?? null;
for (const name of only ?? []) if (!names.has(name)) fail(`--only: unknown figure "${name}".`);
const backend = values.backend;
if (backend !== 'datastore' && backend !== 'firestore') {
  fail(`--backend must be datastore or firestore, got "${backend}".`);
}
const project = values.project ?? process.env.DEFERRED_BENCH_PROJECT;
const handlerPortText = values['handler-port'] ?? process.env.DEFERRED_BENCH_HANDLER_PORT;
const handlerPort = handlerPortText === undefined ? undefined : Number(handlerPortText);
if (handlerPort !== undefined && !(Number.isInteger(handlerPort) && handlerPort > 0 && handlerPort < 65536)) {
  fail(`--handler-port must be a port number, got ${handlerPortText}.`);
}
// Locally nothing may probe the GCE metadata server.
if (!project) process.env.METADATA_SERVER_DETECTION ??= 'none';

const log = (message: string) => process.stderr.write(`[bench] ${message}\n`);
const started = Date.now();
const loadStart = loadavg()[0]!;

const selected = FIGURES.filter((figure) => !only || only.includes(figure.name));
const rows: FigureRow[] = [];
const base = { runs, memoryRuns, smoke, log };

/** Runs one figure and keeps its rows; an error becomes the figure's `error` row, and the next figure runs. */
async function measure(figure: Figure, run: () => Promise<FigureRow[]>): Promise<void> {
  log(`${figure.name}: ${figure.description}`);
  const figureStarted = Date.now();
  try {
    const result = await run();
    // Smoke counts are too small for targets to mean anything: report, do not judge.
    rows.push(
      ...result.map((row) =>
        smoke && (row.status === 'pass' || row.status === 'miss') ? { ...row, status: 'reported' as const } : row,
      ),
    );
  } catch (error) {
    log(`${figure.name} failed: ${(error as Error).stack ?? String(error)}`);
    rows.push({ figure: figure.name, unit: '', status: 'error', note: (error as Error).message });
  }
  log(`${figure.name} took ${((Date.now() - figureStarted) / 1000).toFixed(1)} s`);
}

// Figures that need no stack run first, before the emulators' JVM starts and competes for the cores.
for (const figure of selected) if (figure.standalone) await measure(figure, () => figure.run(base));

/** The local stack on `local` (or the project) the other figures run against; a stack that cannot start ends the run. */
async function openStack(local: DatastoreBackend): Promise<BenchStack> {
  log(
    project ? `connecting to project ${project}` : `starting the local stack (${local} emulator, Cloud Tasks emulator)`,
  );
  try {
    return project
      ? await connectProject({
          projectId: project,
          location: values.location ?? process.env.DEFERRED_BENCH_LOCATION ?? 'us-central1',
          handlerUrl: values['handler-url'] ?? process.env.DEFERRED_BENCH_HANDLER_URL,
          handlerPort,
        })
      : await startLocalStack(local);
  } catch (error) {
    process.stderr.write(`bench: could not start: ${(error as Error).message}\n`);
    process.exit(1);
  }
}

const stackFigures = selected.filter((figure): figure is StackFigure => !figure.standalone);
if (stackFigures.length > 0) {
  const stack = await openStack(backend);
  try {
    for (const figure of stackFigures) await measure(figure, () => figure.run({ ...base, stack }));
  } finally {
    await stack.stop().catch((error: unknown) => log(`stopping: ${(error as Error).message}`));
  }
}

const report: BenchReport = {
  version: 1,
  startedAt: new Date(started).toISOString(),
  elapsedMs: Date.now() - started,
  mode: project ? 'project' : 'local',
  backend: project ? 'project' : backend,
  smoke,
  runs,
  machine: machineInfo(loadStart, loadavg()[0]!),
  figures: rows,
};

if (values.out) writeFileSync(values.out, `${JSON.stringify(report, null, 2)}\n`);
if (values.json) {
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
} else {
  process.stdout.write(
    [
      '',
      formatTable(rows),
      '',
      `${smoke ? 'Smoke run (targets not judged), ' : ''}${runs} run(s) per side, median (min–max); ${project ? `project ${project}` : `local stack, ${backend} emulator`}; ${((Date.now() - started) / 1000).toFixed(0)} s`,
      formatMachine(report.machine),
      '',
    ].join('\n'),
  );
}

const errors = rows.filter((row) => row.status === 'error').length;
const misses = rows.filter((row) => row.status === 'miss').length;
process.exitCode = errors > 0 || (values['fail-on-miss'] && misses > 0) ? 1 : 0;
