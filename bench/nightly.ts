/**
 * Nightly-retraining freshness benchmark (issue #10): on logs with timestamps, cut into periods
 * (weeks of the Tmall log, ~13-minute slices of the Taobao excerpt, days of a `rec synth` log), train
 * a model on the first periods, then for each following period d compare, on the next period d+1:
 *
 *   stale     the first model, never updated;
 *   ft        fine-tuned from the previous night's `ft` checkpoint on period d's rows alone
 *             (`--init-from PREV --replay 0`);
 *   ft+replay the same plus a seeded sample of older rows each epoch (`--replay R`);
 *   scratch   retrained from scratch on every period so far.
 *
 * Every arm is evaluated the same way: `rec eval --data E_d --split test --protocol full --k 20
 * --metrics recall,ndcg`, where E_d is `rec prep` of periods 0..d with period d+1 as `--test`. The
 * models train on the nightly chain T_d = `rec prep period_d --append-to T_{d-1}` (vocabulary
 * append-only). So that the stale arm is scored on the very same users and relevant items as the
 * others, it is evaluated as `stale` = the first model's weights with rows for the ids it never saw
 * (`rec train --data T_d --init-from FIRST --epochs 1 --lr 1e-9`: one step of at most 1e-9 per
 * weight, i.e. unchanged, new ids at their fresh initialisation); the first model itself, which
 * skips users it does not know, is reported beside it as `stale (known users)`.
 *
 * Periods are cut by the bench (per-period log files in a temporary folder, rows kept verbatim),
 * counted back from the newest row so the last period is whole: the test slices cannot be made by
 * `rec prep --split days:…` when a period is shorter than a day (Taobao), and `--test FILE` gives one
 * cut for every dataset.
 *
 * Wall time: `train_seconds` of `rec train --json` (the training loop, no start-up, no validation:
 * none of these datasets has a valid split) and the whole `rec train` process as the bench saw it.
 *
 *   node dist/bench/nightly.js [--quick] [--nights N] [DATASET...]   writes bench/results/nightly.json (nightly-quick.json)
 *   npm run bench -- nightly [--quick]       2 nights a dataset (--quick: 1, Taobao left out)
 *
 * DATASET: tmall-2014, taobao-excerpt, synth-drift (default all).
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeJsonAtomic } from '../src/io/atomic.js';
import { rec, REPO, SHARED } from './common.js';

const DAY_MS = 86_400_000;

/** A log the bench cuts into periods. */
export interface LogSpec {
  name: string;
  /** What the periods are, for the table. */
  periodText: string;
  /** Input file (absolute); made by `make` when absent. */
  file: string;
  header: boolean;
  /** Epoch ms of a row from its fields; NaN rejects the row (never the case on these files). */
  tsOf(fields: readonly string[]): number;
  periodMs: number;
  prepFlags: string[];
  /** Makes `file` (rec synth); absent for the shared datasets. */
  make?: (file: string) => Promise<string | null>;
}

export interface ArmResult {
  recall: number;
  ndcg: number;
  users: number;
  skipped: Record<string, number>;
  /** rec train --json train_seconds; null for the arm that was not trained this night. */
  train_seconds: number | null;
  /** The rec train process, start-up included, as the bench timed it. */
  process_seconds: number | null;
  epochs: number | null;
  /** Rows trained on per epoch (fine-tuning: new rows + replay sample), from the fine_tune record where there is one. */
  rows_per_epoch: number | null;
}

export interface NightResult {
  /** Period trained on last (0-based, oldest first). */
  period: number;
  test_period: number;
  rows: { new_period: number; test_period: number; train_total: number };
  /** New users and items of this period (rec prep --append-to's manifest); null on the first night. */
  new_ids: { users: number; items: number } | null;
  arms: Record<string, ArmResult>;
  load_avg_1m: number;
}

