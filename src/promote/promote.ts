/**
 * `rec promote CKPT --to DIR` (docs/nightly.md#promotion-rec-promote-ckpt---to-dir---force---json): points DIR/production at CKPT, only
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
import { pathExists, writeJsonAtomic } from '../io/atomic.js';
import { parseEvalFileName, paths, type RunJson } from '../io/checkpoint-contract.js';
import { modelWeightsSha256, readJsonObject, readRunJson, verifyCheckpointModel } from '../io/checkpoint-read.js';
import { acquireLock, type FolderLock } from '../io/lock.js';
import { PROMOTED_MARKER } from '../io/promoted.js';
import { QualityGateError, UsageError } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import { confirmIntent, historyPath, settleInterrupted, writeIntent } from './history.js';
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
    if (parseEvalFileName(name) === null) continue;
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

async function checkCheckpoint(ckpt: string): Promise<RunJson> {
  if (!(await pathExists(ckpt))) throw new UsageError(`rec promote: checkpoint ${ckpt} does not exist. Expected a folder written by rec train.`);
  const p = paths(ckpt);
  if (!(await pathExists(p.run)) || !(await pathExists(join(p.model, 'model.json')))) {
    throw new UsageError(`rec promote: ${ckpt} is not a complete rec checkpoint (${(await pathExists(p.run)) ? 'no model/model.json' : 'no run.json'}). Expected a folder written by rec train.`);
  }
  const run = await readRunJson(ckpt);
  if (!DONE.has(run.status)) {
    throw new UsageError(`rec promote: ${ckpt} has run status ${run.status}; only a completed run (completed or stopped_early) can go to production. Finish it with rec train --out ${ckpt} --resume.`);
  }
  return run;
}

export async function runPromote(req: PromoteRequest, log: Pick<Logger, 'info' | 'warn'>): Promise<PromoteResult> {
  const run = await checkCheckpoint(req.checkpoint);
  const ckpt = await realpath(req.checkpoint);
  if (!(await pathExists(req.to))) throw new UsageError(`--to ${req.to} does not exist. Create the folder that holds the ${PRODUCTION} link first.`);
  // Held from reading the current production to the switch: two promotions cannot interleave.
  const lock = await acquireLock(req.to, 'rec promote', `--to ${req.to}`);
  try {
    return await promoteLocked(req, ckpt, run, log);
  } finally {
    await lock.release();
  }
}

async function promoteLocked(req: PromoteRequest, ckpt: string, run: RunJson, log: Pick<Logger, 'info' | 'warn'>): Promise<PromoteResult> {
  const pointer = await readPointer(req.to);
  const production = join(req.to, PRODUCTION);
  const settled = await settleInterrupted(req.to, pointer?.target ?? null);
  if (settled !== null) {
    const now = settled.status === 'done' ? `${production} points at it: recorded as done` : `${production} still is ${settled.previous ?? 'absent'}: recorded as abandoned`;
    log.warn(`${historyPath(req.to)}: the promotion of ${settled.checkpoint} was interrupted; ${now}`);
  }
  if (pointer?.missing && !req.force) {
    throw new UsageError(`${production} points at ${pointer.missing}, which no longer exists, so there is no production to compare with. Restore that checkpoint, or replace the link with --force.`);
  }
  const current = pointer?.target ?? null;
  const result: PromoteResult = { production, checkpoint: ckpt, previous: current, changed: false, forced: req.force, eval: null };
  if (current === ckpt) {
    log.info(`${production} already points at ${ckpt}: nothing to do`);
    return result;
  }
  const lock = await lockCheckpoint(ckpt, log);
  try {
    await verifyCheckpointModel(ckpt, run, (path) => log.warn(`${path} has no recorded sha256 (a checkpoint from an older rec): only its size was checked against model.json`));
    if (current !== null && !req.force) result.eval = await passingGate(req, ckpt, current, production);
    if (lock !== null) await markPromoted(ckpt, production);
  } finally {
    await lock?.release();
  }
  if (current === null) log.info(`no ${production} yet: the first promotion needs only a completed run`);
  if (req.force && current !== null) log.warn(`--force: promoting ${ckpt} without checking its gate against ${current}`);
  if (pointer?.missing) log.warn(`--force: replacing ${production}, which pointed at ${pointer.missing} (gone)`);
  // Logged before the switch and confirmed after it: a kill in between leaves an intent that the
  // link decides (history.ts), never a switch without a line.
  const intent = await writeIntent(req.to, { at: new Date().toISOString(), checkpoint: ckpt, previous: current, forced: req.force, eval: result.eval });
  await testHold('intent', log);
  await switchPointer(req.to, ckpt);
  await testHold('switched', log);
  await confirmIntent(req.to, intent);
  result.changed = true;
  return result;
}

/** The eval file that lets CKPT replace `current`; exit 3 listing every eval file and why it does not count. */
async function passingGate(req: PromoteRequest, ckpt: string, current: string, production: string): Promise<string> {
  const [prodSha, mySha] = await Promise.all([modelWeightsSha256(current), modelWeightsSha256(ckpt)]);
  const evals = await readGateEvals(ckpt);
  const ok = evals.find((e) => e.passed && e.maxDrop && e.baselineSha === prodSha && (e.weightsSha === null || e.weightsSha === mySha));
  if (ok !== undefined) return ok.file;
  const seen = evals.map((e) => {
    if (e.weightsSha !== null && e.weightsSha !== mySha) return `${e.file}: evaluated other weights (the checkpoint was retrained since)`;
    if (e.baselineSha !== prodSha) return `${e.file}: baseline ${e.baselinePath ?? '?'} is not the current production (weights sha256 ${(e.baselineSha ?? '?').slice(0, 12)}…, production's ${prodSha.slice(0, 12)}…)`;
    if (!e.passed) return `${e.file}: gate failed (${e.failed.join(', ') || 'no checks'})`;
    return `${e.file}: no --max-drop check against the baseline`;
  });
  throw new QualityGateError(
    `rec promote: ${ckpt} has no passing gate eval against the current production ${current}${seen.length > 0 ? `; found ${seen.join('; ')}` : ' (no eval file with --baseline in it)'}. Run rec eval ${req.checkpoint} --baseline ${production} --max-drop METRIC=V first, or pass --force. ${production} is unchanged.`,
  );
}

