/**
 * Warehouse benchmark (docs/benchmarks.md#warehouse-parquet-beside-duckdb, issue #23): the same
 * synthetic log as one CSV file and as snappy Parquet partitioned by day (written by DuckDB from the
 * CSV, as a warehouse export would be), then, one after the other on the same machine:
 *
 *   - `rec prep` of the CSV and of the Parquet folder (wall time, CPU time, peak RSS of the process);
 *   - DuckDB (@duckdb/node-api, a dev dependency) doing the same work on each: read, de-duplicate
 *     (user, item) keeping the latest time, factorise both ids to dense integers, sort by
 *     (user, ts), and write the result (Parquet), with its default threads (all cores).
 *
 * Target (docs/benchmarks.md#targets): Parquet prep within 1.5× DuckDB's time on the same work.
 * Peak RSS is the child's max RSS from /usr/bin/time (GNU time, %M).
 *
 *   node dist/bench/warehouse.js [--quick] [--rows N]   writes bench/results/warehouse.json (warehouse-quick.json)
 *   node dist/bench/warehouse.js --scale 100000000     the scale arm alone (peak RSS and phases of one large prep)
 *   npm run bench -- warehouse [--quick]
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeJsonAtomic } from '../src/io/atomic.js';
import { argValue, REPO } from './common.js';

export interface TimedRun {
  what: string;
  wall_s: number;
  cpu_s: number;
  max_rss_mib: number;
  rows_per_s: number;
}

/** The scale arm: one `rec prep` of a large partitioned Parquet log that DuckDB generates. */
export interface ScaleResult {
  rows: number;
  users: number;
  items: number;
  parquet_bytes: number;
  parquet_files: number;
  load_avg_before: number[];
  load_avg_after: number[];
  run: TimedRun;
  /** Seconds per phase, from `rec prep --verbose` (read, arrange, dedupe, k-core, split, vocab, write). */
  phases: Record<string, number>;
}

export interface WarehouseBenchResult {
  rows: number;
  days: number;
  users: number;
  items: number;
  csv_bytes: number;
  parquet_bytes: number;
  parquet_files: number;
  cores: number;
  load_avg_before: number[];
  load_avg_after: number[];
  runs: TimedRun[];
  /** rec prep (Parquet) time / DuckDB (Parquet) time; target ≤ 1.5. */
  parquet_vs_duckdb: number;
  note: string;
}

const BIN = join(REPO, 'bin/rec.js');
const COLUMNS = 'user=user_id,item=item_id,event=event,ts=ts';

/** Runs a command under GNU time; wall, CPU and max RSS. */
function timed(what: string, cmd: string[], rows: number): TimedRun {
  const r = spawnSync('/usr/bin/time', ['-f', 'TIME %e %U %S %M', ...cmd], { encoding: 'utf8', maxBuffer: 1 << 26, env: { ...process.env, CI: 'true' } });
  const m = /TIME ([\d.]+) ([\d.]+) ([\d.]+) (\d+)/.exec(r.stderr);
  if (r.status !== 0 || m === null) throw new Error(`${what} failed (${r.status}): ${r.stderr.slice(-2000)}`);
  const wall = Number(m[1]);
  return { what, wall_s: wall, cpu_s: Math.round((Number(m[2]) + Number(m[3])) * 100) / 100, max_rss_mib: Math.round(Number(m[4]) / 1024), rows_per_s: Math.round(rows / wall) };
}

function rec(args: string[]): void {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', maxBuffer: 1 << 26, env: { ...process.env, CI: 'true' } });
  if (r.status !== 0) throw new Error(`rec ${args.join(' ')} failed: ${r.stderr.slice(-2000)}`);
}

async function duck(...statements: string[]): Promise<void> {
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const db = await DuckDBInstance.create(':memory:');
  const con = await db.connect();
  try {
    for (const sql of statements) await con.run(sql);
  } finally {
    con.closeSync();
    db.closeSync();
  }
}

const q = (s: string): string => `'${s.replace(/'/g, "''")}'`;

