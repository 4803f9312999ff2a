/**
 * The --append-to side of `rec prep` before anything is read: opening the base, skipping logs it
 * already holds, and recognising a night re-run in place that would change nothing.
 */
import { lstat, realpath } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import type { PrepConfig } from '../../config/schema.js';
import { errorCode } from '../../io/output-dir.js';
import { UsageError } from '../../util/errors.js';
import type { RunIO } from '../../util/run-io.js';
import { INHERITED_KEYS, inheritPrepConfig, loadAppendBase, type AppendBase, type ManifestAppend } from './append.js';
import type { InputFile } from './read.js';
import type { PrepRequest, PrepResult } from './request.js';
import { sourceDigest } from './source.js';

export type AlreadyPresent = ManifestAppend['sources_already_present'];

/** --append-to DIR: a missing folder is a usage error (exit 2), a broken dataset a data error. */
export async function openBase(dir: string): Promise<AppendBase> {
  try {
    await lstat(dir);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') throw new UsageError(`--append-to ${dir} does not exist. Expected a dataset folder written by rec prep.`);
    throw error;
  }
  return loadAppendBase(dir);
}

/**
 * Whether a log is already in BASE or earlier in this run (`seen`: content hashes of the logs to
 * read), by the sha256 of what is read from it, so the same night compressed again (gzip stores a
 * timestamp) is still known; recorded in `present` and not read. Sources in older manifests have
 * no content hash: a plain file's is its file hash, a .gz one matches only the same compressed bytes.
 */
export async function alreadyAppended(file: InputFile, base: AppendBase, seen: Set<string>, present: AlreadyPresent, io: RunIO): Promise<boolean> {
  const digest = await sourceDigest(file.path, file.kind.gzip);
  const known = base.manifest.sources.find((s) => (s.content_sha256 ?? (s.gzip ? null : s.sha256)) === digest.content_sha256 || s.sha256 === digest.sha256);
  if (known === undefined && !seen.has(digest.content_sha256)) {
    seen.add(digest.content_sha256);
    return false;
  }
  present.push({ path: file.path, sha256: digest.sha256, content_sha256: digest.content_sha256, rows_read: known?.rows_read ?? null });
  const how = known !== undefined && known.sha256 !== digest.sha256 ? 'same content, compressed differently' : 'same sha256';
  io.log.info(`prep: ${file.path} is already in ${known !== undefined ? `the base dataset (as ${known.path})` : 'this run'} (${how}); not read again`);
  return true;
}

/**
 * Whether `--append-to BASE --out BASE` with every log already in BASE would rewrite BASE with the
 * same rows under the same settings: same folder, no setting given that differs from BASE's, and
 * --window absent or equal to BASE's (the newest ts is unchanged, so it would age out nothing more).
 */
export async function unchangedInPlace(req: PrepRequest, base: AppendBase, cfg: PrepConfig, windowDays: number | null): Promise<boolean> {
  const same = async (a: string, b: string): Promise<boolean> => {
    try {
      return (await realpath(a)) === (await realpath(b));
    } catch {
      return false;
    }
  };
  if (!(await same(req.out, base.dir))) return false;
  const asBase = inheritPrepConfig(req.config, base.manifest, new Set<string>()).cfg;
  for (const key of INHERITED_KEYS) if (cfg[key] !== asBase[key]) return false;
  const baseWindow = base.manifest.window?.days ?? null;
  return windowDays === null || windowDays === baseWindow;
}

/** The rows of the logs skipped as already present, as their manifests recorded them. */
export function rowsAlreadyPresent(present: AlreadyPresent): number {
  return present.reduce((a, p) => a + (p.rows_read ?? 0), 0);
}

/** The start of the line that says a prep found every log already in `dir`. */
export function nothingNew(present: AlreadyPresent, dir: string): string {
  return `prep: nothing new: ${present.length === 1 ? 'the log is' : `all ${present.length} logs are`} already in ${dir}`;
}

/** The answer of an in-place re-run with nothing to add: BASE as it is, nothing written. */
export function alreadyUpToDate(base: AppendBase, alreadyPresent: AlreadyPresent, inherited: string[], io: RunIO, t0: number): PrepResult {
  const m = base.manifest;
  const rows = m.rows.train + m.rows.valid + m.rows.test;
  const append: ManifestAppend = {
    base: { path: base.dir, manifest_sha256: base.manifestSha256, users: m.users, items: m.items, rows },
    inherited,
    sources_added: [],
    sources_already_present: alreadyPresent,
    rows: { base: rows, read_from_logs: 0, added: 0, aged_out: 0, already_present: rowsAlreadyPresent(alreadyPresent) },
    new_users: 0,
    new_items: 0,
  };
  io.log.info(`${nothingNew(alreadyPresent, base.dir)}, which is left as it is`);
  return {
    dataset: base.dir,
    rows: m.rows,
    rejected_by_reason: m.rejected_by_reason,
    users: m.users,
    items: m.items,
    splits: m.splits,
    feedback: m.feedback.kind,
    elapsed_s: Math.round(performance.now() - t0) / 1000,
    rows_per_s: 0,
    warnings: [],
    append,
    ...(m.window ? { window: m.window } : {}),
    unchanged: true,
  };
}
