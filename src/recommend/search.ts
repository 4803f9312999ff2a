/**
 * `rec search`'s library: a search checkpoint opened once (model/, its item ids, the catalogue's titles when the
 * checkpoint kept them), then any number of queries, each scored exactly against every item (one block of item
 * vectors, no approximate index) and cut to the top k. Independent of the CLI.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readVocabFile } from '../data/dataset.js';
import { readItemTitles } from '../data/item-titles.js';
import { paths, type RunJson } from '../io/checkpoint-contract.js';
import { readRunJson } from '../io/checkpoint-read.js';
import { QueryEncoder, type EncodedQuery } from '../models/search/query.js';
import { decodeServing, SERVING_FILE, ServingRanker, type ServingModel } from '../models/search/serving.js';
import { UsageError } from '../util/errors.js';
import type { Logger } from '../util/log.js';

export interface SearchSession {
  readonly ranker: ServingRanker;
  readonly encoder: QueryEncoder;
  readonly itemIds: readonly string[];
  /** The checkpoint's users by raw id (empty for an anonymous log). */
  readonly users: ReadonlyMap<string, number>;
  readonly model: string;
  /** Whether `user` changes a ranking: the model has user histories and a positive personal weight. */
  readonly personal: boolean;
  /** Where the model came from: model/'s serving block, or (a checkpoint written before it) the whole model. */
  readonly source: 'serving' | 'model';
  /** Display titles by item index (vocab/item_titles.arrow); null when the checkpoint kept none. */
  readonly titles: readonly (string | null)[] | null;
}

export interface OpenSearchOptions {
  log?: Pick<Logger, 'warn'>;
  /** Runs before a checkpoint without a serving block is loaded the slow way (that path builds TF.js models). */
  prepareEngine?: () => Promise<void>;
}

export async function openSearch(ckpt: string, opts: OpenSearchOptions = {}): Promise<SearchSession> {
  const run = await readRunJson(ckpt);
  if (!['bm25', 'two-tower', 'hybrid'].includes(run.model)) {
    throw new UsageError(`${ckpt} is a ${run.model} checkpoint: rec search needs a search model (rec train --model bm25|two-tower|hybrid on a search log). For recommendations use rec recommend.`);
  }
  const [served, vocab, users, titles] = await Promise.all([
    readServing(ckpt, run, opts),
    readVocabFile(join(paths(ckpt).vocab, 'items.arrow')),
    readVocabFile(join(paths(ckpt).vocab, 'users.arrow')),
    readItemTitles(paths(ckpt).vocab),
  ]);
  const { model, source } = served;
  const personal = model.histories !== null && (model.spec.personal?.beta ?? 0) > 0;
  return { ranker: new ServingRanker(model), encoder: new QueryEncoder(model.spec.featurizer), itemIds: vocab.ids, users: users.index, model: run.model, personal, source, titles };
}

/** model/search_serving.bin when the checkpoint has one, else the whole model (TF.js graph and sidecar) reduced to the same parts. */
async function readServing(ckpt: string, run: RunJson, opts: OpenSearchOptions): Promise<{ model: ServingModel; source: SearchSession['source'] }> {
  const dir = paths(ckpt).model;
  const file = join(dir, SERVING_FILE);
  let bytes: Buffer | null = null;
  try {
    bytes = await readFile(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const recorded = run.status === 'running' ? null : (run.weights_sha256?.['model/weights.bin'] ?? null);
  if (bytes !== null) return { model: decodeServing(bytes, file, recorded), source: 'serving' };
  await opts.prepareEngine?.();
  const [{ loadSearchModel }, { servingModel }, { weightsCheck }] = await Promise.all([import('../models/search/load.js'), import('../models/search/search-model.js'), import('../io/checkpoint.js')]);
  return { model: servingModel(await loadSearchModel(dir, weightsCheck(run, 'model/weights.bin', opts.log))), source: 'model' };
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
