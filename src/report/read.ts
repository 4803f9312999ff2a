/**
 * What `rec report` reads from a checkpoint (docs/design.md#the-checkpoint-folder) and its dataset (docs/design.md#the-dataset-folder), through the TF-free
 * readers (src/io/checkpoint-read.ts) and small JSON readers of its own: src/io/checkpoint.ts loads
 * TF.js at import, and a report must not pay for an engine it never uses. Only the fields the report shows are checked; a missing optional file
 * (no eval yet, a dataset folder moved away) becomes a note on the page, not an error.
 */
import { basename, isAbsolute, join, resolve } from 'node:path';
import { pathExists } from '../io/atomic.js';
import { readBest as readBestRecord, readEvals as readEvalFiles, readMetrics, readRecordText } from '../io/checkpoint-read.js';
import { type GateSummary, gateOf, latestGate, type Promotion } from '../io/standing.js';
import { DataError, describeValue, RecError, UsageError } from '../util/errors.js';

export interface EpochPoint {
  epoch: number;
  loss: number;
  seconds: number | null;
  examplesPerS: number | null;
  valid: Record<string, number>;
}

export interface EvalResult {
  /** `test-full`, `test-sampled100`: the file's name between `eval-` and `.json`. */
  name: string;
  split: string;
  protocol: string;
  metrics: Record<string, number>;
  usersEvaluated: number | null;
  /**
   * What makes two results comparable: the evaluated dataset's manifest sha256, the split, the
   * protocol (its size, candidates file, and for sampled negatives the seed) and the relevance
   * threshold. Results with different keys were measured on different things.
   */
  like: string;
  /** The evaluated dataset's manifest sha256 (a nightly evaluates each night on its own day). */
  dataSha: string | null;
  gate: GateSummary | null;
}

export interface DataSummary {
  path: string;
  rows: Record<string, number>;
  rejectedByReason: Record<string, number>;
  users: number | null;
  items: number | null;
}

export interface ParentSummary {
  path: string;
  model: string;
  epoch: number | null;
  /** Whether the parent's folder (its run.json) is still there to read. */
  readable: boolean;
  /** The parent's best validation record and eval results, when readable. */
  best: { metric: string; value: number; epoch: number } | null;
  evals: EvalResult[];
}

export interface ReportRun {
  path: string;
  label: string;
  model: string;
  loss: string;
  feedback: string;
  engine: string;
  seed: number | null;
  status: string;
  started: string | null;
  trainSeconds: number | null;
  argv: string[];
  versions: Record<string, string>;
  /** Dotted config key → [value as text, source]. */
  config: [string, string, string][];
  datasetPath: string | null;
  /** The training dataset's manifest sha256 (run.json): validation metrics compare only within one. */
  datasetSha: string | null;
  /** The most recent gated eval (`rec eval --baseline/--max-drop/--fail-under`); null when none. */
  gate: GateSummary | null;
  /** Whether a `production` link (rec promote) points here, and when it was promoted; filled by report.ts. */
  promotion: Promotion | null;
  data: DataSummary | null;
  /** Why `data` is null (the folder is gone, its manifest unreadable). */
  dataNote: string | null;
  epochs: EpochPoint[];
  best: { metric: string; value: number; epoch: number } | null;
  evals: EvalResult[];
  parents: ParentSummary[];
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

async function readJson(path: string, what: string): Promise<unknown> {
  // A folder, a pipe or an unreadable file in place of the record: a DataError naming it, never a hang.
  const text = await readRecordText(path, what);
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new DataError(`${path} (${what}) is not valid JSON: ${error instanceof Error ? error.message : String(error)}.`, { cause: error });
  }
}

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

function numbers(v: unknown): Record<string, number> {
  const out: Record<string, number> = {};
  if (isObject(v)) for (const [k, x] of Object.entries(v)) if (typeof x === 'number' && Number.isFinite(x)) out[k] = x;
  return out;
}

/** Config leaves as dotted keys, in the file's order, with each one's recorded source. */
function flattenConfig(config: unknown, sources: Json, prefix = ''): [string, string, string][] {
  if (!isObject(config)) return [];
  const out: [string, string, string][] = [];
  for (const [k, v] of Object.entries(config)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (isObject(v)) out.push(...flattenConfig(v, sources, key));
    else out.push([key, JSON.stringify(v) ?? 'null', str(sources[key]) ?? '']);
  }
  return out;
}

export async function readEpochs(ckpt: string): Promise<EpochPoint[]> {
  const records = await readMetrics(ckpt);
  return records.map((r) => ({ epoch: r.epoch, loss: r.loss, seconds: num(r.seconds), examplesPerS: num(r.examples_per_s), valid: numbers(r.valid) }));
}

/** What a result must share with another to be compared with it (EvalResult.like), in words. */
function likeKey(v: Json, dataSha: string | null): string {
  const p = isObject(v.protocol) ? v.protocol : {};
  const extra = Object.keys(p).filter((k) => k !== 'name').sort().map((k) => ` ${k} ${typeof p[k] === 'string' ? (p[k] as string) : JSON.stringify(p[k])}`).join('');
  const seed = p.name === 'sampled' ? `, negatives seed ${String(num(v.seed))}` : '';
  const threshold = num(v.relevance_threshold);
  return `dataset ${dataSha === null ? '?' : dataSha.slice(0, 12)}, split ${str(v.split) ?? '?'}, protocol ${str(p.name) ?? '?'}${extra}${seed}${threshold === null ? '' : `, relevance threshold ${threshold}`}`;
}

