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
 * On a log with an item catalogue (synth-new-items: `rec synth --catalogue --new-items 0.3`, products launching
 * on later days), every prep passes the catalogue (`--items CAT --item-features …`, every item listed, those
 * launched later too) and the arms are instead
 *
 *   ft            fine-tuned as above, with item features (the default `--features auto`);
 *   ft (ids only) the same chain from an ids-only first model, `--features none` throughout;
 *   scratch       retrained from scratch with item features;
 *
 * each scored on all relevant items, and with `--items warm` and `--items cold` (the new products of period
 * d+1: features but no training row; a model without features has no score there, and rec eval's reason is kept).
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
 * DATASET: tmall-2014, taobao-excerpt, synth-drift, synth-new-items (default all).
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
  /**
   * `rec prep` flags naming an item catalogue (--items CAT --item-features …), given to every prep of the chain
   * and of the evaluation sets; a log with them runs FEATURE_ARMS instead of ARMS.
   */
  itemFlags?: string[];
}

/** One arm scored on a subset of the relevant items (`rec eval --items warm|cold`). */
export interface SliceResult {
  recall: number | null;
  ndcg: number | null;
  users: number | null;
  skipped: Record<string, number>;
  /** Why there is no score (rec eval's exit 2: a model without item features has nothing to rank new items with); null when scored. */
  unavailable: string | null;
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
  /** Logs with a catalogue: how `--items all` treated the relevant items (cold ones are skipped by a model without features). */
  relevant_items?: Record<string, number | string | null>;
  /** Logs with a catalogue: the relevant items with a training row only (`--items warm`), and those without (`--items cold`, new products). */
  warm?: SliceResult;
  cold?: SliceResult;
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
  mean: Record<string, { recall: number; ndcg: number; train_seconds: number | null; process_seconds: number | null; warm?: SliceMean; cold?: SliceMean }>;
  /** Each arm's mean over scratch's mean (recall, ndcg, train seconds): the aim is ft ≥ 0.97 and time < 1/3. */
  vs_scratch: Record<string, { recall: number; ndcg: number; train_seconds: number | null }>;
  notes: string[];
}

