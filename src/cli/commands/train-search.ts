/**
 * `rec train --model bm25|two-tower|hybrid`: the search half of `rec train`, composing the search trainer
 * (src/train/search-run.ts) with its validation and calibration (src/eval/search.ts) on a search-log dataset.
 */
import type { Dataset } from '../../data/dataset.js';
import { loadItemFeatures } from '../../data/item-features.js';
import { manifestSha256 } from '../../data/dataset.js';
import type { EngineInfo } from '../../engine/backend.js';
import { writeVocab } from '../../io/checkpoint.js';
import { calibrate, defaultProtocol, encodeQueries, evaluateSearch, searchScale, searchSplit, type SearchEvalData, type SearchProtocol } from '../../eval/search.js';
import { lowerIsBetter } from '../../eval/metrics/registry.js';
import { QueryEncoder } from '../../models/search/query.js';
import { SearchRanker, type SearchModelName } from '../../models/search/search-model.js';
import { runSearchTrain, type SearchTrainResult } from '../../train/search-run.js';
import { UsageError } from '../../util/errors.js';
import { REC_VERSION } from '../../util/version.js';
import type { CommandContext } from '../context.js';

export function requireSearchDataset(ds: Dataset, model: string): NonNullable<Dataset['queries']> {
  if (ds.queries === null || ds.train.queries === null) {
    throw new UsageError(`--model ${model} trains on a search log: dataset ${ds.dir} has no query column. Prep one with rec prep LOG --columns query=C,item=C[,relevance=C] --items CATALOGUE.`);
  }
  return ds.queries;
}

/**
 * What validation ranks: the two-tower model is a retrieval model, so it is validated by retrieving from the whole
 * catalogue (judged lists would stop it once it orders a query's judged items, long before it finds them among all);
 * BM25 and the hybrid by the log's protocol (judged lists for graded relevance).
 */
function validationProtocol(model: SearchModelName, valid: SearchEvalData): SearchProtocol {
  return model === 'two-tower' ? 'full' : defaultProtocol(valid);
}

export async function trainSearch(ctx: CommandContext, ds: Dataset, out: string, resume: boolean, engine: EngineInfo): Promise<SearchTrainResult> {
  const { config } = ctx.resolved;
  const model = config.train.model as SearchModelName;
  const queries = requireSearchDataset(ds, model);
  const scale = searchScale(ds);
  const valid = searchSplit(ds, 'valid');
  const hasValid = ds.valid.length > 0;
  const encoder = new QueryEncoder(queries.spec);
  const encoded = hasValid ? encodeQueries(encoder, valid.texts, valid.rows) : new Map();
  const requested = config.train.early_stopping.metric;
  const metric = requested === 'auto' ? 'ndcg@10' : requested;
  if (!hasValid) ctx.log.info('no validation split: training for fixed epochs; the hybrid blend and the relevance head need one (prep with --split query:0.8,0.1,0.1)');
  const ks = [...new Set([...config.eval.k, 10])];
  return runSearchTrain(
    {
      model,
      data: {
        dir: ds.dir,
        manifestSha256: await manifestSha256(ds.dir),
        feedback: ds.manifest.feedback.kind,
        users: ds.users.ids.length,
        items: ds.items.ids.length,
        features: await loadItemFeatures(ds.dir, ds.manifest),
        queries,
        train: { queries: ds.train.queries as Int32Array, items: ds.train.items, values: ds.train.values, users: ds.train.users },
        scale,
        writeVocab: (ckpt) => writeVocab(ckpt, ds.dir),
      },
      out,
      resume,
      resolved: ctx.resolved,
      argv: process.argv.slice(2),
      recVersion: REC_VERSION,
      engine,
      validate: hasValid ? async (m) => evaluateSearch(new SearchRanker(m), valid, encoded, validationProtocol(model, valid), ks, ctx.io.signal).metrics : null,
      calibrate: hasValid ? (m) => calibrate(m, new SearchRanker(m), valid, encoded) : null,
      monitor: hasValid ? { metric, higherIsBetter: !lowerIsBetter(metric) } : null,
    },
    ctx.io,
  );
}
