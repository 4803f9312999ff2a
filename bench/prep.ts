/**
 * `rec prep` benchmark (docs/benchmarks.md#targets): throughput on a synthetic 1M-row TSV (user, item, rating, ts)
 * beside pandas' read_csv + factorize + sort on the same file (bench/pandas_prep.py, when
 * /usr/bin/python3 has pandas; rec and pandas runs alternate, so both see the same machine load),
 * and peak memory (max RSS of a child process) on 1M / 3M / 10M-row logs to show it stays flat per
 * row. Run on an otherwise idle machine: on 2 shared cores any other load skews the timings (the
 * CPU seconds reported beside the wall time, and the load average recorded, help to read them).
 *
 *   node dist/bench/prep.js [--quick]           writes bench/results/prep.json (or prep-quick.json)
 *   npm run bench -- prep [--quick]             the same through the bench driver (bench/run.ts)
 */
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
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
  /** Timed repetitions of the throughput run, each followed by one pandas run (best and median reported). */
  repeats?: number;
  /** Python interpreter for the pandas baseline; default /usr/bin/python3. null: skip pandas. */
  python?: string | null;
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
  numpy?: string;
  /** Warm runs (the second prep in each python process), one after each timed rec run. */
  wall_s?: number[];
  cpu_s?: number[];
  best_wall_s?: number;
  median_wall_s?: number;
  rows_per_s_best?: number;
  rows_per_s_median?: number;
  rows_per_cpu_s_best?: number;
  /** Peak RSS of the python process (imports, two preps of the file). */
  max_rss_bytes?: number;
  note?: string;
}

export interface PrepBenchResult {
  bench: 'prep';
  date: string;
  quick: boolean;
  machine: { cpu: string; cores: number; node: string; platform: string };
  /** 1, 5 and 15-minute load averages before and after the throughput runs (2 cores: above 2 = contended). */
  load: { before: number[]; after: number[] };
  throughput: PrepThroughput;
  pandas: PandasResult;
  /** rec rows/s ÷ pandas rows/s on the same file (medians; and on CPU seconds, less load-sensitive). */
  rec_vs_pandas: { median_wall: number; best_cpu: number } | null;
  memory: PrepMemory[];
  baseline_rss_bytes: number;
}

