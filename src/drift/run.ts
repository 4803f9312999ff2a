/**
 * `rec drift OLD NEW` as a library call: each side a dataset folder (written by rec prep) or a log
 * file (read with prep's readers, nothing written), compared by compareProfiles.
 *
 * What counts as a row: a dataset's rows in train + valid + test (after its dedupe and k-core); a
 * log's accepted rows (rejects left out, no dedupe). When one side is a dataset and the other a
 * log, the log is read with the dataset's prep settings (columns, format, event weights, …) except
 * those given explicitly, as `rec prep --append-to` would read it.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { PrepConfig } from '../config/schema.js';
import { UsageError } from '../util/errors.js';
import type { RunIO } from '../util/run-io.js';
import { anonymizeId, keyFingerprint } from '../data/anonymize.js';
import { loadDataset } from '../data/dataset.js';
import { MANIFEST_FILE, type DatasetManifest } from '../data/manifest.js';
import { hasGlob } from '../data/prep/inputs.js';
import { pathExists } from '../io/atomic.js';
import { datasetPathExists, readManifest } from '../data/dataset.js';
import { inheritPrepConfig } from '../data/prep/append.js';
import { readLogs } from '../data/prep/run.js';
import { checkDrift, type DriftCheck, type DriftLimit } from './gate.js';
import { compareProfiles, type DriftMetrics, type Profile } from './metrics.js';

export interface DriftRequest {
  old: string;
  new: string;
  /** How a log side is read (prep: settings). */
  config: PrepConfig;
  /** Prep settings set explicitly; the others come from the dataset side when the other is a log. */
  explicitKeys?: ReadonlySet<string>;
  /** Needed when one side is an anonymised dataset and the other a log of raw ids. */
  anonKey?: Buffer;
  limits: readonly DriftLimit[];
}

export interface ProfileSummary {
  source: string;
  kind: 'dataset' | 'log';
  rows: number;
  users: number;
  items: number;
  events: Record<string, number> | null;
  min_ts: number | null;
  max_ts: number | null;
  min_iso: string | null;
  max_iso: string | null;
}

export interface DriftResult {
  old: ProfileSummary;
  new: ProfileSummary;
  metrics: DriftMetrics;
  /** What volume_ratio compares: rows per day (both sides have timestamps) or rows. */
  volume_basis: 'rows_per_day' | 'rows';
  checks: DriftCheck[];
  /** False when a limit is crossed (the CLI exits 3). */
  passed: boolean;
  elapsed_s: number;
}

interface Side {
  path: string;
  manifest: DatasetManifest | null;
}

async function openSide(path: string, which: 'OLD' | 'NEW'): Promise<Side> {
  // A glob of partitions ('events/dt=2024-06-*') is a log; rec prep's reader expands it.
  if (hasGlob(path) && !(await pathExists(path))) return { path, manifest: null };
  let info;
  try {
    await datasetPathExists(path);
    info = await stat(path);
  } catch (error) {
    throw new UsageError(`${which} ${path} cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)}). Expected a dataset folder written by rec prep or a log file.`);
  }
  // A folder without a manifest is a folder of logs (a Parquet partition, a day's files), read recursively.
  const dataset = info.isDirectory() && (await pathExists(join(path, MANIFEST_FILE)));
  return { path, manifest: dataset ? await readManifest(path) : null };
}

function isoOf(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

async function datasetProfile(path: string): Promise<Profile> {
  const ds = await loadDataset(path);
  const toMap = (ids: readonly string[], counts: Int32Array): Map<string, number> => {
    const m = new Map<string, number>();
    // Ids kept in the vocabulary without rows (aged out under --append-to --window) were not seen in this data.
    for (let k = 0; k < ids.length; k++) if (counts[k] > 0) m.set(ids[k], counts[k]);
    return m;
  };
  let events: Map<string, number> | null = null;
  if (ds.eventNames !== null) {
    const byCode = new Float64Array(ds.eventNames.length);
    for (const s of [ds.train, ds.valid, ds.test]) if (s.events !== null) for (let i = 0; i < s.length; i++) byCode[s.events[i]]++;
    events = new Map();
    for (let c = 0; c < byCode.length; c++) if (byCode[c] > 0) events.set(ds.eventNames[c], byCode[c]);
  }
  const t = ds.manifest.time;
  return {
    source: path,
    kind: 'dataset',
    rows: ds.train.length + ds.valid.length + ds.test.length,
    users: toMap(ds.users.ids, ds.users.counts),
    items: toMap(ds.items.ids, ds.items.counts),
    events,
    minTs: t.has_ts ? t.min_ts : null,
    maxTs: t.has_ts ? t.max_ts : null,
  };
}

async function logProfile(path: string, cfg: PrepConfig, io: RunIO, hmac: ((raw: string) => string) | null): Promise<Profile> {
  const logs = await readLogs([path], cfg, io);
  const ing = logs.ingest;
  const store = ing.store;
  const n = store.length;
  const uc = new Int32Array(ing.users.size);
  const ic = new Int32Array(ing.items.size);
  for (let i = 0; i < n; i++) {
    uc[store.users[i]]++;
    ic[store.items[i]]++;
  }
  const users = new Map<string, number>();
  for (let k = 0; k < uc.length; k++) {
    if (uc[k] === 0) continue;
    const raw = ing.users.idAt(k);
    users.set(hmac !== null ? hmac(raw) : raw, uc[k]);
  }
  const items = new Map<string, number>();
  for (let k = 0; k < ic.length; k++) if (ic[k] > 0) items.set(ing.items.idAt(k), ic[k]);
  let events: Map<string, number> | null = null;
  if (store.events !== null) {
    const byCode = new Float64Array(ing.eventNames.length);
    for (let i = 0; i < n; i++) byCode[store.events[i]]++;
    events = new Map();
    for (let c = 0; c < byCode.length; c++) if (byCode[c] > 0) events.set(ing.eventNames[c], byCode[c]);
  }
  let minTs: number | null = null;
  let maxTs: number | null = null;
  if (store.hasTs && n > 0) {
    let lo = Number.POSITIVE_INFINITY;
    let hi = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < n; i++) {
      const t = store.tsAt(i);
      if (t < lo) lo = t;
      if (t > hi) hi = t;
    }
    minTs = lo;
    maxTs = hi;
  }
  if (logs.rejected > 0) io.log.warn(`drift: ${logs.rejected} of ${logs.read} rows of ${path} were rejected (${JSON.stringify(logs.rejected_by_reason)}) and are not counted`);
  return { source: path, kind: 'log', rows: n, users, items, events, minTs, maxTs };
}

