/**
 * Finds the checkpoints under a folder and reads each one's records (run.json, metrics.jsonl,
 * best.json, eval-*.json) for `rec runs`, with its gate and promotion status (standing.ts). A
 * folder that is not a checkpoint, or is half-written, damaged (a folder where a record file
 * should be, an unreadable file), deleted while it is read, or being written by a live `rec
 * train`, becomes a row with a status and a reason: one bad folder never hides the others.
 * Reads only small JSON records, never TF.js or the weights.
 */
import type { Stats } from 'node:fs';
import { lstat, readdir, realpath, stat } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { RecError, UsageError } from '../util/errors.js';
import { pathExists } from './atomic.js';
import { CHECKPOINT_ENTRIES, parseEvalFileName, paths, type RunJson } from './checkpoint-contract.js';
import { numberFields, readBest, readEvals, readMetrics, readRunJson } from './checkpoint-read.js';
import { describeHolder, LOCK_NAME, liveLockHolder } from './lock.js';
import { errorCode, fsErrorReason } from './output-dir.js';
import { type GateSummary, gateOf, latestGate, markBaselines, type Promotion, promotionOf, readProduction } from './standing.js';

/** run.json's statuses, plus what `rec runs` says of folders that are not (yet) a usable checkpoint. */
export type RunStatus = RunJson['status'] | 'invalid' | 'incomplete';

export interface EvalSummary {
  file: string;
  split: string;
  /** The protocol tag of the file name: `full`, `sampled100`, `candidates`. */
  protocol: string;
  metrics: Record<string, number>;
  created: string | null;
  /** The manifest sha256 of the dataset it was evaluated on (a nightly evaluates each night on its own day). */
  data_manifest_sha256: string | null;
  /** The gate it checked (`--baseline/--max-drop/--fail-under`); null when none. */
  gate: GateSummary | null;
}

export interface RunRow {
  /** The folder, relative to the listed folder (`.` when it is itself a checkpoint). */
  name: string;
  path: string;
  status: RunStatus;
  /** Why the status is not the run's own (corrupt file, no model yet, live lock); null when none. */
  reason: string | null;
  model: string | null;
  dataset: { path: string; manifest_sha256: string; manifest_short: string } | null;
  epochs: number | null;
  best: { epoch: number | null; metric: string | null; value: number | null; valid: Record<string, number> } | null;
  evals: EvalSummary[];
  parents: { path: string; model: string; epoch: number | null }[];
  started: string | null;
  finished: string | null;
  /** Seconds since the run finished (or started, while it has not). */
  age_seconds: number | null;
  wall_seconds: number | null;
  train_seconds: number | null;
  /** The most recent gate among the eval files; null when no eval checked one. */
  gate: GateSummary | null;
  /** Whether a `production` link points here, and when it was promoted (promotions.jsonl). */
  promotion: Promotion;
  /** When the folder is a link (`production`): the checkpoint it points at, by name when listed. */
  link_to: string | null;
}

/** Entries whose presence makes a folder a checkpoint (complete or not) rather than a folder of them. */
const MARKERS = new Set<string>([...Object.values(CHECKPOINT_ENTRIES).filter((e) => e.marker).map((e) => e.name), LOCK_NAME]);

/** An eval file named by split and protocol also marks a checkpoint. */
const isMarker = (name: string): boolean => MARKERS.has(name) || (parseEvalFileName(name)?.protocol ?? null) !== null;

/**
 * Every checkpoint-like folder under `root` (itself included), sorted by name. Subfolders of a
 * checkpoint (`model/`, `last/`, `data/`) are not searched; a folder without markers is searched,
 * and listed as `invalid` only when it has no subfolders (a leaf that should have been a run).
 */
