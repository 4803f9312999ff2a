/**
 * `rec search`'s library: a search checkpoint opened once (model/, its item ids, the catalogue's titles when the
 * checkpoint kept them), then any number of queries, each scored exactly against every item (one block of item
 * vectors, no approximate index) and cut to the top k. Independent of the CLI.
 */
import { join } from 'node:path';
import { readVocabFile } from '../data/dataset.js';
import { paths, readRunJson, weightsCheck } from '../io/checkpoint.js';
import { loadSearchModel } from '../models/search/load.js';
import { QueryEncoder, type EncodedQuery } from '../models/search/query.js';
import { SearchRanker } from '../models/search/search-model.js';
import { UsageError } from '../util/errors.js';
import type { Logger } from '../util/log.js';

export interface SearchSession {
  readonly ranker: SearchRanker;
  readonly encoder: QueryEncoder;
  readonly itemIds: readonly string[];
  /** The checkpoint's users by raw id (empty for an anonymous log). */
  readonly users: ReadonlyMap<string, number>;
  readonly model: string;
  /** Whether `user` changes a ranking: the model has user histories and a positive personal weight. */
  readonly personal: boolean;
}

export async function openSearch(ckpt: string, log?: Pick<Logger, 'warn'>): Promise<SearchSession> {
  const run = await readRunJson(ckpt);
  if (!['bm25', 'two-tower', 'hybrid'].includes(run.model)) {
    throw new UsageError(`${ckpt} is a ${run.model} checkpoint: rec search needs a search model (rec train --model bm25|two-tower|hybrid on a search log). For recommendations use rec recommend.`);
  }
  const model = await loadSearchModel(paths(ckpt).model, weightsCheck(run, 'model/weights.bin', log));
  const vocab = await readVocabFile(join(paths(ckpt).vocab, 'items.arrow'));
  const users = await readVocabFile(join(paths(ckpt).vocab, 'users.arrow'));
  const personal = model.histories !== null && (model.spec.personal?.beta ?? 0) > 0;
  return { ranker: new SearchRanker(model), encoder: new QueryEncoder(model.spec.featurizer), itemIds: vocab.ids, users: users.index, model: run.model, personal };
}

export interface SearchHit {
  item: number;
  score: number;
}

/**
 * The top `k` items for a query, best first; ties by item index. `user` (a raw id) personalises the ranking where the
 * model does; a user the checkpoint does not know is ranked anonymously (`known` false). Throws UsageError for an
 * empty query.
 */
export function searchTop(session: SearchSession, text: string, k: number, user: string | null = null): { hits: SearchHit[]; query: EncodedQuery; known: boolean } {
  if (text.trim() === '') throw new UsageError('The query is empty: give a query with at least one word, e.g. rec search CKPT "cordless drill".');
  const query = session.encoder.encode(text);
  const index = user === null ? -1 : (session.users.get(user) ?? -1);
  const { score } = session.ranker.score(query, null, undefined, index);
  return { hits: topK(score, k), query, known: user === null || index >= 0 };
}

/** Indices of the k largest values (descending; equal values by index), by a bounded min-heap. */
export function topK(values: Float32Array, k: number): SearchHit[] {
  const n = Math.min(k, values.length);
  const heap: number[] = [];
  const worse = (a: number, b: number) => values[a] < values[b] || (values[a] === values[b] && a > b);
  const down = (i: number) => {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < heap.length && worse(heap[l], heap[m])) m = l;
      if (r < heap.length && worse(heap[r], heap[m])) m = r;
      if (m === i) return;
      [heap[i], heap[m]] = [heap[m], heap[i]];
      i = m;
    }
  };
  const up = (i: number) => {
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!worse(heap[i], heap[p])) return;
      [heap[i], heap[p]] = [heap[p], heap[i]];
      i = p;
    }
  };
  for (let i = 0; i < values.length; i++) {
    if (Number.isNaN(values[i])) continue;
    if (heap.length < n) {
      heap.push(i);
      up(heap.length - 1);
    } else if (n > 0 && worse(heap[0], i)) {
      heap[0] = i;
      down(0);
    }
  }
  return heap.sort((a, b) => (values[b] !== values[a] ? values[b] - values[a] : a - b)).map((i) => ({ item: i, score: values[i] }));
}