/** The DuckDB side of the comparison, as a child process (its own RSS): read, de-duplicate, factorise, sort, write. */
async function duckChild(input: string, kind: 'csv' | 'parquet', out: string): Promise<void> {
  const source = kind === 'csv' ? `read_csv(${q(input)}, header = true)` : `read_parquet(${q(join(input, '**', '*.parquet'))})`;
  const ts = kind === 'csv' ? 'to_timestamp(ts)' : 'ts';
  await duck(`
    COPY (
      WITH log AS (SELECT user_id, item_id, ${ts} AS ts FROM ${source}),
      dedup AS (SELECT user_id, item_id, max(ts) AS ts, count(*) AS n FROM log GROUP BY user_id, item_id),
      ids AS (
        SELECT dense_rank() OVER (ORDER BY user_id) - 1 AS "user", dense_rank() OVER (ORDER BY item_id) - 1 AS item, ts, n FROM dedup
      )
      SELECT * FROM ids ORDER BY "user", ts
    ) TO ${q(out)} (FORMAT parquet)`);
}

async function folderBytes(dir: string): Promise<{ bytes: number; files: number }> {
  let bytes = 0;
  let files = 0;
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile()) continue;
    bytes += (await stat(join(e.parentPath, e.name))).size;
    files++;
  }
  return { bytes, files };
}

