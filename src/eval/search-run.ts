/**
 * `rec eval` of a search checkpoint (docs/evaluation.md#search): the held-out queries of a split ranked under the
 * `judged` or `full` protocol, written to CKPT/eval-<split>-<protocol>.json, with the same gates as recommendation
 * (`--fail-under`, `--baseline` re-evaluated on the same data and protocol, `--max-drop`).
 */
import { join } from 'node:path';
import { loadDataset, readVocabFile, type Dataset } from '../data/dataset.js';
import { writeJsonAtomic } from '../io/atomic.js';
import { paths, readRunJson, weightsCheck, type RunJson } from '../io/checkpoint.js';
import { loadSearchModel } from '../models/search/load.js';
import { QueryEncoder } from '../models/search/query.js';
import { SearchRanker } from '../models/search/search-model.js';
import { UsageError } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import { checkpointDataDir } from './checkpoint.js';
import { checkFailUnder, checkMaxDrop, type Gate, type GateCheck } from './gates.js';
import { encodeQueries, evaluateSearch, searchSplit, type SearchEvalData, type SearchEvalResult, type SearchProtocol } from './search.js';

export interface SearchEvalRequest {
  checkpoint: string;
  data: string | null;
  split: 'test' | 'valid';
  /** null: judged for a graded log, full for clicks. */
  protocol: SearchProtocol | null;
  k: readonly number[];
  failUnder: readonly Gate[];
  baseline: string | null;
  maxDrop: readonly Gate[];
  recVersion: string;
  log: Pick<Logger, 'info' | 'warn'>;
  signal?: AbortSignal;
}

export interface SearchEvalFile {
  format_version: number;
  kind: 'search';
  model: string;
  protocol: { name: SearchProtocol };
  split: 'test' | 'valid';
  k: number[];
  metrics: Record<string, number>;
  queries: SearchEvalResult['queries'];
  pairs: { evaluated: number; dropped_unknown_item: number };
  relevance: { scale: [number, number] | null; relevant_at_least: number };
  dataset: string;
  baseline?: { checkpoint: string; metrics: Record<string, number> };
  gates?: { passed: boolean; checks: GateCheck[] };
  rec_version: string;
  created: string;
}

/** Evaluates one search checkpoint on `ds` (its items mapped to the checkpoint's by raw id). */
async function evaluateCheckpoint(ckpt: string, run: RunJson, ds: Dataset, req: SearchEvalRequest, protocol: SearchProtocol): Promise<{ result: SearchEvalResult; dropped: number; data: SearchEvalData }> {
  const model = await loadSearchModel(paths(ckpt).model, weightsCheck(run, 'model/weights.bin', req.log));
  const ids = (await readVocabFile(join(paths(ckpt).vocab, 'items.arrow'))).index;
  const userIds = (await readVocabFile(join(paths(ckpt).vocab, 'users.arrow'))).index;
  const data = searchSplit(ds, req.split);
  const keep: number[] = [];
  const mapped: number[] = [];
  for (let r = 0; r < data.rows.items.length; r++) {
    const m = ids.get(ds.items.ids[data.rows.items[r]]);
    if (m === undefined) continue;
    keep.push(r);
    mapped.push(m);
  }
  // Rankings are per (dataset user, query), so two checkpoints are compared on the same lists; a user the checkpoint
  // never saw is ranked anonymously.
  const modelUser = (u: number) => userIds.get(ds.users.ids[u]) ?? -1;
  const rows = {
    queries: Int32Array.from(keep, (r) => data.rows.queries[r]),
    items: Int32Array.from(mapped),
    values: Float32Array.from(keep, (r) => data.rows.values[r]),
    users: Int32Array.from(keep, (r) => data.rows.users[r]),
  };
  const evalData = { ...data, rows };
  const encoder = new QueryEncoder(model.spec.featurizer);
  const encoded = encodeQueries(encoder, data.texts, rows);
  const result = evaluateSearch(new SearchRanker(model), evalData, encoded, protocol, req.k, req.signal, { modelUser });
  return { result, dropped: data.rows.items.length - keep.length, data: evalData };
}

export async function runSearchEval(req: SearchEvalRequest): Promise<{ file: string; eval: SearchEvalFile; passed: boolean }> {
  const run = await readRunJson(req.checkpoint);
  const dir = await checkpointDataDir(req.checkpoint, run, req.data);
  const ds = await loadDataset(dir);
  if (ds.queries === null) throw new UsageError(`${req.checkpoint} is a search model (${run.model}) and dataset ${dir} has no queries: evaluate it on a search log's dataset (--data DIR).`);
  const graded = ds.manifest.search?.relevance != null || ds.manifest.search?.relevance_range != null;
  const protocol: SearchProtocol = req.protocol ?? (graded ? 'judged' : 'full');
  const own = await evaluateCheckpoint(req.checkpoint, run, ds, req, protocol);
  if (own.dropped > 0) req.log.warn(`${own.dropped} ${req.split} pairs name items the checkpoint does not know (dropped_unknown_item)`);
  const checks = checkFailUnder(own.result.metrics, req.failUnder);
  let baseline: SearchEvalFile['baseline'];
  if (req.baseline !== null) {
    const baseRun = await readRunJson(req.baseline);
    if (!['bm25', 'two-tower', 'hybrid'].includes(baseRun.model)) throw new UsageError(`--baseline ${req.baseline} is a ${baseRun.model} model, not a search model: it cannot be evaluated on search queries. Expected a checkpoint of rec train --model bm25|two-tower|hybrid.`);
    const base = await evaluateCheckpoint(req.baseline, baseRun, ds, req, protocol);
    baseline = { checkpoint: req.baseline, metrics: base.result.metrics };
    checks.push(...checkMaxDrop(own.result.metrics, base.result.metrics, req.maxDrop));
  }
  const passed = checks.every((c) => c.passed);
  const file = join(req.checkpoint, `eval-${req.split}-${protocol}.json`);
  const evalFile: SearchEvalFile = {
    format_version: 1,
    kind: 'search',
    model: run.model,
    protocol: { name: protocol },
    split: req.split,
    k: [...req.k],
    metrics: own.result.metrics,
    queries: own.result.queries,
    pairs: { evaluated: own.result.pairs, dropped_unknown_item: own.dropped },
    relevance: { scale: own.data.scale, relevant_at_least: own.data.threshold },
    dataset: dir,
    ...(baseline !== undefined ? { baseline } : {}),
    ...(checks.length > 0 ? { gates: { passed, checks } } : {}),
    rec_version: req.recVersion,
    created: new Date().toISOString(),
  };
  await writeJsonAtomic(file, evalFile);
  return { file, eval: evalFile, passed };
}
