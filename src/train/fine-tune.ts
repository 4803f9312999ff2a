/**
 * Fine-tuning on new days of data (`--init-from` with one parent of the same model;
 * docs/nightly.md#fine-tuning-rec-train---init-from-ckpt):
 *
 * - The model keeps its catalogue. Ids the parent knew that this dataset lacks (aged out of a
 *   window, or simply inactive) are appended to the model's vocabulary after the dataset's own
 *   indices, so dataset index i is still model row i, and their rows are carried over from the
 *   parent. The extended vocabulary is what the checkpoint's `vocab/` holds; eval and recommend
 *   map data to the model by raw id, so they need nothing else.
 * - `--replay F` trains on the rows newer than the parent's training data (its run.json
 *   `dataset.train_max_ts`) plus, each epoch, a fresh seeded sample of F × (new rows) drawn from
 *   the older training rows: the "rehearsal" remedy for catastrophic forgetting. `--replay 0`
 *   trains on the new rows alone. Without --replay the whole train split is used, as before
 *   (NeuMF pretraining from GMF + MLP fits the same data again, so "new rows" would be none).
 */
import { rename } from 'node:fs/promises';
import { join } from 'node:path';
import { readVocabFile, type Vocab } from '../data/dataset.js';
import { VOCAB_FILES } from '../data/manifest.js';
import { writeVocab as writeVocabArrow } from '../data/prep/arrow-write.js';
import { tempNameBeside } from '../io/atomic.js';
import { paths, readRunJson, type FineTuneRecord, type ReplayRecord, type RunJson, writeVocab } from '../io/checkpoint.js';
import { denseOf, tablesOf, type AnyModel } from '../models/model.js';
import { UsageError } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import type { Prng } from '../util/prng.js';
import { positiveRows, type Interactions } from './pair-data.js';

/** Parent ids missing from this dataset, with their vocabulary columns, in the parent's order. */
export interface VocabExtension {
  ids: string[];
  counts: Int32Array;
  firstTs: Float64Array;
  lastTs: Float64Array;
}

export interface CatalogueExtension {
  users: VocabExtension;
  items: VocabExtension;
}

export const NO_EXTENSION: CatalogueExtension = { users: emptyExtension(), items: emptyExtension() };

function emptyExtension(): VocabExtension {
  return { ids: [], counts: new Int32Array(0), firstTs: new Float64Array(0), lastTs: new Float64Array(0) };
}

function missingFrom(parent: Vocab, mine: readonly string[]): VocabExtension {
  const have = new Set(mine);
  const rows: number[] = [];
  for (let j = 0; j < parent.ids.length; j++) if (!have.has(parent.ids[j])) rows.push(j);
  return {
    ids: rows.map((j) => parent.ids[j]),
    counts: Int32Array.from(rows, (j) => parent.counts[j]),
    firstTs: Float64Array.from(rows, (j) => parent.firstTs[j]),
    lastTs: Float64Array.from(rows, (j) => parent.lastTs[j]),
  };
}

/**
 * The ids a fine-tuned model must keep although this dataset lacks them. Only for fine-tuning one
 * parent of the same model: NeuMF built from a GMF and an MLP parent takes the dataset's ids (two
 * parents could disagree on an id, leaving half its rows random).
 */
export async function catalogueExtension(parents: readonly string[], sameModel: boolean, ids: { users: readonly string[]; items: readonly string[] }): Promise<CatalogueExtension> {
  if (parents.length !== 1 || !sameModel) return NO_EXTENSION;
  const vocab = paths(parents[0]).vocab;
  const [users, items] = await Promise.all([readVocabFile(join(vocab, VOCAB_FILES.users)), readVocabFile(join(vocab, VOCAB_FILES.items))]);
  return { users: missingFrom(users, ids.users), items: missingFrom(items, ids.items) };
}

/**
 * Writes the checkpoint's `vocab/`: the dataset's users.arrow and items.arrow, followed by the
 * extension's ids when there are any (same columns; counts and times are the parent's).
 */