export interface DatasetResult {
  name: string;
  periods: string;
  period_count: number;
  first_model_periods: number;
  settings: Record<string, string[]>;
  nights: NightResult[];
  /** Mean over the nights after the first of each arm's metrics and times. */
  mean: Record<string, { recall: number; ndcg: number; train_seconds: number | null; process_seconds: number | null }>;
  /** Each arm's mean over scratch's mean (recall, ndcg, train seconds): the aim is ft ≥ 0.97 and time < 1/3. */
  vs_scratch: Record<string, { recall: number; ndcg: number; train_seconds: number | null }>;
  notes: string[];
}

export interface NightlyBenchResult {
  date: string;
  quick: boolean;
  load_avg: number[];
  datasets: DatasetResult[];
  notes: string[];
}

/** Scratch: MF, bce with 4 negatives, the model's defaults (mf.implicit.yaml: 20 epochs, lr 0.005); fixed epochs (no valid split). */
const SCRATCH = ['--model', 'mf', '--backend', 'wasm'];
/**
 * Fine-tuning on the new period alone: half the epochs and a smaller step, which forgot least of
 * the settings tried on Taobao (docs/benchmarks.md: 20 epochs at lr 0.005 on new rows alone fell
 * further behind).
 */
const FINE_TUNE = ['--model', 'mf', '--backend', 'wasm', '--epochs', '10', '--lr', '0.002'];
/** With replay: the scratch settings, over the new rows plus twice as many older ones each epoch (replay 0.3 and 1 fell short on Taobao). */
const FINE_TUNE_REPLAY = ['--model', 'mf', '--backend', 'wasm'];
const REPLAY = '2';

export function tmallSpec(): LogSpec {
  return {
    name: 'tmall-2014',
    periodText: '7 days',
    file: join(SHARED, 'datasets/tmall-2014-brand-behaviour/t_alibaba_data.csv'),
    header: true,
    tsOf: (f) => {
      const m = /^(\d{1,2})-(\d{1,2})$/.exec(f[3] ?? '');
      return m ? Date.UTC(2014, Number(m[1]) - 1, Number(m[2])) : Number.NaN;
    },
    periodMs: 7 * DAY_MS,
    prepFlags: [
      '--format', 'csv', '--header', '--columns', 'user=user_id,item=brand_id,event=type,ts=visit_datetime', '--ts-format', '%m-%d', '--ts-year', '2014',
      '--feedback', 'implicit', '--event-weights', '0=1,2=2,3=3,1=5', '--dedupe', 'max', '--max-rejects', '0',
    ],
  };
}

export function taobaoSpec(): LogSpec {
  return {
    name: 'taobao-excerpt',
    periodText: '13 minutes',
    file: join(SHARED, 'datasets/taobao-userbehavior-excerpt/UserBehavior.csv'),
    header: false,
    tsOf: (f) => Number(f[4]) * 1000,
    periodMs: 13 * 60_000,
    prepFlags: [
      '--format', 'csv', '--no-header', '--columns', 'user=0,item=1,event=3,ts=4', '--ts-unit', 's',
      '--feedback', 'implicit', '--event-weights', 'pv=1,fav=2,cart=3,buy=5', '--dedupe', 'max', '--max-rejects', '0',
    ],
  };
}

function synthSpec(work: string, quick: boolean): LogSpec {
  const days = quick ? 8 : 12;
  return {
    name: 'synth-drift',
    periodText: '1 day',
    file: join(work, 'synth.csv'),
    header: true,
    tsOf: (f) => Number(f[4]) * 1000,
    periodMs: DAY_MS,
    prepFlags: [
      '--format', 'csv', '--header', '--columns', 'user=user_id,item=item_id,event=event,ts=ts', '--ts-unit', 's',
      '--feedback', 'implicit', '--event-weights', 'view=1,click=2,cart=3,buy=5', '--dedupe', 'max', '--max-rejects', '0',
    ],
    make: async (file) => {
      const help = rec(['synth', '--help']);
      if (!help.stdout.includes('--drift')) return 'rec synth has no --drift flag on this branch: the drifting-popularity log was not measured';
      const r = rec(['synth', '--out', file, '--users', quick ? '1000' : '1500', '--items', quick ? '400' : '600', '--events-per-user', '40', '--days', String(days), '--drift', '0.5', '--seed', '7', '-q']);
      if (r.code !== 0) return `rec synth --drift failed (exit ${r.code}): ${r.stderr.trim().slice(-400)}`;
      return null;
    },
  };
}