/**
 * CKPT's own lock, held while its model is verified and it is marked promoted (promoted.ts), so no
 * rec train changes it in between; after the mark, rec train refuses to write into it. A
 * checkpoint rec cannot write to (read-only) cannot be retrained either: null, with a warning, and
 * it is promoted unmarked.
 */
async function lockCheckpoint(ckpt: string, log: Pick<Logger, 'warn'>): Promise<FolderLock | null> {
  try {
    return await acquireLock(ckpt, 'rec promote', `checkpoint ${ckpt}`);
  } catch (error) {
    if (error instanceof UsageError) throw error;
    log.warn(`cannot lock or mark ${ckpt} (${error instanceof Error ? error.message : String(error)}): promoting it without ${PROMOTED_MARKER}`);
    return null;
  }
}

/** Adds this production link to CKPT's promoted.json (a checkpoint can be promoted again, or into several folders). */
async function markPromoted(ckpt: string, production: string): Promise<void> {
  const marker = join(ckpt, PROMOTED_MARKER);
  const before = await readJsonObject(marker, 'the promotion marker').catch(() => ({}) as Record<string, unknown>);
  const links: unknown[] = Array.isArray(before.promotions) ? before.promotions : [];
  await writeJsonAtomic(marker, { promotions: [...links, { at: new Date().toISOString(), link: production }] });
}

/** Test-only (REC_TEST_PROMOTE_HOLD=STEP): stop after STEP until killed, so a kill test can strike between any two steps. */
export const TEST_HOLD_ENV = 'REC_TEST_PROMOTE_HOLD';

async function testHold(step: 'intent' | 'switched', log: Pick<Logger, 'warn'>): Promise<void> {
  if (process.env[TEST_HOLD_ENV] !== step) return;
  log.warn(`${TEST_HOLD_ENV}=${step}: holding until killed`);
  await new Promise<never>(() => setInterval(() => undefined, 1000));
}
