/**
 * `rec eval` as a library call: loads a checkpoint (model + vocabulary by raw id) and a dataset,
 * evaluates one split under one protocol, writes the protocol-stamped `eval-<split>-<protocol>.json`
 * into the checkpoint, and checks the quality gates. A baseline is re-evaluated on the very same
 * data and protocol (never read from its old eval files), and must evaluate the same users.
 */
import { join } from 'node:path';
import { anonymizeId, keyFingerprint } from '../data/anonymize.js';
import { type Dataset, loadDataset, manifestSha256 } from '../data/dataset.js';
import { historyThresholdOf } from '../data/sequences.js';
import { writeJsonAtomic } from '../io/atomic.js';
import { modelWeightsSha256, readModelEpoch, type RunJson } from '../io/checkpoint.js';
import { openEventWriter, TB_DIR } from '../io/tensorboard.js';
import { removeStaleTemps } from '../io/atomic.js';
import { describeHolder, liveLockHolder } from '../io/lock.js';
import { checkpointDataDir, loadTrainedCheckpoint, type TrainedCheckpoint } from './checkpoint.js';
import { DataError, UsageError } from '../util/errors.js';
import type { RunIO } from '../util/run-io.js';
import { currentEngine } from '../engine/backend.js';
import { startRankPool } from './parallel/pool.js';
import { resolveRankWorkers, type RankWorkersSetting } from './parallel/workers.js';
import { evaluate, type EvalOutcome, type EvalProtocol, scoreInputOf } from './evaluate.js';
import { checkFailUnder, checkMaxDrop, type Gate, type GateCheck } from './gates.js';
import { parseMetrics, RANKING_METRICS, type MetricSpec } from './metrics/registry.js';
import { weightBytes } from '../models/weights.js';
import { evalNotes } from './notes.js';
import { type ItemsMode, prepareEval, selectsCold, type PreparedEval, type RelevantItemCounts, restrictToUsers, sharedRelevance } from './prepare.js';
import { evalFileName, evalTag, negativesPathFor, readCandidatesFile, type ProtocolSpec, writeNegativesFile } from './protocols.js';

export const EVAL_FORMAT_VERSION = 1;

export interface EvalRequest {
  checkpoint: string;
  /** Dataset folder; null: the one the checkpoint was trained on (run.json). */
  data: string | null;
  split: 'test' | 'valid';
  protocol: ProtocolSpec;
  /** Metric names as given (`--metrics`); empty: every metric that applies to the model. */
  metrics: readonly string[];
  k: readonly number[];
  relevanceThreshold: number | null;
  /** `--items`: which relevant items are ranked (default all; docs/evaluation.md#new-items). */
  items?: ItemsMode;
  seed: number;
  userBlock: number;
  /** Threads of the `full` protocol's ranking (`--workers N|auto`, parallel/workers.ts); default 1. */
  workers?: RankWorkersSetting;
  /** Anonymisation key, needed when the dataset was prepped with --anonymize and ids come from outside (candidates). */
  anonKey: () => Promise<Uint8Array>;
  failUnder: readonly Gate[];
  /** The baseline checkpoint's real folder (a `production` link resolved by cli/). */
  baseline: string | null;
  /** The path given as --baseline when it was a link (e.g. DIR/production); recorded in the eval file. */
  baselinePointer?: string | null;
  maxDrop: readonly Gate[];
  recVersion: string;
}

/**
 * The eval file's account of the relevant items (docs/evaluation.md#new-items): RelevantItemCounts,
 * and why cold ones were skipped: `model_without_features` (the model knows items by id only),
 * `items_without_features` (a featured model, but those items had no features), null when none were.
 */
export interface RelevantItemsRecord extends RelevantItemCounts {
  cold_skip_reason: 'model_without_features' | 'items_without_features' | null;
}