/** Splits the log into per-period files counted back from the newest row: period 0 is the oldest (and may be partial). */
export async function cutPeriods(spec: LogSpec, dir: string): Promise<{ files: string[]; rows: number[] }> {
  const text = await readFile(spec.file, 'utf8');
  const lines = text.split('\n');
  let header = '';
  let start = 0;
  if (spec.header) {
    header = lines[0];
    start = 1;
  }
  const ts = new Float64Array(lines.length).fill(Number.NaN);
  let newest = -Infinity;
  for (let i = start; i < lines.length; i++) {
    if (lines[i] === '') continue;
    ts[i] = spec.tsOf(lines[i].split(','));
    if (Number.isNaN(ts[i])) throw new Error(`${spec.file}:${i + 1}: no timestamp in ${JSON.stringify(lines[i])}`);
    if (ts[i] > newest) newest = ts[i];
  }
  // Counted back from the newest row, so the newest period is (newest − len, newest] and whole.
  let maxBack = 0;
  const back = new Int32Array(lines.length).fill(-1);
  for (let i = start; i < lines.length; i++) {
    if (Number.isNaN(ts[i])) continue;
    back[i] = Math.floor((newest - ts[i]) / spec.periodMs);
    if (back[i] > maxBack) maxBack = back[i];
  }
  const count = maxBack + 1;
  const chunks: string[][] = Array.from({ length: count }, () => (spec.header ? [header] : []));
  for (let i = start; i < lines.length; i++) if (back[i] >= 0) chunks[maxBack - back[i]].push(lines[i]);
  await mkdir(dir, { recursive: true });
  const files: string[] = [];
  const rows: number[] = [];
  for (let p = 0; p < count; p++) {
    const file = join(dir, `p${String(p).padStart(2, '0')}.csv`);
    await writeFile(file, `${chunks[p].join('\n')}\n`);
    files.push(file);
    rows.push(chunks[p].length - (spec.header ? 1 : 0));
  }
  return { files, rows };
}

interface Cli {
  code: number;
  stdout: string;
  stderr: string;
  seconds: number;
}

function run(args: string[]): Cli {
  const t = performance.now();
  const r = rec(args);
  return { ...r, seconds: (performance.now() - t) / 1000 };
}

function must(what: string, r: Cli): Cli {
  if (r.code !== 0) throw new Error(`${what} failed (exit ${r.code}): ${r.stderr.trim().slice(-800)}`);
  return r;
}

interface TrainOut {
  train_seconds: number;
  epochs: unknown[];
}

interface EvalOut {
  metrics: Record<string, number>;
  users: { evaluated: number; skipped: number; skipped_by_reason: Record<string, number> };
}

function train(args: string[], out: string): { json: TrainOut; seconds: number } {
  const r = must(`rec train ${args.join(' ')}`, run(['train', ...args, '--out', out, '--json', '-q', '--no-progress']));
  return { json: JSON.parse(r.stdout) as TrainOut, seconds: r.seconds };
}

async function rowsPerEpoch(ckpt: string): Promise<number | null> {
  const runJson = JSON.parse(await readFile(join(ckpt, 'run.json'), 'utf8')) as { fine_tune?: { replay?: { new_rows?: number; replayed_per_epoch?: number } | null } };
  const r = runJson.fine_tune?.replay;
  return r && typeof r.new_rows === 'number' ? r.new_rows + (r.replayed_per_epoch ?? 0) : null;
}

