/** Figure `cold_import`: whole Node processes importing the packed `cloud-deferred` next to the app's two Google clients, against processes importing the two clients alone (wall and CPU time). */
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { pairedRatios, verdict, type Figure, type FigureRow, type Target } from './lib/figure.js';
import { ROOT } from './lib/stack.js';
import { runJsonChild } from './lib/child.js';
import { summarize } from './lib/stats.js';

const run = promisify(execFile);

/** Processes per side in a real run (the "median of 7"). */
const RUNS = 7;
const TARGET: Target = { op: '<=', value: 1.1 };

/** What both sides import first: the app's own clients, as an app's first lines do. */
const CLIENTS = ["await import('@google-cloud/datastore');", "await import('@google-cloud/tasks');"];

/** A child's last line: its own CPU time, from process.resourceUsage() (user + system, ms). */
const REPORT =
  'const u = process.resourceUsage(); console.log(JSON.stringify({ cpuMs: (u.userCPUTime + u.systemCPUTime) / 1000 }));';

/** One process: wall time from spawn to exit as the parent sees it, and the CPU time the child reports. */
interface Sample {
  readonly wallMs: number;
  readonly cpuMs: number;
}

async function spawnImport(app: string, code: string): Promise<Sample> {
  const { result, ms } = await runJsonChild<{ cpuMs: number }>('import child', ['--input-type=module', '-e', code], {
    cwd: app,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, METADATA_SERVER_DETECTION: 'none' },
  });
  return { wallMs: ms, cpuMs: result.cpuMs };
}

/**
 * A fresh app folder in the temp directory: the library built from this checkout as `npm run build` does (tsc, then the
 * bundle per entry point) and packed as `npm publish` would
 * (then unpacked into its node_modules, as `npm install <tarball>` does), and every other package (the Google clients,
 * cloud-deferred's own dependencies) linked from this checkout's node_modules, so both sides load the same files.
 */
async function packedApp(log: (message: string) => void): Promise<{ app: string; cleanup: () => void }> {
  const scratch = mkdtempSync(join(tmpdir(), 'cloud-deferred-cold-'));
  const cleanup = () => rmSync(scratch, { recursive: true, force: true });
  try {
    const pkg = join(scratch, 'package');
    mkdirSync(pkg);
    log('cold_import: building and packing the library');
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    await run(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', join(pkg, 'dist')], {
      cwd: ROOT,
      maxBuffer: 16 * 1024 * 1024,
    });
    for (const file of ['package.json', 'README.md', 'cron.yaml']) cpSync(join(ROOT, file), join(pkg, file));
    // What `npm run build` ships: tsc's output bundled per entry point (scripts/bundle.mjs), then the dashboard's assets.
    await run(process.execPath, [join(ROOT, 'scripts', 'bundle.mjs')], { cwd: pkg, maxBuffer: 16 * 1024 * 1024 });
    cpSync(join(ROOT, 'src', 'dashboard', 'assets'), join(pkg, 'dist', 'dashboard', 'assets'), { recursive: true });
    const { stdout } = await run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', scratch], {
      cwd: pkg,
      maxBuffer: 16 * 1024 * 1024,
    });
    const tarball = join(scratch, (JSON.parse(stdout) as { filename: string }[])[0]!.filename);
    const app = join(scratch, 'app');
    const modules = join(app, 'node_modules');
    mkdirSync(join(modules, 'cloud-deferred'), { recursive: true });
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'cold-app', private: true, type: 'module' }));
    await run('tar', ['-xzf', tarball, '-C', join(modules, 'cloud-deferred'), '--strip-components=1']);
    for (const entry of readdirSync(join(ROOT, 'node_modules'))) {
      if (entry.startsWith('.') || entry === 'cloud-deferred') continue;
      symlinkSync(join(ROOT, 'node_modules', entry), join(modules, entry));
    }
    return { app, cleanup };
  } catch (error) {
    cleanup();
    throw error;
  }
}

function row(label: string, ours: number[], baseline: number[], note: string): FigureRow {
  const ratio = summarize(pairedRatios(ours, baseline));
  return {
    figure: 'cold_import',
    label,
    unit: 'ms',
    ours: summarize(ours),
    baseline: summarize(baseline),
    ratioOf: 'ours / baseline',
    ratio,
    target: TARGET,
    status: verdict(ratio, TARGET),
    note,
  };
}

export const coldImportFigure: Figure = {
  name: 'cold_import',
  standalone: true,
  description:
    "a fresh process importing the packed cloud-deferred next to the app's two Google clients vs importing the two clients alone (ms, wall and CPU)",
  async run(ctx) {
    const runs = ctx.smoke ? 1 : Math.max(RUNS, ctx.runs);
    const { app, cleanup } = await packedApp(ctx.log);
    try {
      const sides = {
        ours: [...CLIENTS, "await import('cloud-deferred');", REPORT].join(' '),
        baseline: [...CLIENTS, REPORT].join(' '),
      };
      // One unmeasured process of each first (the page cache), then `runs` of each, interleaved, the order rotating.
      if (!ctx.smoke) for (const code of Object.values(sides)) await spawnImport(app, code);
      const samples = { ours: [] as Sample[], baseline: [] as Sample[] };
      for (let i = 0; i < runs; i++) {
        const order = i % 2 === 0 ? (['ours', 'baseline'] as const) : (['baseline', 'ours'] as const);
        for (const side of order) samples[side].push(await spawnImport(app, sides[side]));
        ctx.log(
          `cold_import run ${i + 1}/${runs}: ours ${samples.ours[i]!.wallMs.toFixed(0)} ms (CPU ${samples.ours[i]!.cpuMs.toFixed(0)}), clients alone ${samples.baseline[i]!.wallMs.toFixed(0)} ms (CPU ${samples.baseline[i]!.cpuMs.toFixed(0)})`,
        );
      }
      const wall = (side: Sample[]) => side.map((s) => s.wallMs);
      const cpu = (side: Sample[]) => side.map((s) => s.cpuMs);
      return [
        row(
          'wall time',
          wall(samples.ours),
          wall(samples.baseline),
          'spawn to exit of a whole process, what a first request waits for; noisy on a shared machine',
        ),
        row(
          'CPU time',
          cpu(samples.ours),
          cpu(samples.baseline),
          "the child's own CPU time (process.resourceUsage): the steady figure",
        ),
      ];
    } finally {
      cleanup();
    }
  },
};
