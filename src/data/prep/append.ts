/**
 * `rec prep LOG... --append-to BASE --out NEW` (nightly retraining): NEW starts from BASE's rows and
 * vocabularies, and the new logs are added to them as in any prep (cleaned, de-duplicated, k-core,
 * split over all rows).
 *
 * What stays stable from BASE to NEW, so that a model trained on BASE lines up with NEW:
 *  - every user and item of BASE keeps its index (even when all its rows aged out or were
 *    filtered: it is then in users.arrow/items.arrow with count 0); ids first seen in the new logs
 *    take the next indices, in order of first appearance;
 *  - event codes (BASE's dictionary first), values and seq of BASE's rows; new rows get seq after
 *    BASE's largest;
 *  - under a random split, BASE's rows keep the split they had (a fresh draw would move BASE's
 *    test rows into train, which a model fine-tuned from BASE and evaluated on NEW would have
 *    seen); the other splits (temporal, days, leave-last, none) are recomputed over all rows.
 *
 * The new logs are read with BASE's prep settings except those the caller set explicitly.
 * A log whose content (the text read from it, a .gz decompressed: source.ts) is already among
 * BASE's sources is not read again, which makes a re-run of the same night idempotent, even from a
 * copy compressed again.
 */
import type { PrepConfig } from '../../config/schema.js';
import { DataError, UsageError } from '../../util/errors.js';
import { keyFingerprint } from '../anonymize.js';
import { loadDataset, manifestSha256, readManifest, type Dataset, type SplitData } from '../dataset.js';
import type { DatasetManifest } from '../manifest.js';
export type { ManifestAppend } from '../manifest.js';
import type { Ingest } from './ingest.js';
import { COLUMN_ROLES } from './options.js';
import { TEST, TRAIN, VALID } from './order.js';
import type { RowStore } from './store.js';

/** Prep settings a new log is read with when the caller leaves them at their defaults: BASE's. */
export const INHERITED_KEYS = [
  'format',
  'delimiter',
  'header',
  'columns',
  'ts_unit',
  'ts_format',
  'ts_year',
  'feedback',
  'event_weights',
  'dedupe',
  'min_user',
  'min_item',
  'split',
  'anonymize',
] as const satisfies readonly (keyof PrepConfig)[];

export interface AppendBase {
  dir: string;
  manifest: DatasetManifest;
  manifestSha256: string;
}

/** BASE's manifest (enough to resolve settings and to tell that nothing is new); rows come later. */
export async function loadAppendBase(dir: string): Promise<AppendBase> {
  const manifest = await readManifest(dir);
  return { dir, manifest, manifestSha256: await manifestSha256(dir) };
}

/** BASE's rows and vocabularies; refuses a folder whose manifest changed since loadAppendBase. */
export async function loadBaseData(base: AppendBase): Promise<Dataset> {
  const data = await loadDataset(base.dir);
  if ((await manifestSha256(base.dir)) !== base.manifestSha256) {
    throw new DataError(`--append-to ${base.dir} changed while it was being read (another rec prep writing it?). Nothing was written; run again.`);
  }
  return data;
}

function str(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}

/** `user=C,item=C,…` from the column map BASE recorded (names or indices), when every name can be written so. */
function columnsFromMap(map: Record<string, string | number> | undefined): string | null {
  if (map === undefined) return null;
  const parts: string[] = [];
  for (const role of COLUMN_ROLES) {
    const c = map[role];
    if (c === undefined) continue;
    const text = String(c);
    // A name with , or = (or one that reads as an index) cannot round-trip through --columns.
    if (typeof c === 'string' && (/[,=]/.test(text) || /^\d+$/.test(text) || text.trim() !== text || text === '')) return null;
    parts.push(`${role}=${text}`);
  }
  return parts.length >= 2 ? parts.join(',') : null;
}

/**
 * The settings the new logs are read with: the caller's for every key in `explicit` (set by a flag
 * or a config file), BASE's for the others. Returns the resolved config and the keys taken from BASE.
 */
