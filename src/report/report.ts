/**
 * `rec report CKPT... --out FILE`: reads each checkpoint (read.ts), renders one self-contained page
 * (html.ts) and writes it atomically. The page goes to a file the user names rather than into the
 * checkpoint: a file `rec train` does not own would make the folder "foreign" under the output-folder
 * rule of README.md#output-files (CHECKPOINT_KIND), and `--resume` into it would then be refused.
 */
import { realpath } from 'node:fs/promises';
import { writeFileAtomic } from '../io/atomic.js';
import { checkOutputFile } from '../io/output-dir.js';
import { markBaselines, promotionFoldersOf, promotionOf, readProduction } from '../io/standing.js';
import { DataError, UsageError } from '../util/errors.js';
import type { RunIO } from '../util/run-io.js';
import { REC_VERSION } from '../util/version.js';
import { readStudyJson, readTrials } from '../io/study.js';
import { renderReport } from './html.js';
import { renderStudyReport } from './study.js';
import { readReportRun, type ReportRun } from './read.js';

export interface ReportOptions {
  /** Checkpoint folders, resolved. */
  checkpoints: readonly string[];
  /** Output file, resolved. */
  out: string;
  force: boolean;
  /** ISO time printed on the page; injected so tests can pin it. */
  now?: Date;
}

export interface ReportResult {
  report: string;
  checkpoints: { path: string; label: string; model: string; epochs: number; evals: string[] }[];
  bytes: number;
}

/** Labels are folder names; two folders with the same name (a/mf, b/mf) get their full paths. */
function distinctLabels(runs: ReportRun[]): void {
  const counts = new Map<string, number>();
  for (const r of runs) counts.set(r.label, (counts.get(r.label) ?? 0) + 1);
  for (const r of runs) if ((counts.get(r.label) ?? 0) > 1) r.label = r.path;
}

/**
 * One checkpoint's records. A damaged one (a corrupt or unreadable record, a folder where a file
 * should be) stops the report, naming the file: a comparison silently missing a checkpoint the
 * user listed would star a "best" among the others (README, `rec report`).
 */
async function readOne(ckpt: string, i: number, n: number): Promise<ReportRun> {
  try {
    return await readReportRun(ckpt);
  } catch (error) {
    if (!(error instanceof DataError) || n === 1) throw error;
    throw new DataError(`${error.message.replace(/\.$/, '')} (checkpoint ${i + 1} of ${n}, ${ckpt}). No report was written; repair it, or leave it out of the command to report the others.`, { cause: error });
  }
}

/** Whether a `production` link next to each checkpoint (DIR/CKPT or DIR/checkpoints/CKPT) points at it. */
async function addPromotions(runs: ReportRun[], warn: (message: string) => void): Promise<void> {
  const state = await readProduction(runs.flatMap((r) => promotionFoldersOf(r.path)));
  for (const note of state.notes) warn(note);
  markBaselines(state, runs.flatMap((r) => r.evals.map((e) => e.gate)));
  for (const r of runs) r.promotion = promotionOf(state, await realpath(r.path).catch(() => null));
}

export async function runReport(opts: ReportOptions, io: RunIO): Promise<ReportResult> {
  if (opts.checkpoints.length === 0) throw new UsageError('rec report needs at least one checkpoint folder. Received none. Example: rec report checkpoints/mf --out report.html');
  const unique = [...new Set(opts.checkpoints)];
  if (unique.length !== opts.checkpoints.length) throw new UsageError(`rec report received the same checkpoint twice (${opts.checkpoints.filter((c, i) => opts.checkpoints.indexOf(c) !== i).join(', ')}). Expected each folder once.`);
  await checkOutputFile(opts.out, opts.force);
  if (opts.checkpoints.length === 1) {
    const study = await readStudyJson(opts.checkpoints[0]);
    if (study !== null) return studyReport(opts, study, io);
  }
  const runs: ReportRun[] = [];
  for (const [i, ckpt] of opts.checkpoints.entries()) {
    const run = await readOne(ckpt, i, opts.checkpoints.length);
    if (run.dataNote) io.log.warn(`${ckpt}: ${run.dataNote}; the report has no data summary for it.`);
    runs.push(run);
  }
  await addPromotions(runs, (message) => io.log.warn(message));
  distinctLabels(runs);
  const html = renderReport(runs, { generated: (opts.now ?? new Date()).toISOString(), recVersion: REC_VERSION });
  await writeFileAtomic(opts.out, html);
  io.log.info(`report of ${runs.length} checkpoint${runs.length === 1 ? '' : 's'} written to ${opts.out}`);
  return {
    report: opts.out,
    checkpoints: runs.map((r) => ({ path: r.path, label: r.label, model: r.model, epochs: r.epochs.length, evals: r.evals.map((e) => e.name) })),
    bytes: Buffer.byteLength(html),
  };
}

/** A `rec tune` study folder: the search's own page (its trials are checkpoints a list of them would compare). */
async function studyReport(opts: ReportOptions, study: NonNullable<Awaited<ReturnType<typeof readStudyJson>>>, io: RunIO): Promise<ReportResult> {
  const dir = opts.checkpoints[0];
  const trials = [...(await readTrials(dir)).values()];
  const html = renderStudyReport(study, trials, { generated: (opts.now ?? new Date()).toISOString(), recVersion: REC_VERSION, path: dir });
  await writeFileAtomic(opts.out, html);
  io.log.info(`report of the study in ${dir} (${trials.length} trials) written to ${opts.out}`);
  return { report: opts.out, checkpoints: trials.map((t) => ({ path: `${dir}/${t.checkpoint}`, label: `trial ${t.trial}`, model: study.model, epochs: t.epochs, evals: [] })), bytes: Buffer.byteLength(html) };
}