/** Mean over the nights after the first; null where a night has no score (a model without features on new items). */
export interface SliceMean {
  recall: number | null;
  ndcg: number | null;
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

const ITEM_FEATURES = 'title:text,brand:category,categories:multi,price:number';

/**
 * A synthetic log whose days bring new products (`rec synth --new-items 0.3`: a share of the items launch on later
 * days, no row before), with its catalogue (items.jsonl: every item, those launched later included), so that each
 * test period holds items with features but no training row.
 */
function synthNewItemsSpec(work: string, quick: boolean): LogSpec {
  const synth = synthSpec(work, quick);
  const catalogue = join(work, 'synth-new-items', 'items.jsonl');
  return {
    ...synth,
    name: 'synth-new-items',
    file: join(work, 'synth-new-items', 'log.csv'),
    itemFlags: ['--items', catalogue, '--item-features', ITEM_FEATURES],
    make: async (file) => {
      const help = rec(['synth', '--help']);
      if (!help.stdout.includes('--new-items')) return 'rec synth has no --new-items flag on this branch: the log with new products was not measured';
      await mkdir(join(work, 'synth-new-items'), { recursive: true });
      const size = quick ? ['--users', '600', '--items', '300', '--events-per-user', '30', '--days', '8'] : ['--users', '1000', '--items', '400', '--events-per-user', '40', '--days', '12'];
      const r = rec(['synth', '--out', file, ...size, '--new-items', '0.3', '--catalogue', catalogue, '--seed', '11', '-q']);
      if (r.code !== 0) return `rec synth --new-items failed (exit ${r.code}): ${r.stderr.trim().slice(-400)}`;
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
  relevant_items?: Record<string, number | string | null>;
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

const EVAL = ['--split', 'test', '--protocol', 'full', '--k', '20', '--metrics', 'recall,ndcg', '--backend', 'wasm', '--json', '-q', '--no-progress'];

function evaluate(ckpt: string, data: string): EvalOut {
  const r = must(`rec eval ${ckpt}`, run(['eval', ckpt, '--data', data, ...EVAL]));
  return JSON.parse(r.stdout) as EvalOut;
}

/** `rec eval --items warm|cold`; its exit 2 (no item features to rank new items with) is a result, with rec eval's reason. */
function slice(ckpt: string, data: string, which: 'warm' | 'cold'): SliceResult {
  const r = run(['eval', ckpt, '--data', data, ...EVAL, '--items', which]);
  // stderr also warns that E_d is not the dataset the model was trained on (true of every arm here): keep the error line.
  const why = r.stderr.split('\n').find((line) => line.startsWith('error: ') && line.includes('without item features'));
  if (r.code === 2 && which === 'cold' && why) return { recall: null, ndcg: null, users: null, skipped: {}, unavailable: why.slice('error: '.length) };
  const e = JSON.parse(must(`rec eval ${ckpt} --items ${which}`, r).stdout) as EvalOut;
  return { recall: e.metrics['recall@20'], ndcg: e.metrics['ndcg@20'], users: e.users.evaluated, skipped: e.users.skipped_by_reason, unavailable: null };
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
/** The arms of a log with a catalogue (LogSpec.itemFlags): fine-tuned with and without item features, and scratch with them. */
const FEATURE_ARMS = ['ft', 'ft (ids only)', 'scratch'] as const;
const IDS_ONLY = ['--features', 'none'];

/** Nights after the first model: each retrains scratch on everything so far, which dominates the bench's time. */
const NIGHTS = 2;
const NIGHTS_QUICK = 1;

/** What one dataset's nights share. */
interface NightContext {
  spec: LogSpec;
  dir: string;
  files: string[];
  rows: number[];
  /** The period the first model is trained through. */
  first: number;
  result: DatasetResult;
  log: (s: string) => void;
  /** Cleared when `rec prep --append-to` fails: later nights prep periods 0..d afresh. */
  appendWorks: boolean;
}

const T = (c: NightContext, d: number) => join(c.dir, `T${d}`);
const E = (c: NightContext, d: number) => join(c.dir, `E${d}`);

/** Night d's datasets: the chain T_d (period d appended to T_{d-1}; first night: periods 0..first) and the evaluation set E_d. */
async function prepNight(c: NightContext, d: number): Promise<NightResult> {
  const { spec, files, first } = c;
  const items = spec.itemFlags ?? [];
  const afresh = () => ['prep', ...files.slice(0, d + 1), '--out', T(c, d), '--split', 'none', ...spec.prepFlags, ...items, '-q', '--no-progress'];
  if (d === first) {
    must('rec prep (first periods)', run(afresh()));
  } else if (c.appendWorks) {
    const r = run(['prep', files[d], '--append-to', T(c, d - 1), '--out', T(c, d), ...items, '-q', '--no-progress']);
    if (r.code !== 0) {
      c.appendWorks = false;
      c.result.notes.push(`rec prep --append-to failed (exit ${r.code}: ${r.stderr.trim().slice(-300)}); the bench preps periods 0..d afresh each night instead`);
    }
  }
  if (d > first && !c.appendWorks) must('rec prep (periods so far)', run(afresh()));
  must('rec prep (eval data)', run(['prep', ...files.slice(0, d + 1), '--test', files[d + 1], '--out', E(c, d), '--split', 'none', ...spec.prepFlags, ...items, '-q', '--no-progress']));
  const counts = await prepCount(T(c, d));
  return {
    period: d,
    test_period: d + 1,
    rows: { new_period: c.rows[d], test_period: c.rows[d + 1], train_total: counts.train },
    new_ids: d === first ? null : counts.newUsers === null ? null : { users: counts.newUsers, items: counts.newItems ?? Number.NaN },
    arms: {},
    load_avg_1m: Math.round(loadavg()[0] * 100) / 100,
  };
}

/** The arms of a log without a catalogue: stale, ft, ft+replay, scratch (the first night: the first model in every arm). */
async function plainNight(c: NightContext, d: number, night: NightResult): Promise<void> {
  const { dir, first, spec } = c;
  const C = join(dir, `C${d}`);
  const t = train(['--data', T(c, d), ...SCRATCH], C);
  if (d === first) {
    const e = evaluate(C, E(c, d));
    for (const name of ARMS) night.arms[name] = arm(e, name === 'scratch' ? t : null, null);
    c.log(`nightly ${spec.name}: first model on periods 0..${d} (${night.rows.train_total} rows), ${t.json.train_seconds.toFixed(1)} s; recall@20 ${e.metrics['recall@20'].toFixed(4)} on period ${d + 1}`);
    return;
  }
  const A = join(dir, `C${first}`);
  const S = join(dir, `S${d}`);
  train(['--data', T(c, d), '--init-from', A, '--model', 'mf', '--backend', 'wasm', '--epochs', '1', '--lr', '1e-9', '--replay', '0'], S);
  night.arms.stale = arm(evaluate(S, E(c, d)), null, null);
  night.arms['stale (known users)'] = arm(evaluate(A, E(c, d)), null, null);
  for (const [name, prefix, flags] of [['ft', 'F', [...FINE_TUNE, '--replay', '0']], ['ft+replay', 'R', [...FINE_TUNE_REPLAY, '--replay', REPLAY]]] as const) {
    const parent = d === first + 1 ? A : join(dir, `${prefix}${d - 1}`);
    const ck = join(dir, `${prefix}${d}`);
    const f = train(['--data', T(c, d), '--init-from', parent, ...flags], ck);
    night.arms[name] = arm(evaluate(ck, E(c, d)), f, await rowsPerEpoch(ck));
    if (d - 1 > first) await rm(parent, { recursive: true, force: true });
  }
  night.arms.scratch = arm(evaluate(C, E(c, d)), t, night.rows.train_total);
  await rm(S, { recursive: true, force: true });
  if (d - 1 > first) await rm(join(dir, `C${d - 1}`), { recursive: true, force: true });
  const a = night.arms;
  c.log(
    `nightly ${spec.name} period ${d} → ${d + 1}: recall@20 stale ${a.stale.recall.toFixed(4)} ft ${a.ft.recall.toFixed(4)} ft+replay ${a['ft+replay'].recall.toFixed(4)} scratch ${a.scratch.recall.toFixed(4)}; ` +
      `train s ft ${a.ft.train_seconds?.toFixed(2)} ft+replay ${a['ft+replay'].train_seconds?.toFixed(2)} scratch ${a.scratch.train_seconds?.toFixed(2)}`,
  );
}

/** One arm scored on all relevant items, then on the warm and the cold ones alone. */
function featureArm(ckpt: string, data: string, t: { json: TrainOut; seconds: number } | null, rows: number | null): ArmResult {
  const e = evaluate(ckpt, data);
  return { ...arm(e, t, rows), relevant_items: e.relevant_items, warm: slice(ckpt, data, 'warm'), cold: slice(ckpt, data, 'cold') };
}

/**
 * The arms of a log with a catalogue: `ft` fine-tunes with item features (the default), `ft (ids only)` the
 * same chain from an ids-only first model with `--features none` throughout, `scratch` retrains with features.
 * The first night trains both first models (scratch and ids only).
 */
async function featureNight(c: NightContext, d: number, night: NightResult): Promise<void> {
  const { dir, first, spec } = c;
  const C = join(dir, `C${d}`);
  const t = train(['--data', T(c, d), ...SCRATCH], C);
  if (d === first) {
    const I = join(dir, `I${d}`);
    const ti = train(['--data', T(c, d), ...SCRATCH, ...IDS_ONLY], I);
    night.arms.scratch = featureArm(C, E(c, d), t, night.rows.train_total);
    night.arms.ft = { ...night.arms.scratch, train_seconds: null, process_seconds: null, epochs: null, rows_per_epoch: null };
    night.arms['ft (ids only)'] = featureArm(I, E(c, d), ti, night.rows.train_total);
    c.log(`nightly ${spec.name}: first models on periods 0..${d} (${night.rows.train_total} rows), ${t.json.train_seconds.toFixed(1)} s with features, ${ti.json.train_seconds.toFixed(1)} s ids only`);
    return;
  }
  for (const [name, prefix, firstParent, flags] of [['ft', 'F', 'C', []], ['ft (ids only)', 'J', 'I', IDS_ONLY]] as const) {
    const parent = join(dir, d === first + 1 ? `${firstParent}${first}` : `${prefix}${d - 1}`);
    const ck = join(dir, `${prefix}${d}`);
    const f = train(['--data', T(c, d), '--init-from', parent, ...FINE_TUNE, '--replay', '0', ...flags], ck);
    night.arms[name] = featureArm(ck, E(c, d), f, await rowsPerEpoch(ck));
    if (d - 1 > first) await rm(parent, { recursive: true, force: true });
  }
  night.arms.scratch = featureArm(C, E(c, d), t, night.rows.train_total);
  if (d - 1 > first) await rm(join(dir, `C${d - 1}`), { recursive: true, force: true });
  const a = night.arms;
  const cold = (x: ArmResult) => (x.cold?.recall == null ? 'n/a' : x.cold.recall.toFixed(4));
  c.log(
    `nightly ${spec.name} period ${d} → ${d + 1}: recall@20 all / cold: ft ${a.ft.recall.toFixed(4)} / ${cold(a.ft)}, ft (ids only) ${a['ft (ids only)'].recall.toFixed(4)} / ${cold(a['ft (ids only)'])}, ` +
      `scratch ${a.scratch.recall.toFixed(4)} / ${cold(a.scratch)}; train s ft ${a.ft.train_seconds?.toFixed(2)} ids only ${a['ft (ids only)'].train_seconds?.toFixed(2)} scratch ${a.scratch.train_seconds?.toFixed(2)}`,
  );
}

const mean = (xs: (number | null)[]) => (xs.some((x) => x === null) ? null : Math.round((xs.reduce<number>((s, x) => s + (x ?? 0), 0) / xs.length) * 10000) / 10000);
const ratio = (x: number | null, y: number | null) => (x === null || y === null || y === 0 ? null : Math.round((x / y) * 1000) / 1000);

/** Means over the nights after the first, and each arm's over scratch's. */
function summarise(result: DatasetResult, names: readonly string[]): void {
  const later = result.nights.slice(1);
  for (const name of names) {
    const arms = later.map((n) => n.arms[name]);
    result.mean[name] = {
      recall: mean(arms.map((x) => x.recall)) ?? Number.NaN,
      ndcg: mean(arms.map((x) => x.ndcg)) ?? Number.NaN,
      train_seconds: mean(arms.map((x) => x.train_seconds)),
      process_seconds: mean(arms.map((x) => x.process_seconds)),
    };
    for (const which of ['warm', 'cold'] as const) {
      const slices = arms.map((x) => x[which]);
      if (slices.every((s) => s === undefined)) continue;
      result.mean[name][which] = { recall: mean(slices.map((s) => s?.recall ?? null)), ndcg: mean(slices.map((s) => s?.ndcg ?? null)) };
    }
  }
  const base = result.mean.scratch;
  for (const name of names) {
    const m = result.mean[name];
    result.vs_scratch[name] = { recall: ratio(m.recall, base.recall) ?? Number.NaN, ndcg: ratio(m.ndcg, base.ndcg) ?? Number.NaN, train_seconds: ratio(m.train_seconds, base.train_seconds) };
  }
}

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
  const featured = spec.itemFlags !== undefined;
  const settings: Record<string, string[]> = featured
    ? { prep: [...spec.prepFlags, ...(spec.itemFlags ?? [])], scratch: SCRATCH, fine_tune: [...FINE_TUNE, '--replay', '0'], fine_tune_ids_only: [...FINE_TUNE, '--replay', '0', ...IDS_ONLY] }
    : { prep: spec.prepFlags, scratch: SCRATCH, fine_tune: [...FINE_TUNE, '--replay', '0'], fine_tune_replay: [...FINE_TUNE_REPLAY, '--replay', REPLAY] };
  const result: DatasetResult = { name: spec.name, periods: spec.periodText, period_count: files.length, first_model_periods: first + 1, settings, nights: [], mean: {}, vs_scratch: {}, notes: [] };
  const c: NightContext = { spec, dir, files, rows, first, result, log, appendWorks: true };
  for (let d = first; d <= first + steps; d++) {
    const night = await prepNight(c, d);
    await (featured ? featureNight(c, d, night) : plainNight(c, d, night));
    if (d > first) await rm(E(c, d - 1), { recursive: true, force: true });
    result.nights.push(night);
  }
  summarise(result, featured ? FEATURE_ARMS : ARMS);
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
    const specs = [tmallSpec(), taobaoSpec(), synthSpec(work, quick), synthNewItemsSpec(work, quick)].filter((s) => !opts.only || opts.only.includes(s.name));
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
  if (d.settings.fine_tune_ids_only) return featureTable(d);
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

/** The per-night table of a log with a catalogue: each arm on all relevant items, the warm ones and the new ones (cold). */
export function featureTable(d: DatasetResult): string {
  const f = (x: number | null) => (x === null ? '–' : x.toFixed(4));
  const cell = (x: { recall: number | null; ndcg: number | null }) => `${f(x.recall)} / ${f(x.ndcg)}`;
  const part = (x: SliceResult | undefined) => (x === undefined ? '' : x.unavailable !== null ? 'no score (no item features)' : `${cell(x)} (${x.users})`);
  const lines = ['| trained through → tested on | arm | all (users) | warm (users) | cold: new items (users) | train s |', '|---|---|---|---|---|---|'];
  for (const n of d.nights) {
    for (const name of FEATURE_ARMS) {
      const a = n.arms[name];
      lines.push(`| ${n.period} → ${n.test_period} | ${name} | ${cell(a)} (${a.users}) | ${part(a.warm)} | ${part(a.cold)} | ${a.train_seconds === null ? '' : a.train_seconds.toFixed(2)} |`);
    }
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