export async function runWarehouseBench(opts: { quick?: boolean; rows?: number; log?: (l: string) => void } = {}): Promise<WarehouseBenchResult> {
  const log = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  if (!existsSync('/usr/bin/time')) throw new Error('the warehouse bench needs GNU time at /usr/bin/time for peak RSS');
  const rows = opts.rows ?? (opts.quick === true ? 1_000_000 : 10_000_000);
  const days = 30;
  const users = Math.max(1000, Math.round(rows / 40));
  const items = Math.max(500, Math.round(rows / 200));
  const dir = await mkdtemp(join(tmpdir(), 'rec-bench-warehouse-'));
  try {
    const csv = join(dir, 'log.csv');
    const events = join(dir, 'events');
    log(`warehouse: rec synth ${rows} rows (${users} users, ${items} items, ${days} days) → CSV, then DuckDB → Parquet by day`);
    rec(['synth', '--out', csv, '--events', String(rows), '--users', String(users), '--items', String(items), '--categories', '50', '--days', String(days), '--seed', '23']);
    await duck(
      `SET threads = 2`,
      `COPY (SELECT user_id, item_id, category, event, to_timestamp(ts)::TIMESTAMP AS ts, CAST(to_timestamp(ts) AS DATE) AS dt FROM read_csv(${q(csv)}, header = true))
        TO ${q(events)} (FORMAT parquet, PARTITION_BY (dt), COMPRESSION snappy)`,
    );
    const pq = await folderBytes(events);
    const csvBytes = (await stat(csv)).size;
    const loadBefore = loadavg().map((x) => Math.round(x * 100) / 100);
    const self = fileURLToPath(import.meta.url);
    const runs: TimedRun[] = [];
    const step = (run: TimedRun): void => {
      runs.push(run);
      log(`warehouse: ${run.what}: ${run.wall_s} s wall, ${run.cpu_s} s CPU, peak RSS ${run.max_rss_mib} MiB, ${run.rows_per_s} rows/s`);
    };
    step(timed('rec prep CSV', [process.execPath, BIN, 'prep', csv, '--out', join(dir, 'ds-csv'), '--columns', COLUMNS], rows));
    step(timed('DuckDB CSV', [process.execPath, self, '--duck-child', csv, 'csv', join(dir, 'duck-csv.parquet')], rows));
    step(timed('rec prep Parquet', [process.execPath, BIN, 'prep', events, '--out', join(dir, 'ds-parquet'), '--columns', COLUMNS], rows));
    step(timed('DuckDB Parquet', [process.execPath, self, '--duck-child', events, 'parquet', join(dir, 'duck-parquet.parquet')], rows));
    const loadAfter = loadavg().map((x) => Math.round(x * 100) / 100);
    const wall = (what: string): number => runs.find((r) => r.what === what)?.wall_s ?? Number.NaN;
    const result: WarehouseBenchResult = {
      rows,
      days,
      users,
      items,
      csv_bytes: csvBytes,
      parquet_bytes: pq.bytes,
      parquet_files: pq.files,
      cores: cpus().length,
      load_avg_before: loadBefore,
      load_avg_after: loadAfter,
      runs,
      parquet_vs_duckdb: Math.round((wall('rec prep Parquet') / wall('DuckDB Parquet')) * 100) / 100,
      note: 'rec prep also checks every row, splits (random 0.8/0.1/0.1), and writes Arrow splits, vocabularies and a manifest; DuckDB runs with its default threads. One run each, one after the other.',
    };
    const out = join(REPO, 'bench', 'results', opts.quick === true ? 'warehouse-quick.json' : 'warehouse.json');
    await writeJsonAtomic(out, result);
    return result;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * `--scale N`: DuckDB writes N uniform random rows (N/40 users, N/200 items, 4 event types, 30 days)
 * as snappy Parquet partitioned by day, then one `rec prep --verbose` reads it: peak RSS, rows/s and
 * the seconds of each phase (bench/results/warehouse-scale-N.json).
 */
export async function runScaleArm(rows: number, log: (l: string) => void = (l) => process.stderr.write(`${l}\n`)): Promise<ScaleResult> {
  const users = Math.max(1000, Math.round(rows / 40));
  const items = Math.max(500, Math.round(rows / 200));
  const dir = await mkdtemp(join(tmpdir(), 'rec-bench-warehouse-scale-'));
  try {
    const events = join(dir, 'events');
    log(`warehouse scale: DuckDB writes ${rows} rows (${users} users, ${items} items, 30 days) as Parquet by day`);
    await duck(
      `SET threads = 2`,
      `SET preserve_insertion_order = false`,
      `COPY (
        SELECT 'u' || (hash(i) % ${users}) AS user_id, 'i' || (hash(i * 31 + 7) % ${items}) AS item_id,
               (['view', 'click', 'cart', 'buy'])[1 + (hash(i * 13) % 4)::INT] AS event,
               to_timestamp(1704067200 + (i * 2592000) // ${rows})::TIMESTAMP AS ts,
               CAST(to_timestamp(1704067200 + (i * 2592000) // ${rows}) AS DATE) AS dt
        FROM range(${rows}) t(i)
      ) TO ${q(events)} (FORMAT parquet, PARTITION_BY (dt), COMPRESSION snappy)`,
    );
    const pq = await folderBytes(events);
    const loadBefore = loadavg().map((x) => Math.round(x * 100) / 100);
    const cmd = [process.execPath, BIN, 'prep', events, '--out', join(dir, 'ds'), '--columns', COLUMNS, '--verbose'];
    const r = spawnSync('/usr/bin/time', ['-f', 'TIME %e %U %S %M', ...cmd], { encoding: 'utf8', maxBuffer: 1 << 26, env: { ...process.env, CI: 'true' } });
    const m = /TIME ([\d.]+) ([\d.]+) ([\d.]+) (\d+)/.exec(r.stderr);
    if (r.status !== 0 || m === null) throw new Error(`rec prep failed (${r.status}): ${r.stderr.slice(-2000)}`);
    const phases: Record<string, number> = {};
    for (const p of r.stderr.matchAll(/debug: prep: ([a-z-]+) ([\d.]+) s/g)) phases[p[1]] = Number(p[2]);
    const wall = Number(m[1]);
    const run: TimedRun = { what: 'rec prep Parquet', wall_s: wall, cpu_s: Math.round((Number(m[2]) + Number(m[3])) * 100) / 100, max_rss_mib: Math.round(Number(m[4]) / 1024), rows_per_s: Math.round(rows / wall) };
    log(`warehouse scale: ${run.wall_s} s wall, ${run.cpu_s} s CPU, peak RSS ${run.max_rss_mib} MiB, ${run.rows_per_s} rows/s; phases ${JSON.stringify(phases)}`);
    const result: ScaleResult = { rows, users, items, parquet_bytes: pq.bytes, parquet_files: pq.files, load_avg_before: loadBefore, load_avg_after: loadavg().map((x) => Math.round(x * 100) / 100), run, phases };
    await writeJsonAtomic(join(REPO, 'bench', 'results', `warehouse-scale-${rows}.json`), result);
    return result;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const i = process.argv.indexOf('--duck-child');
  if (i >= 0) {
    await duckChild(process.argv[i + 1], process.argv[i + 2] as 'csv' | 'parquet', process.argv[i + 3]);
  } else if (argValue('--scale') !== undefined) {
    process.stdout.write(`${JSON.stringify(await runScaleArm(Number(argValue('--scale'))), null, 2)}\n`);
  } else {
    const rowsArg = argValue('--rows');
    const r = await runWarehouseBench({ quick: process.argv.includes('--quick'), ...(rowsArg !== undefined ? { rows: Number(rowsArg) } : {}) });
    process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
  }
}