export function inheritPrepConfig(cfg: PrepConfig, base: DatasetManifest, explicit: ReadonlySet<string>): { cfg: PrepConfig; inherited: string[] } {
  const p = base.prep;
  const out: PrepConfig = { ...cfg };
  const inherited: string[] = [];
  const take = <K extends (typeof INHERITED_KEYS)[number]>(key: K, value: PrepConfig[K] | undefined): void => {
    if (explicit.has(key) || value === undefined) return;
    out[key] = value;
    inherited.push(key);
  };
  const fmt = p.format;
  take('format', fmt === 'auto' || fmt === 'csv' || fmt === 'tsv' || fmt === 'jsonl' || fmt === 'parquet' || fmt === 'arrow' ? fmt : undefined);
  take('delimiter', p.delimiter === null || typeof p.delimiter === 'string' ? (p.delimiter as string | null) : undefined);
  take('header', p.header === null || typeof p.header === 'boolean' ? (p.header as boolean | null) : undefined);
  const colMap = base.sources.find((s) => s.role === 'log')?.columns;
  take('columns', str(p.columns) ?? columnsFromMap(colMap) ?? null);
  const unit = p.ts_unit;
  take('ts_unit', unit === 'auto' || unit === 's' || unit === 'ms' || unit === 'iso' ? unit : undefined);
  take('ts_format', p.ts_format === null ? null : (str(p.ts_format) ?? undefined));
  take('ts_year', p.ts_year === null ? null : typeof p.ts_year === 'number' ? p.ts_year : undefined);
  take('feedback', base.feedback.kind);
  const w = base.feedback.event_weights;
  take('event_weights', w === null ? null : Object.entries(w).map(([k, v]) => `${k}=${v}`).join(','));
  take('dedupe', base.dedupe);
  take('min_user', base.kcore.min_user);
  take('min_item', base.kcore.min_item);
  take('split', base.split.spec);
  take('anonymize', base.anonymize !== null);
  return { cfg: out, inherited };
}

/** Usage errors for settings that would make BASE's rows and the new rows disagree. */
export function checkAppendCompatible(cfg: PrepConfig, base: AppendBase, anonKey: Buffer | undefined): void {
  const m = base.manifest;
  const where = `--append-to ${base.dir}`;
  if (m.split.predefined.valid !== null || m.split.predefined.test !== null) {
    throw new UsageError(`${where}: the base dataset was prepped with --test/--valid files, whose rows cannot be told apart from the split's. Expected a base prepped with --split (e.g. --split days:0,1).`);
  }
  if (cfg.test !== null || cfg.valid !== null) {
    throw new UsageError(`${where} cannot take --test/--valid files (config prep.test, prep.valid). Expected --split, e.g. --split days:0,1 to test on the newest day.`);
  }
  if (cfg.feedback !== 'auto' && cfg.feedback !== m.feedback.kind) {
    throw new UsageError(`--feedback ${cfg.feedback} differs from the base dataset's ${m.feedback.kind} feedback (${where}). Expected the same feedback kind for the base rows and the new ones.`);
  }
  const baseWeights = m.feedback.event_weights;
  if (m.feedback.kind === 'implicit' && m.events !== null && cfg.event_weights !== null) {
    const given = new Map(cfg.event_weights.split(',').map((kv) => [kv.slice(0, kv.lastIndexOf('=')).trim(), Number(kv.slice(kv.lastIndexOf('=') + 1))] as const));
    const same = baseWeights !== null && Object.keys(baseWeights).length === given.size && Object.entries(baseWeights).every(([k, v]) => given.get(k) === v);
    if (!same) {
      throw new UsageError(
        `--event-weights ${cfg.event_weights} differ from the base dataset's ${baseWeights === null ? 'unweighted events' : Object.entries(baseWeights).map(([k, v]) => `${k}=${v}`).join(',')} (${where}): the base rows' values were computed with those. Expected the same weights, or a fresh rec prep of all the logs.`,
      );
    }
  }
  if (cfg.anonymize !== (m.anonymize !== null)) {
    throw new UsageError(
      `${cfg.anonymize ? '--anonymize is given' : '--anonymize is not given'} but the base dataset's user ids ${m.anonymize !== null ? 'are' : 'are not'} anonymised (${where}). Expected the same setting, so users of the new logs meet their rows in the base.`,
    );
  }
  if (m.anonymize !== null && anonKey === undefined) {
    throw new UsageError(`${where}: the base dataset's user ids are anonymised (key fingerprint ${m.anonymize.key_fingerprint}). Expected its key via --anonymize-key-file FILE (config prep.anonymize_key_file) or REC_ANON_KEY, so new users are hashed alike.`);
  }
  if (m.anonymize !== null && anonKey !== undefined && keyFingerprint(anonKey) !== m.anonymize.key_fingerprint) {
    throw new UsageError(
      `The anonymisation key (--anonymize-key-file or REC_ANON_KEY) has fingerprint ${keyFingerprint(anonKey)}, but the base dataset was anonymised with the key of fingerprint ${m.anonymize.key_fingerprint} (${where}). Expected the same key, so the same user gets the same id.`,
    );
  }
}

/** The column roles BASE mapped, in the order prep compares them ("user,item,ts", …). */
export function baseRoles(m: DatasetManifest): string {
  const map = m.sources.find((s) => s.role === 'log')?.columns ?? {};
  return COLUMN_ROLES.filter((r) => map[r] !== undefined).join(',');
}