export interface EvalFile extends Omit<EvalOutcome, 'relevant_ranked'> {
  /** EvalOutcome's, with `items` (warm|cold|new|recent) when --items selected some relevant items only. */
  protocol: EvalOutcome['protocol'] & { items?: Exclude<ItemsMode, 'all'> };
  relevant_items: RelevantItemsRecord;
  format_version: number;
  checkpoint: string;
  model: string;
  /** `matches_checkpoint`: whether this is the dataset the checkpoint was trained on (same manifest sha256). */
  data: { path: string; manifest_sha256: string; matches_checkpoint: boolean };
  seed: number;
  relevance_threshold: number | null;
  rec_version: string;
  created: string;
  seconds: number;
  /** Threads that ranked the users (`--workers`; 1 for the sampled and candidates protocols). */
  workers: number;
  /** sha256 of the evaluated `model/weights.bin`: `rec promote` checks the eval is of the weights it promotes. */
  weights_sha256?: string;
  /** The gates checked (absent without --fail-under / --max-drop); `rec promote` reads `passed`. */
  gates?: { passed: boolean; checks: GateCheck[] };
  baseline?: BaselineRecord;
}

/**
 * The baseline of a --baseline eval. `weights_sha256` identifies the weights compared with (so
 * `rec promote` can tell whether the baseline is still the production model); `compared` says on
 * which users and items the gate compared the two when they differ (a fine-tuned model knows users
 * and items that are new since the baseline): `metrics` there are the checkpoint's on those users.
 */
export interface BaselineRecord {
  checkpoint: string;
  pointer: string | null;
  weights_sha256: string;
  metrics: Record<string, number>;
  users: EvalOutcome['users'];
  compared: {
    users: number;
    only_checkpoint: number;
    only_baseline: number;
    /** `full`: relevant items only the other model can rank, counted as misses for this one. */
    relevant_missed: { checkpoint: number; baseline: number };
    metrics: Record<string, number>;
  } | null;
}

export interface EvalRunResult {
  file: string;
  eval: EvalFile;
  baseline: BaselineRecord | null;
  gates: { passed: boolean; checks: GateCheck[] };
}

/** What a model can be measured with: rating errors only when it predicts ratings (trained with mse). */
export function defaultMetricNames(run: Pick<RunJson, 'loss'>, protocol: ProtocolSpec): string[] {
  const ranking = RANKING_METRICS.filter((m) => m !== 'f1').map(String);
  const names = [...ranking, 'coverage', 'auc'];
  if (protocol.name === 'full' && run.loss === 'mse') names.unshift('rmse', 'mae');
  return names;
}

function checkMetricsApply(specs: readonly MetricSpec[], run: RunJson, checkpoint: string): void {
  const error = specs.find((s) => s.kind === 'error');
  if (error && run.loss !== 'mse') {
    throw new UsageError(
      `--metrics ${error.key}: ${checkpoint} was trained with loss ${run.loss}, so its scores are not ratings. rmse and mae need a model trained with --loss mse on explicit ratings.`,
    );
  }
}

async function resolveProtocol(spec: ProtocolSpec, seed: number, ds: Dataset, anonKey: () => Promise<Uint8Array>): Promise<EvalProtocol> {
  if (spec.name === 'full') return spec;
  if (spec.name === 'sampled') return { name: 'sampled', n: spec.n, seed };
  const file = await readCandidatesFile(spec.file);
  const anon = ds.manifest.anonymize;
  if (!anon) return { name: 'candidates', file: spec.file, lists: file.lists };
  const key = await anonKey();
  if (keyFingerprint(key) !== anon.key_fingerprint) {
    throw new UsageError(`The anonymisation key does not match dataset ${ds.dir} (fingerprint ${keyFingerprint(key)}, the manifest says ${anon.key_fingerprint}). Pass the key the dataset was prepped with.`);
  }
  return { name: 'candidates', file: spec.file, lists: file.lists.map((l) => ({ ...l, user: anonymizeId(key, l.user) })) };
}

