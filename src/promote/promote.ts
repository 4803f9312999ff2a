/**
 * `rec promote CKPT --to DIR` (PRODUCT §2, docs/nightly.md): points DIR/production at CKPT, only
 * when CKPT has earned it:
 * - with no production yet, a completed run is enough (there is nothing to compare with);
 * - otherwise CKPT must hold an eval file (`rec eval CKPT --baseline DIR/production --max-drop …`)
 *   whose gates passed, whose baseline weights are the current production's (sha256 of
 *   model/weights.bin, so an eval against an older production does not count), and whose own
 *   weights are CKPT's current ones;
 * - `--force` skips the checks (a rollback, or an operator's decision), and says so.
 * The switch is one rename (pointer.ts); on any refusal or failure production is unchanged.
 */
import { readdir, readFile, realpath } from 'node:fs/promises';
import { join } from 'node:path';
import { pathExists, writeFileAtomic } from '../io/atomic.js';
import { acquireLock } from '../io/lock.js';
import { modelWeightsSha256, readRunJson } from '../io/checkpoint-read.js';
import { QualityGateError, UsageError } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import { PRODUCTION, readPointer, switchPointer } from './pointer.js';

export interface PromoteRequest {
  checkpoint: string;
  to: string;
  force: boolean;
}

export interface PromoteResult {
  production: string;
  checkpoint: string;
  previous: string | null;
  /** False when CKPT already was production: nothing was written. */
  changed: boolean;
  forced: boolean;
  /** The eval file that justified it; null for a first promotion, --force, or no change. */
  eval: string | null;
}

const HISTORY = 'promotions.jsonl';

// io/checkpoint.ts has these too, but loads TF.js: promote needs only files.
const paths = (ckpt: string) => ({ run: join(ckpt, 'run.json'), model: join(ckpt, 'model') });

const DONE = new Set(['completed', 'stopped_early']);

interface GateEval {
  file: string;
  passed: boolean;
  baselineSha: string | null;
  baselinePath: string | null;
  weightsSha: string | null;
  failed: string[];
  /** At least one --max-drop check: the gate compared the checkpoint with its baseline. */
  maxDrop: boolean;
}

async function readGateEvals(ckpt: string): Promise<GateEval[]> {
  const out: GateEval[] = [];
  for (const name of (await readdir(ckpt)).sort()) {
    if (!/^eval-.+\.json$/.test(name)) continue;
    let json: unknown;
    try {
      json = JSON.parse(await readFile(join(ckpt, name), 'utf8'));
    } catch {
      continue;
    }
    if (typeof json !== 'object' || json === null) continue;
    const e = json as { gates?: { passed?: unknown; checks?: { kind?: unknown; metric?: unknown; passed?: unknown }[] }; baseline?: { weights_sha256?: unknown; checkpoint?: unknown }; weights_sha256?: unknown };
    if (e.gates === undefined || e.baseline === undefined) continue;
    const checks = Array.isArray(e.gates.checks) ? e.gates.checks : [];
    out.push({
      file: join(ckpt, name),
      passed: e.gates.passed === true,
      baselineSha: typeof e.baseline.weights_sha256 === 'string' ? e.baseline.weights_sha256 : null,
      baselinePath: typeof e.baseline.checkpoint === 'string' ? e.baseline.checkpoint : null,
      weightsSha: typeof e.weights_sha256 === 'string' ? e.weights_sha256 : null,
      failed: checks.filter((c) => c.passed !== true).map((c) => String(c.metric)),
      maxDrop: checks.some((c) => c.kind === 'max_drop'),
    });
  }
  return out;
}

async function checkCheckpoint(ckpt: string): Promise<void> {
  if (!(await pathExists(ckpt))) throw new UsageError(`rec promote: checkpoint ${ckpt} does not exist. Expected a folder written by rec train.`);
  const p = paths(ckpt);
  if (!(await pathExists(p.run)) || !(await pathExists(join(p.model, 'model.json')))) {
    throw new UsageError(`rec promote: ${ckpt} is not a complete rec checkpoint (${(await pathExists(p.run)) ? 'no model/model.json' : 'no run.json'}). Expected a folder written by rec train.`);
  }
  const run = await readRunJson(ckpt);
  if (!DONE.has(run.status)) {
    throw new UsageError(`rec promote: ${ckpt} has run status ${run.status}; only a completed run (completed or stopped_early) can go to production. Finish it with rec train --out ${ckpt} --resume.`);
  }
}