function evaluate(ckpt: string, data: string): EvalOut {
  const r = must(`rec eval ${ckpt}`, run(['eval', ckpt, '--data', data, '--split', 'test', '--protocol', 'full', '--k', '20', '--metrics', 'recall,ndcg', '--backend', 'wasm', '--json', '-q', '--no-progress']));
  return JSON.parse(r.stdout) as EvalOut;
}

function arm(e: EvalOut, t: { json: TrainOut; seconds: number } | null, rows: number | null): ArmResult {
  return {
    recall: e.metrics['recall@20'],
    ndcg: e.metrics['ndcg@20'],
    users: e.users.evaluated,
    skipped: e.users.skipped_by_reason,
    train_seconds: t ? t.json.train_seconds : null,
    process_seconds: t ? Math.round(t.seconds * 100) / 100 : null,
    epochs: t ? t.json.epochs.length : null,
    rows_per_epoch: rows,
  };
}

async function prepCount(dir: string): Promise<{ train: number; newUsers: number | null; newItems: number | null }> {
  const m = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as { rows: { train: number }; append?: { new_users: number; new_items: number } | null };
  return { train: m.rows.train, newUsers: m.append?.new_users ?? null, newItems: m.append?.new_items ?? null };
}

const ARMS = ['stale', 'stale (known users)', 'ft', 'ft+replay', 'scratch'] as const;

/** Nights after the first model: each retrains scratch on everything so far, which dominates the bench's time. */
const NIGHTS = 2;
const NIGHTS_QUICK = 1;

