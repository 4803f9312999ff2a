/**
 * Messages between the ranking pool (main thread, pool.ts) and its worker threads (worker.ts).
 * Everything a worker reads for the whole run (the split's CSR arrays, histories, the weights)
 * travels once in SharedArrayBuffers; a job message carries a range of user positions and the
 * answer carries that range's rankings, packed into a few transferred arrays.
 */
import type { ModelConfig, ModelName } from '../../config/schema.js';
import type { UserItems } from '../../data/user-items.js';
import type { EngineName } from '../../engine/backend.js';
import type { WorkerErrorMessage } from '../../util/worker-thread.js';
import type { ModelShape } from '../../models/model.js';
import type { WeightArray } from '../../models/weights.js';
import type { UserRanking } from '../metrics/accumulator.js';
import type { FullRankData, FullRankSettings, TopKSettings, TopLists } from '../rank-full.js';

/** What a worker rebuilds its model from: weights in shared memory, rewritten by RankPool.refresh. */
export interface ModelPayload {
  name: ModelName;
  config: ModelConfig;
  shape: ModelShape;
  weights: Record<string, WeightArray>;
}

export interface RankInit {
  type: 'init';
  engine: EngineName;
  model: ModelPayload;
  /** The split a full ranking reads (evaluation); null for a pool that only serves top-k lists. */
  data: FullRankData | null;
  /** What top-k lists read (rec recommend); null for an evaluation pool. */
  topK: TopKShared | null;
  /** Sequence models: each user's history the Scorer reads (PreparedEval.histories). */
  histories: UserItems | null;
  /** Test-only (TestHooks.rankWorkerFailAtJob): throw in the n-th job this worker ranks. */
  failAtJob: number | null;
  /** Test-only (TestHooks.workerHoldStartMs): wait this long before starting the engine. */
  holdStartMs: number;
}

/** rec recommend's lists: seen items by user index (CSR, null: nothing excluded), items never served. */
export interface TopKShared {
  numItems: number;
  seen: UserItems | null;
  never: Int32Array;
}

export type ToRankWorker =
  | RankInit
  /** The shared weights were rewritten: assign them before the next job. */
  | { type: 'weights' }
  | { type: 'rank'; job: number; lo: number; hi: number; settings: FullRankSettings }
  /** Top-k lists of these user indices, seen items excluded when `excludeSeen`. */
  | { type: 'topk'; job: number; users: Int32Array; excludeSeen: boolean; settings: TopKSettings };

/** The rankings of users lo … hi − 1, packed: user j's hits are hits[hitsAt[j − lo] … hitsAt[j − lo + 1]). */
export interface PackedRankings {
  hitsAt: Int32Array;
  hits: Uint8Array;
  relevant: Int32Array;
  /** Top-k items (coverage), at the same offsets as hits; null when not asked for. */
  items: Int32Array | null;
  auc: Float64Array | null;
}

export type FromRankWorker =
  | { type: 'ready' }
  | { type: 'ranked'; job: number; rankings: PackedRankings }
  | { type: 'top'; job: number; lists: TopLists }
  | WorkerErrorMessage;

export function packRankings(rankings: readonly UserRanking[], withItems: boolean, withAuc: boolean): PackedRankings {
  const hitsAt = new Int32Array(rankings.length + 1);
  rankings.forEach((r, j) => (hitsAt[j + 1] = hitsAt[j] + r.hits.length));
  const total = hitsAt[rankings.length];
  const hits = new Uint8Array(total);
  const items = withItems ? new Int32Array(total) : null;
  const relevant = new Int32Array(rankings.length);
  const auc = withAuc ? new Float64Array(rankings.length) : null;
  rankings.forEach((r, j) => {
    for (let t = 0; t < r.hits.length; t++) hits[hitsAt[j] + t] = r.hits[t];
    relevant[j] = r.relevant;
    if (items !== null) {
      const top = r.items;
      if (top === undefined || top.length !== r.hits.length) throw new Error('packRankings: a ranking without its items (coverage asked for)');
      for (let t = 0; t < top.length; t++) items[hitsAt[j] + t] = top[t];
    }
    if (auc !== null) auc[j] = r.auc ?? NaN;
  });
  return { hitsAt, hits, relevant, items, auc };
}

export function unpackRankings(p: PackedRankings): UserRanking[] {
  const out: UserRanking[] = [];
  for (let j = 0; j < p.relevant.length; j++) {
    const ranking: UserRanking = { hits: p.hits.subarray(p.hitsAt[j], p.hitsAt[j + 1]), relevant: p.relevant[j] };
    if (p.items !== null) ranking.items = p.items.subarray(p.hitsAt[j], p.hitsAt[j + 1]);
    if (p.auc !== null) ranking.auc = p.auc[j];
    out.push(ranking);
  }
  return out;
}

export function transferList(p: PackedRankings): ArrayBuffer[] {
  const out: ArrayBuffer[] = [];
  for (const a of [p.hitsAt, p.hits, p.relevant, p.items, p.auc]) if (a !== null && a.buffer instanceof ArrayBuffer) out.push(a.buffer);
  return out;
}
