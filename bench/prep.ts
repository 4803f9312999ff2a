/**
 * `rec prep` benchmark (PRODUCT §9): throughput on a synthetic 1M-row TSV (user, item, rating, ts),
 * peak memory (max RSS of a child process) on 1M / 3M / 10M-row logs to show it stays flat per
 * row, and pandas' read_csv + factorize + sort on the same file when python3 has pandas.
 * Run on an otherwise idle machine: on 2 shared cores any other load skews the timings (the CPU
 * seconds reported beside the wall time are less sensitive to that).
 *
 *   node dist/bench/prep.js [--quick]           writes bench/results/prep.json (or prep-quick.json)
 */
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { prepSchema } from '../src/config/schema.js';
import { runPrep, type PrepResult } from '../src/data/prep/run.js';
import { writeJsonAtomic } from '../src/io/atomic.js';
import { silentLogger } from '../src/util/log.js';
import { Prng } from '../src/util/prng.js';
import { noProgress } from '../src/util/progress.js';

export interface PrepBenchOptions {
  quick?: boolean;
  /** Rows of the throughput file (default 1,000,000; quick 200,000). */
  rows?: number;
  /** Row counts of the memory runs (default 1M, 3M, 10M; quick 200K, 600K, 2M). */
  memoryRows?: number[];
  /** Timed repetitions of the throughput run (best and median reported). */
  repeats?: number;
  /** JSON output path; default bench/results/prep.json (prep-quick.json with quick). null: do not write. */
  out?: string | null;
  log?: (line: string) => void;
}

export interface PrepThroughput {
  rows: number;
  file_bytes: number;
  wall_s: number[];
  cpu_s: number[];
  best_wall_s: number;
  median_wall_s: number;
  rows_per_s_best: number;
  rows_per_s_median: number;
  rows_per_cpu_s_best: number;
}

export interface PrepMemory {
  rows: number;
  file_bytes: number;
  /** Peak RSS of a child process that preps the file (VmHWM on Linux). */
  max_rss_bytes: number;
  /** (max RSS − RSS of the same child on a 1,000-row file) / rows. */
  bytes_per_row: number;
  wall_s: number;
}

export interface PandasResult {
  available: boolean;
  version?: string;
  wall_s?: number;
  rows_per_s?: number;
  note?: string;
}

export interface PrepBenchResult {
  machine: { cpus: number; node: string };
  throughput: PrepThroughput;
  memory: PrepMemory[];
  baseline_rss_bytes: number;
  pandas: PandasResult;
}

/**
 * A synthetic behaviour log: `users` users, Zipf-like item popularity over `items` items, ratings
 * 1–5, unix-second timestamps increasing through the file like a real log.
 */
export async function writeSyntheticTsv(path: string, rows: number, seed = 2020): Promise<number> {
  const rng = Prng.fromSeed(seed, 'bench.prep');
  const users = Math.max(100, Math.round(rows / 20));
  const items = Math.max(100, Math.round(rows / 50));
  const out = createWriteStream(path);
  let ts = 1500000000;
  const lines: string[] = [];
  for (let i = 0; i < rows; i++) {
    ts += rng.int(3);
    const u = 1 + rng.int(users);
    const it = 1 + Math.floor(items * rng.next() ** 2);
    lines.push(`${u}\t${it}\t${1 + rng.int(5)}\t${ts}\n`);
    if (lines.length === 65536 || i === rows - 1) {
      if (!out.write(lines.join(''))) await once(out, 'drain');
      lines.length = 0;
    }
  }
  out.end();
  await once(out, 'finish');
  return (await stat(path)).size;
}

function benchConfig() {
  return prepSchema.parse({ split: 'random:0.8,0.1,0.1' });
}

async function timedPrep(file: string, out: string): Promise<{ wall: number; cpu: number; result: PrepResult }> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const result = await runPrep({ inputs: [file], out, config: benchConfig(), seed: 2020, recVersion: 'bench' }, { log: silentLogger, progress: noProgress });
  const wall = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  return { wall, cpu: (c.user + c.system) / 1e6, result };
}