export async function writeCheckpointVocab(ckpt: string, datasetDir: string, ext: CatalogueExtension): Promise<void> {
  await writeVocab(ckpt, datasetDir);
  for (const which of ['users', 'items'] as const) {
    const extra = ext[which];
    if (extra.ids.length === 0) continue;
    const path = join(paths(ckpt).vocab, VOCAB_FILES[which]);
    const base = await readVocabFile(path);
    const tmp = tempNameBeside(path);
    await writeVocabArrow(
      tmp,
      [...base.ids, ...extra.ids],
      concat(Int32Array, base.counts, extra.counts),
      concat(Float64Array, base.firstTs, extra.firstTs),
      concat(Float64Array, base.lastTs, extra.lastTs),
    );
    await rename(tmp, path);
  }
}

function concat<T extends Int32Array | Float64Array>(Ctor: { new (n: number): T }, a: T, b: T): T {
  const out = new Ctor(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** The latest timestamp (epoch ms) among the training rows; null without timestamps or rows. */
export function trainMaxTs(ts: Float64Array | null | undefined): number | null {
  if (!ts || ts.length === 0) return null;
  let max = -Infinity;
  for (let i = 0; i < ts.length; i++) if (ts[i] > max) max = ts[i];
  return Number.isFinite(max) ? max : null;
}

/** The rows of `data` that `keep` accepts. */
export function selectRows(data: Interactions, keep: (row: number) => boolean): Interactions {
  let n = 0;
  for (let r = 0; r < data.users.length; r++) if (keep(r)) n++;
  const users = new Int32Array(n);
  const items = new Int32Array(n);
  const values = new Float32Array(n);
  const ts = data.ts === undefined ? undefined : new Float64Array(n);
  for (let r = 0, w = 0; r < data.users.length; r++) {
    if (!keep(r)) continue;
    users[w] = data.users[r];
    items[w] = data.items[r];
    if (ts !== undefined && data.ts !== undefined) ts[w] = data.ts[r];
    values[w++] = data.values[r];
  }
  return { users, items, values, numUsers: data.numUsers, numItems: data.numItems, ...(ts === undefined ? {} : { ts }) };
}

export interface Replay {
  record: ReplayRecord;
  newer: Interactions;
  older: Interactions;
}

export interface ReplayRequest {
  /** train.replay: null = off (the whole train split). */
  fraction: number | null;
  source: string;
  parents: readonly string[];
  /** Every training row, with its timestamps (null when the dataset has none). */
  train: Interactions;
  ts: Float64Array | null;
  /** bce/bpr: train.positive_threshold, applied to both parts as to the whole split. */
  threshold: number | null;
  log: Pick<Logger, 'warn' | 'info'>;
}

/**
 * Splits the training rows at the parent's `train_max_ts` (see the file comment). Null when
 * replay is off, or when the parent predates the record (with a warning: the whole split is used).
 * `since_ts` on resume comes from the run's own record, so a resumed run selects the same rows.
 */
export async function planReplay(req: ReplayRequest, resumed: ReplayRecord | null = null): Promise<Replay | null> {
  if (req.fraction === null) return null;
  const flag = `train.replay ${req.fraction} (from ${req.source})`;
  if (req.parents.length !== 1 && resumed === null) {
    throw new UsageError(`${flag} fine-tunes from one parent checkpoint on the rows newer than its training data; received ${req.parents.length} --init-from checkpoints. Pass one --init-from CKPT, or drop --replay.`);
  }
  let since = resumed?.since_ts ?? null;
  if (resumed === null) {
    const parent: RunJson = await readRunJson(req.parents[0]);
    since = parent.dataset.train_max_ts ?? null;
    if (since === null) {
      req.log.warn(
        `${flag}: --init-from ${req.parents[0]} does not record the latest timestamp of its training data (dataset.train_max_ts in run.json: a checkpoint from an older rec, or data without timestamps), so new rows cannot be told from old ones: training on the whole train split instead.`,
      );
      return null;
    }
  }
  if (req.ts === null) {
    throw new UsageError(`${flag} selects the training rows newer than the parent's by timestamp, but this dataset has no timestamps. Prep the logs with a ts column, or drop --replay.`);
  }
  const cut = since as number;
  const ts = req.ts;
  const positives = (rows: Interactions) => (req.threshold === null ? rows : positiveRows(rows, req.threshold));
  // The rows keep their times for on_sale negatives (train.negative_sampling).
  const timed = { ...req.train, ts };
  const newer = positives(selectRows(timed, (r) => ts[r] > cut));
  const older = positives(selectRows(timed, (r) => ts[r] <= cut));
  if (newer.users.length === 0) {
    throw new UsageError(
      `${flag}: no training rows are newer than the parent's training data (after ${new Date(cut).toISOString()}, its dataset.train_max_ts); there is nothing new to fine-tune on. Append the new days first (rec prep LOG --append-to DATASET), or train without --replay to refit the whole split.`,
    );
  }
  const perEpoch = Math.min(older.users.length, Math.round(req.fraction * newer.users.length));
  const record: ReplayRecord = { fraction: req.fraction, since_ts: cut, new_rows: newer.users.length, old_rows: older.users.length, replayed_per_epoch: perEpoch };
  req.log.info(
    `--replay ${req.fraction}: training on the ${newer.users.length} rows after ${new Date(cut).toISOString()} plus ${perEpoch} of the ${older.users.length} older rows, drawn afresh each epoch`,
  );
  return { record, newer, older };
}

/** One epoch's rows: every new row, then a sample without replacement of the older ones (buildEpoch shuffles). */
export function replayEpoch(replay: Replay, rng: Prng): Interactions {
  const { newer, older } = replay;
  const k = replay.record.replayed_per_epoch;
  if (k === 0) return newer;
  // Partial Fisher–Yates: the first k positions of a permutation, O(k) draws.
  const n = older.users.length;
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  for (let i = 0; i < k; i++) {
    const j = i + rng.int(n - i);
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  const m = newer.users.length;
  const users = new Int32Array(m + k);
  const items = new Int32Array(m + k);
  const values = new Float32Array(m + k);
  users.set(newer.users);
  items.set(newer.items);
  values.set(newer.values);
  const ts = newer.ts !== undefined && older.ts !== undefined ? new Float64Array(m + k) : undefined;
  ts?.set(newer.ts ?? []);
  for (let i = 0; i < k; i++) {
    const r = order[i];
    users[m + i] = older.users[r];
    items[m + i] = older.items[r];
    values[m + i] = older.values[r];
    if (ts !== undefined && older.ts !== undefined) ts[m + i] = older.ts[r];
  }
  return { users, items, values, numUsers: newer.numUsers, numItems: newer.numItems, ...(ts === undefined ? {} : { ts }) };
}

/** What run.json records about a fine-tune: the parent, ids added / reused / kept, rows frozen, replay. */
export function fineTuneRecord(args: {
  parents: readonly string[];
  matched: { users: number; items: number };
  dataset: { users: number; items: number };
  ext: CatalogueExtension;
  model: AnyModel;
  frozen: ReadonlySet<string>;
  freeze: readonly string[];
  replay: Replay | null;
}): FineTuneRecord {
  const { matched, dataset, ext } = args;
  const rowsFrozen = { users: 0, items: 0 };
  const tables: Record<string, number> = {};
  for (const t of tablesOf(args.model)) {
    if (!args.frozen.has(t.name)) continue;
    const rows = t.variable.shape[0] as number;
    tables[t.name] = rows;
    rowsFrozen[t.kind === 'user' ? 'users' : 'items'] = Math.max(rowsFrozen[t.kind === 'user' ? 'users' : 'items'], rows);
  }
  const dense = denseOf(args.model).filter((v) => args.frozen.has(v.name)).length;
  return {
    parents: [...args.parents],
    users: { reused: matched.users, added: dataset.users - matched.users, kept_without_data: ext.users.ids.length, total: dataset.users + ext.users.ids.length },
    items: { reused: matched.items, added: dataset.items - matched.items, kept_without_data: ext.items.ids.length, total: dataset.items + ext.items.ids.length },
    frozen: { parts: [...args.freeze], tables, rows: rowsFrozen, dense_variables: dense },
    replay: args.replay?.record ?? null,
  };
}