/** Whether the checkpoint scores items from catalogue features (vocab/trained.json `featured`). */
export function hasItemFeatures(ckpt: Pick<TrainedCheckpoint, 'trained'>): boolean {
  return ckpt.trained?.featured !== undefined;
}

/** `--items cold|new|recent` needs a model that can score an item without a training row. */
function checkItemsApply(ckpt: TrainedCheckpoint, items: ItemsMode, role: string): void {
  if (!selectsCold(items) || hasItemFeatures(ckpt)) return;
  throw new UsageError(
    `--items ${items}: ${role} ${ckpt.dir} was trained without item features, so it has only a random vector for an item without a training row and nothing to rank: every relevant cold item would be skipped. Train with item features (a dataset prepped with --items FILE), or evaluate with --items warm or all.`,
  );
}

/** The eval file's relevant_items: the counts and why cold items were skipped. */
export function relevantItemsRecord(prep: Pick<PreparedEval, 'relevantItems' | 'featuredItems'>, ranked: EvalOutcome['relevant_ranked'] | null = null): RelevantItemsRecord {
  const c = prep.relevantItems;
  const why = c.cold_skipped === 0 ? null : prep.featuredItems === null ? 'model_without_features' : 'items_without_features';
  // What was ranked in the end: a user without a candidate line is skipped after preparation.
  const counts = ranked === null ? c : { ...c, warm_ranked: ranked.warm, cold_ranked: ranked.cold };
  return { ...counts, cold_skip_reason: why };
}

/** The line that says why relevant cold items were not ranked; null when none were skipped. */
export function coldSkipLine(r: RelevantItemsRecord): string | null {
  if (r.cold_skip_reason === null) return null;
  const n = `${r.cold_skipped} relevant cold item${r.cold_skipped === 1 ? '' : 's'} (no training row)`;
  return r.cold_skip_reason === 'model_without_features'
    ? `the model has no item features: ${n} skipped, since their vectors are random (a model trained with item features ranks them from their features)`
    : `${n} skipped: the model has item features, but none for ${r.cold_skipped === 1 ? 'this item' : 'these items'} (no catalogue row when it was trained)`;
}

function prepareFor(ckpt: TrainedCheckpoint, ds: Dataset, req: EvalRequest, specs: MetricSpec[]): PreparedEval {
  checkMetricsApply(specs, ckpt.run, ckpt.dir);
  return prepareEval({
    dataset: ds,
    split: req.split,
    model: ckpt,
    relevanceThreshold: req.relevanceThreshold,
    trained: ckpt.trained,
    items: req.items ?? 'all',
    input: scoreInputOf(ckpt.model),
    historyThreshold: historyThresholdOf(ckpt.run.config),
  });
}

async function evaluateCheckpoint(
  ckpt: TrainedCheckpoint,
  prep: PreparedEval,
  req: EvalRequest,
  protocol: EvalProtocol,
  specs: MetricSpec[],
  io: RunIO,
): Promise<{ outcome: EvalOutcome; workers: number }> {
  const [min, max] = ckpt.run.value_range;
  // Only the full ranking is spread over threads: sampled and candidate lists are ~100 scores a
  // user, over before a worker has started (docs/benchmarks.md, "Parallel evaluation").
  const engine = currentEngine()?.name ?? null;
  const choice = protocol.name === 'full' ? resolveRankWorkers(req.workers ?? 1, { engine, users: prep.users.model.length, items: prep.modelItems, modelBytes: weightBytes(ckpt.model.keras) }) : { workers: 1, reason: null };
  if (choice.reason !== null) (choice.warn === true ? io.log.warn : req.workers === 'auto' ? io.log.debug : io.log.info)(choice.reason);
  const pool = choice.workers > 1 && engine !== null ? await startRankPool({ workers: choice.workers, engine, model: ckpt.model, prep, log: io.log, signal: io.signal }) : null;
  try {
    const outcome = await evaluate(ckpt.model, prep, {
      protocol,
      metrics: specs,
      ratingRange: ckpt.run.loss === 'mse' ? { min, max } : null,
      userBlock: req.userBlock,
      signal: io.signal,
      progress: io.progress,
      pool: pool ?? undefined,
    });
    return { outcome, workers: pool?.workers ?? 1 };
  } finally {
    await pool?.close();
  }
}