async function runDataset(spec: LogSpec, work: string, steps: number, log: (s: string) => void): Promise<DatasetResult | string> {
  if (spec.make) {
    const why = await spec.make(spec.file);
    if (why) return why;
  }
  if (!existsSync(spec.file)) return `${spec.file} is absent`;
  const dir = join(work, spec.name);
  const { files, rows } = await cutPeriods(spec, join(dir, 'periods'));
  const first = files.length - steps - 2;
  if (first < 0) return `${spec.name}: ${files.length} periods of ${spec.periodText}, too few for ${steps} nights`;
  const result: DatasetResult = {
    name: spec.name,
    periods: spec.periodText,
    period_count: files.length,
    first_model_periods: first + 1,
    settings: { prep: spec.prepFlags, scratch: SCRATCH, fine_tune: [...FINE_TUNE, '--replay', '0'], fine_tune_replay: [...FINE_TUNE_REPLAY, '--replay', REPLAY] },
    nights: [],
    mean: {},
    vs_scratch: {},
    notes: [],
  };
  const T = (d: number) => join(dir, `T${d}`);
  const E = (d: number) => join(dir, `E${d}`);
  let appendWorks = true;
  for (let d = first; d <= first + steps; d++) {
    // The nightly chain: period d appended to yesterday's dataset (first night: periods 0..first).
    if (d === first) {
      must('rec prep (first periods)', run(['prep', ...files.slice(0, d + 1), '--out', T(d), '--split', 'none', ...spec.prepFlags, '-q', '--no-progress']));
    } else if (appendWorks) {
      const r = run(['prep', files[d], '--append-to', T(d - 1), '--out', T(d), '-q', '--no-progress']);
      if (r.code !== 0) {
        appendWorks = false;
        result.notes.push(`rec prep --append-to failed (exit ${r.code}: ${r.stderr.trim().slice(-300)}); the bench preps periods 0..d afresh each night instead`);
      }
    }
    if (d > first && !appendWorks) must('rec prep (periods so far)', run(['prep', ...files.slice(0, d + 1), '--out', T(d), '--split', 'none', ...spec.prepFlags, '-q', '--no-progress']));
    must('rec prep (eval data)', run(['prep', ...files.slice(0, d + 1), '--test', files[d + 1], '--out', E(d), '--split', 'none', ...spec.prepFlags, '-q', '--no-progress']));
    const counts = await prepCount(T(d));
    const night: NightResult = {
      period: d,
      test_period: d + 1,
      rows: { new_period: rows[d], test_period: rows[d + 1], train_total: counts.train },
      new_ids: d === first ? null : counts.newUsers === null ? null : { users: counts.newUsers, items: counts.newItems ?? Number.NaN },
      arms: {},
      load_avg_1m: Math.round(loadavg()[0] * 100) / 100,
    };
    const C = join(dir, `C${d}`);
    const t = train(['--data', T(d), ...SCRATCH], C);
    if (d === first) {
      const e = evaluate(C, E(d));
      for (const name of ARMS) night.arms[name] = arm(e, name === 'scratch' ? t : null, null);
      log(`nightly ${spec.name}: first model on periods 0..${d} (${counts.train} rows), ${t.json.train_seconds.toFixed(1)} s; recall@20 ${e.metrics['recall@20'].toFixed(4)} on period ${d + 1}`);
      result.nights.push(night);
      continue;
    }
    const A = join(dir, `C${first}`);
    const S = join(dir, `S${d}`);
    train(['--data', T(d), '--init-from', A, '--model', 'mf', '--backend', 'wasm', '--epochs', '1', '--lr', '1e-9', '--replay', '0'], S);
    night.arms.stale = arm(evaluate(S, E(d)), null, null);
    night.arms['stale (known users)'] = arm(evaluate(A, E(d)), null, null);
    for (const [name, prefix, flags] of [['ft', 'F', [...FINE_TUNE, '--replay', '0']], ['ft+replay', 'R', [...FINE_TUNE_REPLAY, '--replay', REPLAY]]] as const) {
      const parent = d === first + 1 ? A : join(dir, `${prefix}${d - 1}`);
      const ck = join(dir, `${prefix}${d}`);
      const f = train(['--data', T(d), '--init-from', parent, ...flags], ck);
      night.arms[name] = arm(evaluate(ck, E(d)), f, await rowsPerEpoch(ck));
      if (d - 1 > first) await rm(parent, { recursive: true, force: true });
    }
    night.arms.scratch = arm(evaluate(C, E(d)), t, counts.train);
    await rm(S, { recursive: true, force: true });
    if (d - 1 > first) await rm(join(dir, `C${d - 1}`), { recursive: true, force: true });
    await rm(E(d - 1), { recursive: true, force: true });
    const a = night.arms;
    log(
      `nightly ${spec.name} period ${d} → ${d + 1}: recall@20 stale ${a.stale.recall.toFixed(4)} ft ${a.ft.recall.toFixed(4)} ft+replay ${a['ft+replay'].recall.toFixed(4)} scratch ${a.scratch.recall.toFixed(4)}; ` +
        `train s ft ${a.ft.train_seconds?.toFixed(2)} ft+replay ${a['ft+replay'].train_seconds?.toFixed(2)} scratch ${a.scratch.train_seconds?.toFixed(2)}`,
    );
    result.nights.push(night);
  }
  const later = result.nights.slice(1);
  const mean = (xs: (number | null)[]) => (xs.some((x) => x === null) ? null : Math.round((xs.reduce<number>((s, x) => s + (x ?? 0), 0) / xs.length) * 10000) / 10000);
  for (const name of ARMS) {
    const arms = later.map((n) => n.arms[name]);
    result.mean[name] = {
      recall: mean(arms.map((x) => x.recall)) ?? Number.NaN,
      ndcg: mean(arms.map((x) => x.ndcg)) ?? Number.NaN,
      train_seconds: mean(arms.map((x) => x.train_seconds)),
      process_seconds: mean(arms.map((x) => x.process_seconds)),
    };
  }
  const base = result.mean.scratch;
  const ratio = (x: number | null, y: number | null) => (x === null || y === null || y === 0 ? null : Math.round((x / y) * 1000) / 1000);
  for (const name of ARMS) {
    const m = result.mean[name];
    result.vs_scratch[name] = { recall: ratio(m.recall, base.recall) ?? Number.NaN, ndcg: ratio(m.ndcg, base.ndcg) ?? Number.NaN, train_seconds: ratio(m.train_seconds, base.train_seconds) };
  }
  return result;
}