/** Runs this module as a child that preps one file and prints its max RSS. */
function childPrep(file: string, out: string): { maxRss: number; wall: number } {
  const self = fileURLToPath(import.meta.url);
  const r = spawnSync(process.execPath, [self, '--child', file, out], { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (r.status !== 0) throw new Error(`prep child failed (${r.status}): ${r.stderr}`);
  const parsed = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as { maxRss: number; wall: number };
  return parsed;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

const PANDAS_SCRIPT = `
import sys, time, pandas as pd
t = time.perf_counter()
df = pd.read_csv(sys.argv[1], sep='\\t', header=None, names=['user', 'item', 'rating', 'ts'])
df['u'], _ = pd.factorize(df['user'])
df['i'], _ = pd.factorize(df['item'])
df = df.sort_values(['u', 'ts'], kind='stable')
print(pd.__version__, time.perf_counter() - t, len(df))
`;

function runPandas(file: string, rows: number): PandasResult {
  const probe = spawnSync('/usr/bin/python3', ['-c', 'import pandas'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) return { available: false, note: 'python3 with pandas not found (apt install python3-pandas to compare)' };
  const best: number[] = [];
  let version = '';
  for (let k = 0; k < 3; k++) {
    const r = spawnSync('/usr/bin/python3', ['-c', PANDAS_SCRIPT, file], { encoding: 'utf8' });
    if (r.status !== 0) return { available: false, note: `pandas run failed: ${r.stderr.slice(0, 300)}` };
    const [v, secs, n] = r.stdout.trim().split(/\s+/);
    version = v;
    if (Number(n) !== rows) return { available: false, note: `pandas read ${n} rows, expected ${rows}` };
    best.push(Number(secs));
  }
  const wall = Math.min(...best);
  return { available: true, version, wall_s: wall, rows_per_s: Math.round(rows / wall) };
}

export async function runPrepBench(opts: PrepBenchOptions = {}): Promise<PrepBenchResult> {
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const quick = opts.quick === true;
  const rows = opts.rows ?? (quick ? 200_000 : 1_000_000);
  const memoryRows = opts.memoryRows ?? (quick ? [200_000, 600_000, 2_000_000] : [1_000_000, 3_000_000, 10_000_000]);
  const repeats = opts.repeats ?? (quick ? 2 : 3);
  const dir = await mkdtemp(join(tmpdir(), 'rec-bench-prep-'));
  try {
    const file = join(dir, `log-${rows}.tsv`);
    const fileBytes = await writeSyntheticTsv(file, rows);
    log(`prep bench: ${rows} rows, ${(fileBytes / 1e6).toFixed(1)} MB`);
    const walls: number[] = [];
    const cpus: number[] = [];
    await timedPrep(file, join(dir, 'warmup'));
    for (let k = 0; k < repeats; k++) {
      const r = await timedPrep(file, join(dir, `ds-${k}`));
      walls.push(r.wall);
      cpus.push(r.cpu);
      log(`  run ${k + 1}: ${r.wall.toFixed(3)} s wall, ${r.cpu.toFixed(3)} s cpu, ${Math.round(rows / r.wall)} rows/s`);
      await rm(join(dir, `ds-${k}`), { recursive: true, force: true });
    }
    const best = Math.min(...walls);
    const med = median(walls);
    const throughput: PrepThroughput = {
      rows,
      file_bytes: fileBytes,
      wall_s: walls,
      cpu_s: cpus,
      best_wall_s: best,
      median_wall_s: med,
      rows_per_s_best: Math.round(rows / best),
      rows_per_s_median: Math.round(rows / med),
      rows_per_cpu_s_best: Math.round(rows / Math.min(...cpus)),
    };
    const pandas = runPandas(file, rows);
    log(`  pandas: ${pandas.available ? `${pandas.rows_per_s} rows/s (${pandas.wall_s?.toFixed(3)} s)` : pandas.note}`);
    await rm(file, { force: true });

    const tiny = join(dir, 'tiny.tsv');
    await writeSyntheticTsv(tiny, 1000);
    const baseline = childPrep(tiny, join(dir, 'tiny-ds')).maxRss;
    const memory: PrepMemory[] = [];
    for (const n of memoryRows) {
      const f = join(dir, `mem-${n}.tsv`);
      const bytes = await writeSyntheticTsv(f, n);
      const r = childPrep(f, join(dir, `mem-ds-${n}`));
      const entry: PrepMemory = { rows: n, file_bytes: bytes, max_rss_bytes: r.maxRss, bytes_per_row: Math.round((r.maxRss - baseline) / n), wall_s: r.wall };
      memory.push(entry);
      log(`  memory: ${n} rows → max RSS ${(r.maxRss / 2 ** 20).toFixed(0)} MiB, ${entry.bytes_per_row} B/row above the ${(baseline / 2 ** 20).toFixed(0)} MiB baseline, ${r.wall.toFixed(2)} s`);
      await rm(f, { force: true });
      await rm(join(dir, `mem-ds-${n}`), { recursive: true, force: true });
    }
    const result: PrepBenchResult = {
      machine: { cpus: (await import('node:os')).cpus().length, node: process.version },
      throughput,
      memory,
      baseline_rss_bytes: baseline,
      pandas,
    };
    const out = opts.out === undefined ? `bench/results/${quick ? 'prep-quick' : 'prep'}.json` : opts.out;
    if (out !== null) await writeJsonAtomic(resolve(out), result);
    return result;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Peak RSS of this process. VmHWM (Linux) is reset by exec; getrusage's maxRSS is not: a child
 * forked from a large parent would report the parent's size.
 */
async function peakRss(): Promise<number> {
  try {
    const status = await readFile('/proc/self/status', 'utf8');
    const m = /^VmHWM:\s+(\d+) kB/m.exec(status);
    if (m) return Number(m[1]) * 1024;
  } catch {
    // not Linux: fall back to getrusage
  }
  return process.resourceUsage().maxRSS * 1024;
}

async function child(file: string, out: string): Promise<void> {
  const t0 = performance.now();
  await runPrep({ inputs: [file], out, config: benchConfig(), seed: 2020, recVersion: 'bench' }, { log: silentLogger, progress: noProgress });
  const wall = (performance.now() - t0) / 1000;
  process.stdout.write(`${JSON.stringify({ maxRss: await peakRss(), wall })}\n`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const main = process.argv[2] === '--child' ? child(process.argv[3], process.argv[4]) : runPrepBench({ quick: process.argv.includes('--quick') }).then((r) => {
    process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
  });
  main.catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  });
}
