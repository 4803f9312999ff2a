/**
 * `rec report CKPT... --out FILE`: reads each checkpoint (read.ts), renders one self-contained page
 * (html.ts) and writes it atomically. The page goes to a file the user names rather than into the
 * checkpoint: a file `rec train` does not own would make the folder "foreign" under PRODUCT §2's
 * rule (CHECKPOINT_KIND), and `--resume` into it would then be refused.
 */
import { writeFileAtomic } from '../io/atomic.js';
import { checkOutputFile } from '../io/output-dir.js';
import { UsageError } from '../util/errors.js';
import type { RunIO } from '../util/run-io.js';
import { REC_VERSION } from '../util/version.js';
import { renderReport } from './html.js';
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

export async function runReport(opts: ReportOptions, io: RunIO): Promise<ReportResult> {
  if (opts.checkpoints.length === 0) throw new UsageError('rec report needs at least one checkpoint folder. Received none. Example: rec report checkpoints/mf --out report.html');
  const unique = [...new Set(opts.checkpoints)];
  if (unique.length !== opts.checkpoints.length) throw new UsageError(`rec report received the same checkpoint twice (${opts.checkpoints.filter((c, i) => opts.checkpoints.indexOf(c) !== i).join(', ')}). Expected each folder once.`);
  await checkOutputFile(opts.out, opts.force);
  const runs: ReportRun[] = [];
  for (const ckpt of opts.checkpoints) {
    const run = await readReportRun(ckpt);
    if (run.dataNote) io.log.warn(`${ckpt}: ${run.dataNote}; the report has no data summary for it.`);
    runs.push(run);
  }
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