export async function runNightlyBench(opts: { quick?: boolean; nights?: number; out?: string | null; log?: (s: string) => void; only?: string[] } = {}): Promise<NightlyBenchResult> {
  const log = opts.log ?? ((s: string) => process.stderr.write(`${s}\n`));
  const quick = opts.quick === true;
  // A run with another number of nights keeps the standard result files as they are.
  const name = opts.nights !== undefined ? `nightly-${opts.nights}nights${quick ? '-quick' : ''}.json` : quick ? 'nightly-quick.json' : 'nightly.json';
  const out = opts.out === undefined ? join(REPO, 'bench/results', name) : opts.out;
  const result: NightlyBenchResult = { date: new Date().toISOString(), quick, load_avg: loadavg().map((x) => Math.round(x * 100) / 100), datasets: [], notes: [] };
  const work = await mkdtemp(join(tmpdir(), 'rec-nightly-bench-'));
  let failed = false;
  try {
    const specs = [tmallSpec(), taobaoSpec(), synthSpec(work, quick)].filter((s) => !opts.only || opts.only.includes(s.name));
    for (const spec of quick ? specs.filter((s) => s.name !== 'taobao-excerpt') : specs) {
      // One log failing (a CLI step exiting non-zero) leaves the others' figures; the note says why.
      const r = await runDataset(spec, work, opts.nights ?? (quick ? NIGHTS_QUICK : NIGHTS), log).catch((error: unknown) => {
        failed = true;
        return `${spec.name}: ${error instanceof Error ? error.message : String(error)}`;
      });
      if (typeof r === 'string') {
        result.notes.push(r);
        log(`nightly: ${r}`);
      } else {
        result.datasets.push(r);
      }
      if (out) await writeJsonAtomic(out, result);
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  if (out) await writeJsonAtomic(out, result);
  if (failed) throw new Error(`nightly: ${result.notes.join('; ')} (the other logs' figures are in ${out ?? 'the result'})`);
  return result;
}

/** The per-night table of docs/benchmarks.md for one dataset. */
export function nightlyTable(d: DatasetResult): string {
  const f = (x: number) => x.toFixed(4);
  const s = (x: number | null) => (x === null ? '' : x.toFixed(2));
  const lines = [
    '| trained through → tested on | stale | stale (known users) | ft | ft+replay | scratch | train s: ft / ft+replay / scratch |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const n of d.nights) {
    const a = n.arms;
    const cell = (x: ArmResult) => `${f(x.recall)} / ${f(x.ndcg)}`;
    lines.push(
      `| ${n.period} → ${n.test_period} (${a.scratch.users} users) | ${cell(a.stale)} | ${cell(a['stale (known users)'])} (${a['stale (known users)'].users}) | ${cell(a.ft)} | ${cell(a['ft+replay'])} | ${cell(a.scratch)} | ${s(a.ft.train_seconds)} / ${s(a['ft+replay'].train_seconds)} / ${s(a.scratch.train_seconds)} |`,
    );
  }
  return lines.join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  const at = process.argv.indexOf('--nights');
  const nights = at > 0 ? Number(process.argv[at + 1]) : undefined;
  if (nights !== undefined && !(Number.isInteger(nights) && nights > 0)) throw new Error(`--nights expects a positive integer, received ${process.argv[at + 1]}`);
  const only = process.argv.slice(2).filter((a, i, all) => !a.startsWith('-') && all[i - 1] !== '--nights');
  runNightlyBench({ quick: process.argv.includes('--quick'), nights, only: only.length > 0 ? only : undefined })
    .then((r) => {
      for (const d of r.datasets) process.stderr.write(`\n${d.name} (${d.periods} periods)\n${nightlyTable(d)}\n`);
      process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
    })
    .catch((error: unknown) => {
      process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exitCode = 1;
    });
}