export async function runPromote(req: PromoteRequest, log: Pick<Logger, 'info' | 'warn'>): Promise<PromoteResult> {
  await checkCheckpoint(req.checkpoint);
  const ckpt = await realpath(req.checkpoint);
  if (!(await pathExists(req.to))) throw new UsageError(`--to ${req.to} does not exist. Create the folder that holds the ${PRODUCTION} link first.`);
  // Held from reading the current production to the switch: two promotions cannot interleave.
  const lock = await acquireLock(req.to, 'rec promote', `--to ${req.to}`);
  try {
    return await promoteLocked(req, ckpt, log);
  } finally {
    await lock.release();
  }
}

async function promoteLocked(req: PromoteRequest, ckpt: string, log: Pick<Logger, 'info' | 'warn'>): Promise<PromoteResult> {
  const pointer = await readPointer(req.to);
  const production = join(req.to, PRODUCTION);
  if (pointer?.missing && !req.force) {
    throw new UsageError(`${production} points at ${pointer.missing}, which no longer exists, so there is no production to compare with. Restore that checkpoint, or replace the link with --force.`);
  }
  const current = pointer?.target ? { target: pointer.target } : null;
  const result: PromoteResult = { production, checkpoint: ckpt, previous: current?.target ?? null, changed: false, forced: req.force, eval: null };
  if (current !== null && current.target === ckpt) {
    log.info(`${production} already points at ${ckpt}: nothing to do`);
    return result;
  }
  if (current !== null && !req.force) {
    const [prodSha, mySha] = await Promise.all([modelWeightsSha256(current.target), modelWeightsSha256(ckpt)]);
    const evals = await readGateEvals(ckpt);
    const ok = evals.find((e) => e.passed && e.maxDrop && e.baselineSha === prodSha && (e.weightsSha === null || e.weightsSha === mySha));
    if (ok === undefined) {
      const seen = evals.map((e) => {
        if (e.weightsSha !== null && e.weightsSha !== mySha) return `${e.file}: evaluated other weights (the checkpoint was retrained since)`;
        if (e.baselineSha !== prodSha) return `${e.file}: baseline ${e.baselinePath ?? '?'} is not the current production (weights sha256 ${(e.baselineSha ?? '?').slice(0, 12)}…, production's ${prodSha.slice(0, 12)}…)`;
        if (!e.passed) return `${e.file}: gate failed (${e.failed.join(', ') || 'no checks'})`;
        return `${e.file}: no --max-drop check against the baseline`;
      });
      throw new QualityGateError(
        `rec promote: ${ckpt} has no passing gate eval against the current production ${current.target}${seen.length > 0 ? `; found ${seen.join('; ')}` : ' (no eval file with --baseline in it)'}. Run rec eval ${req.checkpoint} --baseline ${production} --max-drop METRIC=V first, or pass --force. ${production} is unchanged.`,
      );
    }
    result.eval = ok.file;
  }
  if (current === null) log.info(`no ${production} yet: the first promotion needs only a completed run`);
  if (req.force && current !== null) log.warn(`--force: promoting ${ckpt} without checking its gate against ${current.target}`);
  if (pointer?.missing) log.warn(`--force: replacing ${production}, which pointed at ${pointer.missing} (gone)`);
  await switchPointer(req.to, ckpt);
  result.changed = true;
  await appendHistory(req.to, { at: new Date().toISOString(), checkpoint: ckpt, previous: result.previous, forced: req.force, eval: result.eval });
  return result;
}

/** One JSON line per switch in DIR/promotions.jsonl, rewritten atomically: who was production when. */
async function appendHistory(dir: string, entry: Record<string, unknown>): Promise<void> {
  const path = join(dir, HISTORY);
  const before = (await pathExists(path)) ? await readFile(path, 'utf8') : '';
  await writeFileAtomic(path, `${before}${before === '' || before.endsWith('\n') ? '' : '\n'}${JSON.stringify(entry)}\n`);
}