/** Exit 2 while `rec train` writes the checkpoint: its model may change under the evaluation. */
async function checkNotTraining(ckpt: string): Promise<void> {
  const holder = await liveLockHolder(ckpt);
  if (holder) {
    throw new UsageError(`Checkpoint ${ckpt} is being written by another rec process: ${describeHolder(holder)}. Evaluate it once that run has ended; nothing was written.`);
  }
}

function describeSkips(skipped: Readonly<Record<string, number>>): string {
  const parts = Object.entries(skipped).map(([reason, n]) => `${n} ${reason}`);
  return parts.length > 0 ? parts.join(', ') : 'none';
}

/** Why no user could be evaluated, in the terms a user can act on. */
function noUsersMessage(dataDir: string, req: EvalRequest, outcome: Pick<EvalOutcome, 'users'>, matches: boolean): string {
  const reasons = Object.entries(outcome.users.skipped_by_reason)
    .map(([reason, n]) => `${n} ${reason}`)
    .join(', ');
  const unknown = outcome.users.skipped_by_reason.unknown_user ?? 0;
  const why =
    unknown > 0 && unknown === outcome.users.skipped
      ? `none of its ${unknown} users are in the model's vocabulary`
      : `all ${outcome.users.skipped} of its users were skipped (${reasons || 'no users at all'})`;
  const items = req.items ?? 'all';
  const hint = matches
    ? `Check --split, --protocol${items === 'all' ? '' : `, --items ${items}`} and --relevance-threshold.`
    : `This dataset is not the one ${req.checkpoint} was trained on; evaluate on that dataset (omit --data) or on one prepped from the same ids.`;
  return `No users could be evaluated on the ${req.split} split of ${dataDir}: ${why}. ${hint} Nothing was written.`;
}

/**
 * The metrics as TensorBoard scalars, `eval/<split>/<protocol>/<metric>` at the epoch of the
 * weights evaluated, so a resumed or fine-tuned run's later evaluations extend the same curve. A
 * re-evaluation at an epoch already logged leaves the first point (no duplicate steps); the eval
 * file holds the latest.
 */
async function logEvalScalars(req: EvalRequest, metrics: Record<string, number>, io: RunIO): Promise<void> {
  const step = (await readModelEpoch(req.checkpoint)) ?? 0;
  const prefix = `eval/${req.split}/${evalTag(req.protocol, req.items)}/`;
  const tb = await openEventWriter(join(req.checkpoint, TB_DIR));
  await tb.scalars(step, Object.fromEntries(Object.entries(metrics).map(([k, v]) => [prefix + k, v])));
  if (tb.file === null) io.log.info(`TensorBoard: ${prefix}* already logged at epoch ${step} in ${join(req.checkpoint, TB_DIR)}; not logged again`);
}