function summary(p: Profile): ProfileSummary {
  return {
    source: p.source,
    kind: p.kind,
    rows: p.rows,
    users: p.users.size,
    items: p.items.size,
    events: p.events !== null ? Object.fromEntries([...p.events.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1))) : null,
    min_ts: p.minTs,
    max_ts: p.maxTs,
    min_iso: isoOf(p.minTs),
    max_iso: isoOf(p.maxTs),
  };
}

export async function runDrift(req: DriftRequest, io: RunIO): Promise<DriftResult> {
  const t0 = performance.now();
  const sides = [await openSide(req.old, 'OLD'), await openSide(req.new, 'NEW')] as const;
  const datasetSide = sides.find((s) => s.manifest !== null)?.manifest ?? null;
  // A log beside a dataset is read the way that dataset's logs were.
  const cfg = datasetSide !== null ? inheritPrepConfig(req.config, datasetSide, req.explicitKeys ?? new Set<string>()).cfg : req.config;
  const anon = sides.map((s) => s.manifest?.anonymize ?? null);
  const bothDatasets = sides[0].manifest !== null && sides[1].manifest !== null;
  if (bothDatasets && (anon[0]?.key_fingerprint ?? null) !== (anon[1]?.key_fingerprint ?? null)) {
    throw new UsageError(
      `OLD ${req.old} and NEW ${req.new} ${anon[0] !== null && anon[1] !== null ? 'were anonymised with different keys' : 'differ in --anonymize'}, so their user ids cannot be compared. Expected datasets prepped alike.`,
    );
  }
  const anonFp = anon[0]?.key_fingerprint ?? anon[1]?.key_fingerprint ?? null;
  let hmac: ((raw: string) => string) | null = null;
  if (!bothDatasets && anonFp !== null) {
    const key = req.anonKey;
    if (key === undefined) throw new UsageError(`The dataset side of rec drift has anonymised user ids: pass --anonymize-key-file FILE or set REC_ANON_KEY, so the log's user ids are hashed alike.`);
    if (keyFingerprint(key) !== anonFp) throw new UsageError(`The anonymisation key has fingerprint ${keyFingerprint(key)}, but the dataset was anonymised with the key of fingerprint ${anonFp}. Expected the same key.`);
    hmac = (raw) => anonymizeId(key, raw);
  }
  const profile = (s: Side): Promise<Profile> => (s.manifest !== null ? datasetProfile(s.path) : logProfile(s.path, cfg, io, hmac));
  const oldP = await profile(sides[0]);
  const newP = await profile(sides[1]);
  const { metrics, volume_basis } = compareProfiles(oldP, newP);
  const checks = checkDrift(metrics, req.limits);
  if ((sides[0].manifest === null) !== (sides[1].manifest === null)) {
    io.log.info(`drift: volume_ratio compares the dataset's rows, deduplicated per (user, item) over its whole history, with the log's raw rows; compare two logs for volume like for like`);
  }
  for (const c of checks) if (c.passed === null) io.log.warn(`drift: ${c.metric} has no value here (${c.metric === 'js_events' ? 'no event column' : 'an empty side'}); --fail-${c.op} ${c.metric} was not checked`);
  return {
    old: summary(oldP),
    new: summary(newP),
    metrics,
    volume_basis,
    checks,
    passed: checks.every((c) => c.passed !== false),
    elapsed_s: Math.round(performance.now() - t0) / 1000,
  };
}