/** The figures `npm run bench` prints for this bench. */
export function summarizePrepBench(r: PrepBenchResult): Record<string, unknown> {
  return {
    rows: r.throughput.rows,
    rec_rows_per_s: { median: r.throughput.rows_per_s_median, best: r.throughput.rows_per_s_best },
    pandas_rows_per_s: r.pandas.available ? { median: r.pandas.rows_per_s_median, best: r.pandas.rows_per_s_best } : r.pandas.note,
    rec_vs_pandas: r.rec_vs_pandas,
    load: r.load,
    peak_rss: r.memory.map((m) => ({ rows: m.rows, mib: Math.round(m.max_rss_bytes / 2 ** 20), bytes_per_row: m.bytes_per_row })),
  };
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

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** bench/pandas_prep.py, whether this module runs compiled (dist/bench/) or from source (bench/). */
function pandasScript(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  return resolve(here, here.endsWith(join('dist', 'bench')) ? '../../bench' : '.', 'pandas_prep.py');
}

interface PandasRun {
  pandas: string;
  numpy: string;
  rows: number;
  wall_s: number[];
  cpu_s: number[];
  max_rss_bytes: number;
}

/** Null when `python` can import pandas, else why not (the bench then skips the comparison). */
function pandasAvailable(python: string): string | null {
  const probe = spawnSync(python, ['-c', 'import pandas'], { encoding: 'utf8' });
  if (probe.error) return `${python} not found (install python3-pandas to compare)`;
  if (probe.status !== 0) return `${python} cannot import pandas (install python3-pandas to compare): ${probe.stderr.trim().split('\n').pop() ?? ''}`;
  return null;
}

/** One python process: a cold and a warm prep of the file; the warm one is kept. */
function pandasRun(python: string, file: string, rows: number): PandasRun {
  const r = spawnSync(python, [pandasScript(), file, '2'], { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (r.status !== 0) throw new Error(`pandas run failed (${r.status}): ${r.stderr.slice(0, 500)}`);
  const parsed = JSON.parse(r.stdout.trim()) as PandasRun;
  if (parsed.rows !== rows) throw new Error(`pandas read ${parsed.rows} rows, expected ${rows}`);
  return parsed;
}

export async function runPrepBench(opts: PrepBenchOptions = {}): Promise<PrepBenchResult> {
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const quick = opts.quick === true;
  const rows = opts.rows ?? (quick ? 200_000 : 1_000_000);
  const memoryRows = opts.memoryRows ?? (quick ? [200_000, 600_000, 2_000_000] : [1_000_000, 3_000_000, 10_000_000]);
  const repeats = opts.repeats ?? (quick ? 2 : 5);
  const dir = await mkdtemp(join(tmpdir(), 'rec-bench-prep-'));
  try {
    const file = join(dir, `log-${rows}.tsv`);
    const fileBytes = await writeSyntheticTsv(file, rows);
    log(`prep bench: ${rows} rows, ${(fileBytes / 1e6).toFixed(1)} MB`);
    const python = opts.python === undefined ? '/usr/bin/python3' : opts.python;
    const loadBefore = loadavg();
    const { throughput, pandas, recVsPandas } = await throughputRuns({ file, fileBytes, rows, repeats, dir, python, log });
    const loadAfter = loadavg();
    await rm(file, { force: true });
    const { memory, baseline } = await memoryRuns(dir, memoryRows, log);
    const result: PrepBenchResult = {
      bench: 'prep',
      date: new Date().toISOString(),
      quick,
      machine: { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, node: process.version, platform: `${process.platform}-${process.arch}` },
      load: { before: loadBefore.map(round2), after: loadAfter.map(round2) },
      throughput,
      pandas,
      rec_vs_pandas: recVsPandas,
      memory,
      baseline_rss_bytes: baseline,
    };
    const out = opts.out === undefined ? `bench/results/${quick ? 'prep-quick' : 'prep'}.json` : opts.out;
    if (out !== null) await writeJsonAtomic(resolve(out), result);
    return result;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

interface ThroughputJob {
  file: string;
  fileBytes: number;
  rows: number;
  repeats: number;
  dir: string;
  /** null: no pandas comparison. */
  python: string | null;
  log: (line: string) => void;
}

/** A warm-up prep, then `repeats` timed preps of the file, each followed by a pandas run when pandas is there. */
async function throughputRuns(job: ThroughputJob): Promise<{ throughput: PrepThroughput; pandas: PandasResult; recVsPandas: PrepBenchResult['rec_vs_pandas'] }> {
  const { file, rows, dir, python, log } = job;
  const pandasNote = python === null ? 'skipped' : pandasAvailable(python);
  const walls: number[] = [];
  const cpuTimes: number[] = [];
  const pd: PandasTimes = { walls: [], cpus: [], versions: null, rss: 0 };
  await timedPrep(file, join(dir, 'warmup'));
  await rm(join(dir, 'warmup'), { recursive: true, force: true });
  for (let k = 0; k < job.repeats; k++) {
    const r = await timedPrep(file, join(dir, `ds-${k}`));
    walls.push(r.wall);
    cpuTimes.push(r.cpu);
    let line = `  run ${k + 1}: rec ${r.wall.toFixed(3)} s wall, ${r.cpu.toFixed(3)} s cpu, ${Math.round(rows / r.wall)} rows/s`;
    await rm(join(dir, `ds-${k}`), { recursive: true, force: true });
    if (python !== null && pandasNote === null) {
      const p = pandasRun(python, file, rows);
      pd.versions = { pandas: p.pandas, numpy: p.numpy };
      pd.rss = Math.max(pd.rss, p.max_rss_bytes);
      pd.walls.push(p.wall_s[p.wall_s.length - 1]);
      pd.cpus.push(p.cpu_s[p.cpu_s.length - 1]);
      line += `; pandas ${pd.walls[k].toFixed(3)} s wall, ${pd.cpus[k].toFixed(3)} s cpu, ${Math.round(rows / pd.walls[k])} rows/s`;
    }
    log(line);
  }
  const best = Math.min(...walls);
  const med = median(walls);
  const throughput: PrepThroughput = {
    rows,
    file_bytes: job.fileBytes,
    wall_s: walls,
    cpu_s: cpuTimes,
    best_wall_s: best,
    median_wall_s: med,
    rows_per_s_best: Math.round(rows / best),
    rows_per_s_median: Math.round(rows / med),
    rows_per_cpu_s_best: Math.round(rows / Math.min(...cpuTimes)),
  };
  const pandas = pandasResult(pd, rows, pandasNote);
  const recVsPandas =
    pandas.available && pandas.median_wall_s !== undefined && pandas.cpu_s !== undefined
      ? { median_wall: round2(pandas.median_wall_s / med), best_cpu: round2(Math.min(...pandas.cpu_s) / Math.min(...cpuTimes)) }
      : null;
  log(
    pandas.available
      ? `  median: rec ${throughput.rows_per_s_median} rows/s, pandas ${pandas.rows_per_s_median} rows/s (rec ${recVsPandas?.median_wall}× pandas; ${recVsPandas?.best_cpu}× on best CPU time)`
      : `  median: rec ${throughput.rows_per_s_median} rows/s; pandas: ${pandas.note}`,
  );
  return { throughput, pandas, recVsPandas };
}

/** The pandas side of the throughput runs (the warm run of each). */
interface PandasTimes {
  walls: number[];
  cpus: number[];
  versions: { pandas: string; numpy: string } | null;
  rss: number;
}

function pandasResult(pd: PandasTimes, rows: number, pandasNote: string | null): PandasResult {
  if (pd.versions === null) return { available: false, note: pandasNote ?? 'no pandas run' };
  const pBest = Math.min(...pd.walls);
  const pMed = median(pd.walls);
  return {
    available: true,
    version: pd.versions.pandas,
    numpy: pd.versions.numpy,
    wall_s: pd.walls,
    cpu_s: pd.cpus,
    best_wall_s: pBest,
    median_wall_s: pMed,
    rows_per_s_best: Math.round(rows / pBest),
    rows_per_s_median: Math.round(rows / pMed),
    rows_per_cpu_s_best: Math.round(rows / Math.min(...pd.cpus)),
    max_rss_bytes: pd.rss,
  };
}

/** Peak RSS of a child prep per log size, above that of a 1,000-row log. */
async function memoryRuns(dir: string, memoryRows: readonly number[], log: (line: string) => void): Promise<{ memory: PrepMemory[]; baseline: number }> {
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
  return { memory, baseline };
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