export async function runEval(req: EvalRequest, io: RunIO): Promise<EvalRunResult> {
  const started = performance.now();
  await checkNotTraining(req.checkpoint);
  // A kill -9 during an earlier eval leaves its temporaries; a live eval's are left alone.
  const stale = await removeStaleTemps(req.checkpoint, (name) => name.startsWith('.eval-'));
  if (stale.length > 0) io.log.info(`removed ${stale.length} temporary file(s) left by a killed rec eval in ${req.checkpoint}`);
  const ckpt = await loadTrainedCheckpoint(req.checkpoint, io.log);
  const dataDir = await checkpointDataDir(req.checkpoint, ckpt.run, req.data);
  const ds = await loadDataset(dataDir);
  const dataSha = await manifestSha256(dataDir);
  const matches = dataSha === ckpt.run.dataset.manifest_sha256;
  if (!matches) {
    io.log.warn(
      `dataset ${dataDir} is not the one ${req.checkpoint} was trained on (manifest sha256 ${dataSha.slice(0, 12)}..., the checkpoint's is ${ckpt.run.dataset.manifest_sha256.slice(0, 12)}...): users and items are matched by raw id, and the eval file records matches_checkpoint: false.`,
    );
  }
  if (ds[req.split].length === 0) {
    throw new UsageError(`--split ${req.split}: dataset ${dataDir} has no ${req.split} rows. Prep it with a split that has one (e.g. --split leave-last, or --test FILE).`);
  }
  const specs = parseMetrics(req.metrics.length ? req.metrics : defaultMetricNames(ckpt.run, req.protocol), req.k);
  const notes = evalNotes({ specs, protocol: req.protocol, numItems: ckpt.items.ids.length, feedback: ds.manifest.feedback.kind, relevanceThreshold: req.relevanceThreshold });
  for (const w of notes.warnings) io.log.warn(w);
  for (const i of notes.info) io.log.info(i);
  const protocol = await resolveProtocol(req.protocol, req.seed, ds, req.anonKey);
  const items = req.items ?? 'all';
  checkItemsApply(ckpt, items, 'checkpoint');
  const prep = prepareFor(ckpt, ds, req, specs);
  const { outcome: full, workers } = await evaluateCheckpoint(ckpt, prep, req, protocol, specs, io);
  // The file's relevant_items holds the ranked counts.
  const { relevant_ranked: ranked, ...outcome } = full;
  if (outcome.users.evaluated === 0) throw new DataError(noUsersMessage(dataDir, req, outcome, matches));
  const evalFile: EvalFile = {
    format_version: EVAL_FORMAT_VERSION,
    checkpoint: req.checkpoint,
    model: ckpt.run.model,
    data: { path: dataDir, manifest_sha256: dataSha, matches_checkpoint: matches },
    seed: req.seed,
    relevance_threshold: req.relevanceThreshold,
    rec_version: req.recVersion,
    created: new Date().toISOString(),
    seconds: Math.round(performance.now() - started) / 1000,
    workers,
    ...outcome,
    protocol: items === 'all' ? outcome.protocol : { ...outcome.protocol, items },
    relevant_items: relevantItemsRecord(prep, ranked),
    weights_sha256: await modelWeightsSha256(req.checkpoint),
  };
  delete evalFile.negatives;
  const file = join(req.checkpoint, evalFileName(req.split, req.protocol, items));

  const checks = checkFailUnder(outcome.metrics, req.failUnder);
  let baseline: EvalRunResult['baseline'] = null;
  if (req.baseline) {
    const gate = await compareWithBaseline(req.baseline, { req, io, ds, dataDir, ckpt, prep, protocol, specs, metrics: outcome.metrics });
    baseline = gate.baseline;
    checks.push(...gate.checks);
  } else if (req.maxDrop.length > 0) {
    throw new UsageError('--max-drop needs --baseline CKPT: the checkpoint to compare with.');
  }
  // Written last, after every check that can fail, so a failed eval leaves the previous files whole.
  await checkNotTraining(req.checkpoint);
  if (outcome.negatives) {
    await writeNegativesFile(negativesPathFor(file), outcome.negatives, { user: (u) => ds.users.ids[u], item: (i) => ds.items.ids[i] });
  }
  const gates = { passed: checks.every((c) => c.passed), checks };
  if (checks.length > 0) evalFile.gates = gates;
  if (baseline !== null) evalFile.baseline = baseline;
  await writeJsonAtomic(file, evalFile);
  await logEvalScalars(req, outcome.metrics, io);
  return { file, eval: evalFile, baseline, gates };
}

interface BaselineContext {
  req: EvalRequest;
  io: RunIO;
  ds: Dataset;
  dataDir: string;
  ckpt: TrainedCheckpoint;
  prep: PreparedEval;
  protocol: EvalProtocol;
  specs: MetricSpec[];
  /** The checkpoint's metrics on all its users. */
  metrics: Record<string, number>;
}