export async function listRuns(root: string, now: Date = new Date(), warn: (message: string) => void = () => {}): Promise<RunRow[]> {
  let info: Stats;
  try {
    info = await stat(root);
  } catch (error) {
    const code = errorCode(error);
    throw new UsageError(`rec runs: cannot read the folder ${root}: ${fsErrorReason(code) ?? String(error)}${code ? ` (${code})` : ''}. Expected a folder of checkpoints (default checkpoints/).`);
  }
  if (!info.isDirectory()) throw new UsageError(`rec runs: ${root} is a file. Expected a folder of checkpoints (default checkpoints/).`);
  const rows: RunRow[] = [];
  // Folders of checkpoints, where `rec promote --to` keeps a production link; the root's parent too,
  // so `rec runs NIGHTLY/checkpoints` still sees NIGHTLY/production.
  const folders: string[] = [dirname(root)];
  const seen = new Set<string>();
  const walk = async (dir: string, depth: number): Promise<void> => {
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (error) {
      rows.push(emptyRow(root, dir, 'invalid', `cannot read the folder: ${readReason(error)}`));
      return;
    }
    if (names.some(isMarker)) {
      rows.push(await readRunOrReason(root, dir, now));
      return;
    }
    // A dataset folder (rec prep's manifest.json; a nightly state folder holds them beside its
    // checkpoints) is neither a run nor a broken one.
    if (depth > 0 && names.includes('manifest.json')) return;
    // Only folders of checkpoints are remembered: a link back up the tree ends here, while a
    // link to a checkpoint (`production`) is still listed under its own name.
    const real = await realpath(dir).catch(() => null);
    if (real === null) {
      rows.push(emptyRow(root, dir, 'invalid', `cannot read the folder: ${VANISHED}`));
      return;
    }
    if (seen.has(real)) return;
    seen.add(real);
    folders.push(dir);
    const subdirs: string[] = [];
    for (const n of names.sort()) {
      if (n.startsWith('.')) continue;
      const child = join(dir, n);
      // stat, not lstat: a `production` link to a checkpoint is listed under its own name.
      if (await stat(child).then((s) => s.isDirectory(), () => false)) subdirs.push(child);
    }
    if (subdirs.length === 0) {
      const gone = !(await pathExists(dir));
      if (depth > 0 || gone) rows.push(emptyRow(root, dir, 'invalid', gone ? VANISHED : 'not a rec checkpoint: no run.json, model/ or metrics.jsonl'));
      return;
    }
    for (const child of subdirs) await walk(child, depth + 1);
  };
  await walk(root, 0);
  await addPromotions(root, rows, folders, warn);
  return rows.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

const VANISHED = 'it disappeared while rec runs read it (deleted or moved meanwhile?)';

/** An fs error in words, for a row's reason. */
function readReason(error: unknown): string {
  const code = errorCode(error);
  if (code === 'ENOENT') return VANISHED;
  const reason = fsErrorReason(code);
  return reason ? `${reason} (${code})` : (code ?? String(error));
}

/** Each row's promotion status, and where a row is a link (`production`) what it points at. */
async function addPromotions(root: string, rows: RunRow[], folders: readonly string[], warn: (message: string) => void): Promise<void> {
  const state = await readProduction(folders);
  for (const note of state.notes) warn(note);
  markBaselines(state, rows.flatMap((r) => r.evals.map((e) => e.gate)));
  const rootReal = await realpath(root).catch(() => root);
  for (const row of rows) {
    const real = await realpath(row.path).catch(() => null);
    row.promotion = promotionOf(state, real);
    const isLink = await lstat(row.path).then((s) => s.isSymbolicLink(), () => false);
    if (isLink && real !== null) {
      const rel = relative(rootReal, real);
      row.link_to = rel !== '' && !rel.startsWith('..') ? rel : real;
    }
  }
}

function emptyRow(root: string, dir: string, status: RunStatus, reason: string | null): RunRow {
  return {
    name: relative(root, dir) || '.',
    path: dir,
    status,
    reason,
    model: null,
    dataset: null,
    epochs: null,
    best: null,
    evals: [],
    parents: [],
    started: null,
    finished: null,
    age_seconds: null,
    wall_seconds: null,
    train_seconds: null,
    gate: null,
    promotion: { production: false, links: [], promoted_at: null, forced: null, eval: null },
    link_to: null,
  };
}

/** A RecError's message (a corrupt file, named), or an fs error naming its path; anything else is a bug and propagates. */
function problem(error: unknown): string {
  if (error instanceof RecError) return error.message;
  if (errorCode(error) !== undefined) {
    const path = (error as NodeJS.ErrnoException).path;
    return `cannot read ${path ?? 'a file'}: ${readReason(error)}`;
  }
  throw error;
}

/**
 * The checkpoint's row, or an invalid row saying why it could not be read: a folder deleted or
 * replaced while it is read must not stop the listing of the others.
 */
async function readRunOrReason(root: string, dir: string, now: Date): Promise<RunRow> {
  try {
    const row = await readRun(root, dir, now);
    if (!(await pathExists(dir))) return emptyRow(root, dir, 'invalid', VANISHED);
    return row;
  } catch (error) {
    const why = problem(error);
    return emptyRow(root, dir, 'invalid', (await pathExists(dir)) ? why : VANISHED);
  }
}

async function readRun(root: string, dir: string, now: Date): Promise<RunRow> {
  const holder = await liveLockHolder(dir);
  const running = holder ? `being written by ${describeHolder(holder)}` : null;
  let run: RunJson;
  try {
    run = await readRunJson(dir);
  } catch (error) {
    const why = problem(error);
    if (running) return emptyRow(root, dir, 'running', running);
    const missing = !(await pathExists(paths(dir).run));
    return emptyRow(root, dir, missing ? 'incomplete' : 'invalid', missing ? 'run.json is missing (a run that never got going, or not a rec checkpoint)' : why);
  }
  const row = emptyRow(root, dir, run.status, null);
  const problems: string[] = [];
  row.model = run.model;
  row.dataset = { path: run.dataset.path, manifest_sha256: run.dataset.manifest_sha256, manifest_short: run.dataset.manifest_sha256.slice(0, 8) };
  row.parents = run.parents.map((p) => ({ path: String(p.path), model: String(p.model), epoch: typeof p.epoch === 'number' ? p.epoch : null }));
  const t = run.timings;
  row.started = typeof t.started === 'string' ? t.started : null;
  row.finished = typeof t.finished === 'string' ? t.finished : null;
  const since = Date.parse(row.finished ?? row.started ?? '');
  row.age_seconds = Number.isFinite(since) ? Math.max(0, Math.round((now.getTime() - since) / 1000)) : null;
  row.wall_seconds = typeof t.wall_seconds === 'number' ? t.wall_seconds : null;
  row.train_seconds = typeof t.train_seconds === 'number' ? t.train_seconds : null;
  try {
    const records = await readMetrics(dir);
    row.epochs = records.length > 0 ? records[records.length - 1].epoch : 0;
  } catch (error) {
    problems.push(problem(error));
  }
  try {
    row.best = await readBest(dir);
  } catch (error) {
    problems.push(problem(error));
  }
  try {
    row.evals = await readEvalSummaries(dir);
    row.gate = latestGate(row.evals.map((e) => e.gate));
  } catch (error) {
    problems.push(problem(error));
  }
  const hasModel = await pathExists(join(paths(dir).model, 'model.json'));
  if (running) {
    row.status = 'running';
    row.reason = running;
  } else if (problems.length > 0) {
    row.status = 'invalid';
    row.reason = problems.join(' ');
  } else if (!hasModel) {
    row.status = 'incomplete';
    row.reason = 'no model/model.json yet (killed before its first save?)';
  } else if (run.status === 'running') {
    row.status = 'incomplete';
    row.reason = 'run.json says running but no rec process holds the folder (killed?); rec train --resume continues it';
  }
  return row;
}

/** The eval files `rec runs` can put in a column: those whose name holds a split and a protocol. */
async function readEvalSummaries(dir: string): Promise<EvalSummary[]> {
  const out: EvalSummary[] = [];
  for (const e of await readEvals(dir)) {
    if (e.split === null || e.protocol === null) continue;
    const data = typeof e.json.data === 'object' && e.json.data !== null ? (e.json.data as Record<string, unknown>) : {};
    out.push({
      file: e.file,
      split: typeof e.json.split === 'string' ? e.json.split : e.split,
      protocol: e.protocol,
      metrics: numberFields(e.metrics),
      created: typeof e.json.created === 'string' ? e.json.created : null,
      data_manifest_sha256: typeof data.manifest_sha256 === 'string' ? data.manifest_sha256 : null,
      gate: gateOf(e.file, e.json),
    });
  }
  return out;
}