export interface PreloadedBase {
  /** Rows taken from BASE's split files. */
  rows: number;
  /** First seq of the new logs' rows (BASE's largest + 1). */
  seqStart: number;
  /** BASE's rows by ascending seq: their seq and split code (to restore a random split). */
  seq: Float64Array;
  split: Uint8Array;
  users: number;
  items: number;
}

/** Puts BASE's ids, events and rows (in seq order, as prep stores rows) into a fresh Ingest. */
export function preloadBase(ing: Ingest, d: Dataset): PreloadedBase {
  ing.preload(d.users.ids, d.items.ids, d.eventNames);
  const parts: [SplitData, number][] = [
    [d.train, TRAIN],
    [d.valid, VALID],
    [d.test, TEST],
  ];
  const n = d.train.length + d.valid.length + d.test.length;
  const seqAll = new Float64Array(n);
  const code = new Uint8Array(n);
  const part = new Uint8Array(n);
  const row = new Int32Array(n);
  let at = 0;
  let maxSeq = -1;
  for (let p = 0; p < 3; p++) {
    const s = parts[p][0];
    for (let i = 0; i < s.length; i++) {
      seqAll[at] = s.seq[i];
      if (s.seq[i] > maxSeq) maxSeq = s.seq[i];
      code[at] = parts[p][1];
      part[at] = p;
      row[at] = i;
      at++;
    }
  }
  const order = new Int32Array(n);
  for (let k = 0; k < n; k++) order[k] = k;
  // Seqs are unique integers; a direct table is O(n) where they are dense enough, else a sort.
  if (maxSeq + 1 <= 8 * n + 1024) {
    const pos = new Int32Array(maxSeq + 1).fill(-1);
    for (let k = 0; k < n; k++) pos[seqAll[k]] = k;
    let j = 0;
    for (let s = 0; s <= maxSeq; s++) if (pos[s] >= 0) order[j++] = pos[s];
  } else {
    order.sort((a, b) => seqAll[a] - seqAll[b]);
  }
  const seq = new Float64Array(n);
  const split = new Uint8Array(n);
  const store = ing.store;
  store.reserve(n);
  for (let j = 0; j < n; j++) {
    const k = order[j];
    const s = parts[part[k]][0];
    const i = row[k];
    seq[j] = seqAll[k];
    split[j] = code[k];
    store.push(s.users[i], s.items[i], s.values[i], s.ts !== null ? s.ts[i] : 0, s.seq[i], s.events !== null ? s.events[i] : 0);
  }
  const seqStart = maxSeq + 1;
  ing.seq = seqStart;
  return { rows: n, seqStart, seq, split, users: d.users.ids.length, items: d.items.ids.length };
}

/** Under a random split, BASE's rows go back to the split they had in BASE (new rows keep their draw). */
export function restoreBaseSplits(store: RowStore, assign: Uint8Array, base: PreloadedBase): void {
  const { seq: baseSeq, split } = base;
  const n = store.length;
  const seq = store.seq;
  for (let i = 0; i < n; i++) {
    const s = seq[i];
    if (s >= base.seqStart) continue;
    const a = assign[i];
    if (a !== TRAIN && a !== VALID && a !== TEST) continue;
    let lo = 0;
    let hi = baseSeq.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (baseSeq[mid] < s) lo = mid + 1;
      else hi = mid;
    }
    if (baseSeq[lo] === s) assign[i] = split[lo];
  }
}

/**
 * Under --anonymize, BASE's user ids are HMACs and the new logs' are raw: each new raw id whose HMAC
 * is a BASE id is folded onto that index (its rows renumbered), so the same person keeps one row of
 * the model. The indices left behind keep no rows, so the compaction drops them.
 */
export function foldAnonymizedUsers(store: RowStore, baseUsers: readonly string[], rawAt: (k: number) => string, nUsers: number, hmac: (raw: string) => string): void {
  const nBase = baseUsers.length;
  if (nUsers === nBase) return;
  const index = new Map<string, number>();
  for (let k = 0; k < nBase; k++) index.set(baseUsers[k], k);
  const remap = new Int32Array(nUsers - nBase);
  let folded = 0;
  for (let k = nBase; k < nUsers; k++) {
    const b = index.get(hmac(rawAt(k)));
    remap[k - nBase] = b ?? k;
    if (b !== undefined) folded++;
  }
  if (folded === 0) return;
  const users = store.users;
  for (let i = 0; i < store.length; i++) {
    const u = users[i];
    if (u >= nBase) users[i] = remap[u - nBase];
  }
}