/**
 * The --baseline gate: both checkpoints evaluated on the users (and, under `full`, the relevant
 * items) both can evaluate, and the --max-drop checks of the checkpoint against the baseline.
 */
async function compareWithBaseline(baselineDir: string, ctx: BaselineContext): Promise<{ baseline: BaselineRecord; checks: GateCheck[] }> {
  const { req, io, ds, dataDir, ckpt, prep, protocol, specs, metrics } = ctx;
  const base = await loadTrainedCheckpoint(baselineDir, io.log);
  // Like with like: the baseline ranks the same kind of relevant items (the same --items).
  checkItemsApply(base, req.items ?? 'all', '--baseline');
  const basePrep = prepareFor(base, ds, req, specs);
  const mine = new Uint8Array(ds.users.ids.length);
  for (const u of prep.users.dataset) mine[u] = 1;
  const both = new Uint8Array(ds.users.ids.length);
  let common = 0;
  for (const u of basePrep.users.dataset) {
    if (mine[u] === 0) continue;
    both[u] = 1;
    common++;
  }
  if (common === 0) {
    throw new UsageError(
      `--baseline ${baselineDir} cannot be matched to ${req.checkpoint} on ${dataDir}: no user of the ${req.split} split can be evaluated by both (the baseline evaluates ${basePrep.users.dataset.length} users, skipped: ${describeSkips(basePrep.skipped)}; the checkpoint ${prep.users.dataset.length}, skipped: ${describeSkips(prep.skipped)}; their vocabularies share none of them, or one scores users from their histories and the other only users with a trained row). Compare checkpoints trained on overlapping users.`,
    );
  }
  const same = common === prep.users.dataset.length && common === basePrep.users.dataset.length;
  let minePrep = restrictToUsers(prep, both);
  let basePrepCompared = restrictToUsers(basePrep, both);
  let unranked = { mine: 0, base: 0 };
  if (req.protocol.name === 'full') {
    [minePrep, basePrepCompared] = sharedRelevance(minePrep, basePrepCompared);
    unranked = { mine: sum(minePrep.unrankableRelevant), base: sum(basePrepCompared.unrankableRelevant) };
  }
  const onlyMine = prep.users.dataset.length - common;
  const onlyBase = basePrep.users.dataset.length - common;
  let compared: BaselineRecord['compared'] = null;
  let mineCompared = metrics;
  if (!same || unranked.mine + unranked.base > 0) {
    io.log.warn(
      `--baseline: the gate compares the two on the ${common} users both can evaluate (${onlyMine} are evaluated only by ${req.checkpoint}, e.g. users new since the baseline was trained; ${onlyBase} only by the baseline) and on the same relevant items: ${unranked.base} relevant items only ${req.checkpoint} can rank count as misses for the baseline, ${unranked.mine} only the baseline can rank as misses for ${req.checkpoint}. The eval file's own metrics are ${req.checkpoint}'s on its ${prep.users.dataset.length} users.`,
    );
    mineCompared = (await evaluateCheckpoint(ckpt, minePrep, req, protocol, specs, io)).outcome.metrics;
    compared = { users: common, only_checkpoint: onlyMine, only_baseline: onlyBase, relevant_missed: { checkpoint: unranked.mine, baseline: unranked.base }, metrics: mineCompared };
  }
  const { outcome: b } = await evaluateCheckpoint(base, basePrepCompared, req, protocol, specs, io);
  const baseline: BaselineRecord = {
    checkpoint: baselineDir,
    pointer: req.baselinePointer ?? null,
    weights_sha256: await modelWeightsSha256(baselineDir),
    metrics: b.metrics,
    users: b.users,
    compared,
  };
  return { baseline, checks: checkMaxDrop(mineCompared, b.metrics, req.maxDrop) };
}

function sum(values: Int32Array | undefined): number {
  let total = 0;
  if (values) for (const v of values) total += v;
  return total;
}
