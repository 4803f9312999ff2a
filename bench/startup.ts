/**
 * CLI start-up benchmark (docs/benchmarks.md#targets: the CLI starts within 4× a bare `node -e 0`). Wall time of
 * whole processes, as a user at a prompt sees it: `node -e 0`, `rec --version`, `rec --help`,
 * `rec prep --help`, each the median of N runs (default 5) after one unmeasured warm-up run (which
 * fills the OS file cache). The runs of the commands alternate, so all see the same machine load.
 * With ../shared present it also times `rec prep` on MovieLens 100K `u.data` (docs/datasets.md),
 * start-up included.
 *
 *   node dist/bench/startup.js [--quick]     writes bench/results/startup.json (startup-quick.json)
 *   npm run bench -- startup                 the same through the bench driver (bench/run.ts)
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeJsonAtomic } from '../src/io/atomic.js';
import { median, printResult, REPO, SHARED } from './common.js';

const BIN = join(REPO, 'bin/rec.js');
/** The start-up target of docs/benchmarks.md#targets. */
const TARGET_RATIO = 4;

export interface StartupCommand {
  name: string;
  argv: string[];
  wall_ms: number[];
  median_ms: number;
  /** median_ms / the median of `node -e 0`. */
  ratio: number;
}

export interface StartupBenchResult {
  date: string;
  node: string;
  runs: number;
  load_average: number[];
  target_ratio: number;
  commands: StartupCommand[];
  /** Every command named in the start-up target (docs/benchmarks.md#targets) (--version, prep --help) is within target_ratio. */
  within_target: boolean;
  /** `rec prep` on ML-100K u.data, when ../shared is present. */
  prep_ml100k: { argv: string[]; wall_ms: number[]; median_ms: number } | null;
}

function timeOnce(argv: string[]): number {
  const started = performance.now();
  const r = spawnSync(process.execPath, argv, { encoding: 'utf8', env: { ...process.env, CI: 'true' }, cwd: REPO });
  const ms = performance.now() - started;
  if (r.status !== 0) throw new Error(`node ${argv.join(' ')} exited ${r.status}: ${(r.stderr ?? '').slice(-500)}`);
  return ms;
}

export async function runStartupBench(opts: { quick?: boolean; runs?: number; out?: string | null; log?: (line: string) => void } = {}): Promise<StartupBenchResult> {
  const runs = opts.runs ?? (opts.quick ? 3 : 5);
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const commands: { name: string; argv: string[] }[] = [
    { name: 'node -e 0', argv: ['-e', '0'] },
    { name: 'rec --version', argv: [BIN, '--version'] },
    { name: 'rec --help', argv: [BIN, '--help'] },
    { name: 'rec prep --help', argv: [BIN, 'prep', '--help'] },
  ];
  const walls = commands.map(() => [] as number[]);
  for (const c of commands) timeOnce(c.argv);
  for (let i = 0; i < runs; i++) commands.forEach((c, k) => walls[k].push(timeOnce(c.argv)));
  const base = median(walls[0]);
  const measured: StartupCommand[] = commands.map((c, k) => {
    const m = median(walls[k]);
    return { name: c.name, argv: c.argv.map((a) => (a === BIN ? 'bin/rec.js' : a)), wall_ms: walls[k].map((x) => Math.round(x)), median_ms: Math.round(m), ratio: Math.round((m / base) * 100) / 100 };
  });
  for (const c of measured) log(`startup ${c.name.padEnd(16)} ${String(c.median_ms).padStart(5)} ms  (${c.ratio}× node -e 0)`);
  const targeted = measured.filter((c) => c.name === 'rec --version' || c.name === 'rec prep --help');

  let prep: StartupBenchResult['prep_ml100k'] = null;
  const data = join(SHARED, 'datasets/movielens-100k/u.data');
  if (existsSync(data)) {
    const work = mkdtempSync(join(tmpdir(), 'rec-bench-startup-'));
    try {
      const args = ['prep', data, '--out', join(work, 'ml100k'), '--format', 'tsv', '--no-header', '--columns', 'user=0,item=1,rating=2,ts=3', '--ts-unit', 's', '--feedback', 'explicit', '--dedupe', 'last', '--split', 'random:0.8,0.1,0.1', '--max-rejects', '0', '--seed', '2020', '--json'];
      const wall: number[] = [];
      for (let i = 0; i < runs; i++) {
        rmSync(join(work, 'ml100k'), { recursive: true, force: true });
        wall.push(timeOnce([BIN, ...args]));
      }
      prep = { argv: ['bin/rec.js', ...args.map((a) => a.replace(SHARED, '../shared').replace(work, '$TMP'))], wall_ms: wall.map((x) => Math.round(x)), median_ms: Math.round(median(wall)) };
      log(`startup rec prep u.data    ${prep.median_ms} ms (ML-100K, 100,000 rows)`);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }

  const result: StartupBenchResult = {
    date: new Date().toISOString(),
    node: process.version,
    runs,
    load_average: loadavg().map((x) => Math.round(x * 100) / 100),
    target_ratio: TARGET_RATIO,
    commands: measured,
    within_target: targeted.every((c) => c.ratio <= TARGET_RATIO),
    prep_ml100k: prep,
  };
  const out = opts.out === undefined ? join(REPO, 'bench/results', opts.quick ? 'startup-quick.json' : 'startup.json') : opts.out;
  if (out) await writeJsonAtomic(out, result);
  return result;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  printResult(runStartupBench({ quick: process.argv.includes('--quick') }));
}