export async function readEvals(ckpt: string): Promise<EvalResult[]> {
  return (await readEvalFiles(ckpt)).map((e) => {
    const v = e.json;
    const protocol = isObject(v.protocol) ? (str(v.protocol.name) ?? '?') + (num(v.protocol.n) !== null ? `:${String(v.protocol.n)}` : '') : '?';
    const dataSha = isObject(v.data) ? str(v.data.manifest_sha256) : null;
    return {
      name: e.id,
      split: str(v.split) ?? '?',
      protocol,
      metrics: numbers(e.metrics),
      usersEvaluated: isObject(v.users) ? num(v.users.evaluated) : null,
      like: likeKey(v, dataSha),
      dataSha,
      gate: gateOf(e.file, v),
    };
  });
}

/** best.json as the report shows it: null unless it names the metric, its value and the epoch. */
async function readBest(ckpt: string): Promise<ReportRun['best']> {
  const b = await readBestRecord(ckpt);
  if (b === null || b.metric === null || b.value === null || b.epoch === null) return null;
  return { metric: b.metric, value: b.value, epoch: b.epoch };
}

async function readData(datasetPath: string): Promise<{ data: DataSummary | null; note: string | null }> {
  const p = join(datasetPath, 'manifest.json');
  if (!(await pathExists(p))) return { data: null, note: `dataset folder not reachable here (${p} is missing)` };
  let m: unknown;
  try {
    m = await readJson(p, 'the dataset manifest');
  } catch (error) {
    // The dataset lives outside the checkpoint (moved, shared, replaced): like a missing one, a note.
    if (error instanceof RecError) return { data: null, note: error.message.replace(/\.$/, '') };
    throw error;
  }
  if (!isObject(m)) return { data: null, note: `${p} is not a JSON object` };
  return { data: { path: datasetPath, rows: numbers(m.rows), rejectedByReason: numbers(m.rejected_by_reason), users: num(m.users), items: num(m.items) }, note: null };
}

async function readParent(record: Json, from: string): Promise<ParentSummary> {
  const path = str(record.path) ?? '?';
  const abs = isAbsolute(path) ? path : resolve(from, path);
  const base = { path: abs, model: str(record.model) ?? '?', epoch: num(record.epoch) };
  // A parent moved or deleted since is normal (fine-tuned on another machine): the report says so.
  if (!(await pathExists(join(abs, 'run.json')))) return { ...base, readable: false, best: null, evals: [] };
  return { ...base, readable: true, best: await readBest(abs).catch(() => null), evals: await readEvals(abs).catch(() => []) };
}

/** Everything the report shows about one checkpoint; exit 2 when `ckpt` is not one. */
export async function readReportRun(ckpt: string): Promise<ReportRun> {
  const runPath = join(ckpt, 'run.json');
  if (!(await pathExists(ckpt))) throw new UsageError(`Checkpoint ${ckpt} does not exist. Expected a folder written by rec train.`);
  if (!(await pathExists(runPath))) throw new UsageError(`${ckpt} is not a rec checkpoint: ${runPath} is missing. Expected a folder written by rec train.`);
  const run = await readJson(runPath, 'the run record');
  if (!isObject(run) || str(run.model) === null) throw new DataError(`${runPath} has no "model" (received ${describeValue(run)}). Expected a run record written by rec train.`);
  const dataset = isObject(run.dataset) ? str(run.dataset.path) : null;
  const datasetPath = dataset === null ? null : isAbsolute(dataset) ? dataset : resolve(ckpt, dataset);
  const { data, note } = datasetPath === null ? { data: null, note: 'run.json records no dataset path' } : await readData(datasetPath);
  const timings = isObject(run.timings) ? run.timings : {};
  const versions: Record<string, string> = {};
  if (isObject(run.versions)) for (const [k, v] of Object.entries(run.versions)) if (typeof v === 'string') versions[k] = v;
  const parents = Array.isArray(run.parents) ? await Promise.all(run.parents.filter(isObject).map((p) => readParent(p, ckpt))) : [];
  const evals = await readEvals(ckpt);
  return {
    path: ckpt,
    label: basename(ckpt),
    model: run.model as string,
    loss: str(run.loss) ?? '?',
    feedback: str(run.feedback) ?? '?',
    engine: str(run.engine) ?? '?',
    seed: num(run.seed),
    status: str(run.status) ?? '?',
    started: str(timings.started),
    trainSeconds: num(timings.train_seconds),
    argv: Array.isArray(run.argv) ? run.argv.filter((a): a is string => typeof a === 'string') : [],
    versions,
    config: flattenConfig(run.config, isObject(run.config_sources) ? run.config_sources : {}),
    datasetPath,
    datasetSha: isObject(run.dataset) ? str(run.dataset.manifest_sha256) : null,
    gate: latestGate(evals.map((e) => e.gate)),
    promotion: null,
    data,
    dataNote: note,
    epochs: await readEpochs(ckpt),
    best: await readBest(ckpt),
    evals,
    parents,
  };
}
