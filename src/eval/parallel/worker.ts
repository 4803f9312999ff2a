/**
 * Entry of a ranking worker thread (pool.ts starts it from the compiled dist/ file): its own
 * engine (the main thread's engine name) and its own copy of the model, rebuilt from the weights
 * the pool shares; it ranks the user ranges the pool hands it, one job at a time, with the same
 * code as the main thread (rank-full.ts).
 */
import { parentPort } from 'node:worker_threads';
import { itemsOf, type UserItems } from '../../data/user-items.js';
import { initEngine } from '../../engine/backend.js';
import { historyScorer, isHistoryModel, type AnyModel, type Scorer } from '../../models/model.js';
import { buildModel } from '../../models/registry.js';
import { assignWeightValues } from '../../models/weights.js';
import { silentLogger } from '../../util/log.js';
import { holdStart, serveInOrder } from '../../util/worker-thread.js';
import type { UserRanking } from '../metrics/accumulator.js';
import { createFullRanker, createTopKScorer, packTopLists, type FullRankData, type FullRanker, type TopKScorer } from '../rank-full.js';
import { packRankings, transferList, type FromRankWorker, type ModelPayload, type ToRankWorker, type TopKShared } from './protocol.js';

const port = parentPort;
if (port === null) throw new Error('src/eval/parallel/worker.js runs as a worker thread (started by the ranking pool), not as a script.');

interface State {
  model: AnyModel;
  weights: ModelPayload['weights'];
  scorer: Scorer;
  data: FullRankData | null;
  topK: TopKShared | null;
  failAtJob: number | null;
  jobs: number;
  ranker: { key: string; ranker: FullRanker } | null;
  topScorer: { key: string; scorer: TopKScorer } | null;
}
let state: State | null = null;

const send = (m: FromRankWorker, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);

function scorerOf(model: AnyModel, histories: UserItems | null): Scorer {
  if (!isHistoryModel(model)) return model;
  if (histories === null) throw new Error(`ranking worker: ${model.name} scores from histories, and none were shared`);
  return historyScorer(model, (u) => itemsOf(histories, u));
}

async function handle(m: ToRankWorker): Promise<void> {
  if (m.type === 'init') {
    await holdStart(m.holdStartMs);
    await initEngine({ backend: m.engine, log: silentLogger });
    // The initialisers' draws are overwritten at once: the seed only has to be a valid one.
    const model = buildModel(m.model.name, { config: m.model.config, shape: m.model.shape, nextSeed: () => 1 });
    assignWeightValues(model.keras, m.model.weights, 'ranking worker');
    state = { model, weights: m.model.weights, scorer: scorerOf(model, m.histories), data: m.data, topK: m.topK, failAtJob: m.failAtJob, jobs: 0, ranker: null, topScorer: null };
    send({ type: 'ready' });
    return;
  }
  const s = state;
  if (s === null) throw new Error(`message ${m.type} before init`);
  if (m.type === 'weights') {
    assignWeightValues(s.model.keras, s.weights, 'ranking worker');
    return;
  }
  s.jobs += 1;
  if (s.failAtJob !== null && s.jobs === s.failAtJob) throw new Error(`test-only failure injected by REC_TEST_RANK_WORKER_FAIL_AT_JOB=${s.failAtJob}`);
  if (m.type === 'topk') {
    topLists(s, m);
    return;
  }
  const data = s.data;
  if (data === null) throw new Error('ranking worker: a rank job, and no split was shared');
  // One ranker per settings, kept across jobs: its pacer has learnt the block size by then.
  const key = JSON.stringify(m.settings);
  if (s.ranker?.key !== key) {
    s.ranker?.ranker.dispose();
    s.ranker = { key, ranker: createFullRanker(s.scorer, data, m.settings) };
  }
  const ranker = s.ranker.ranker;
  const rankings: UserRanking[] = [];
  for (let lo = m.lo; lo < m.hi; ) lo = ranker.block(lo, m.hi, (r) => rankings.push(r));
  const packed = packRankings(rankings, m.settings.wantCoverage, m.settings.wantAuc);
  send({ type: 'ranked', job: m.job, rankings: packed }, transferList(packed));
}

function topLists(s: State, m: Extract<ToRankWorker, { type: 'topk' }>): void {
  const shared = s.topK;
  if (shared === null) throw new Error('ranking worker: a top-k job, and no catalogue was shared');
  const seen = shared.seen;
  const exclude = (u: number): Int32Array | undefined => (m.excludeSeen && seen !== null ? seen.items.subarray(seen.offsets[u], seen.offsets[u + 1]) : undefined);
  const key = `topk ${m.excludeSeen} ${JSON.stringify(m.settings)}`;
  if (s.topScorer?.key !== key) {
    s.topScorer?.scorer.dispose();
    s.topScorer = { key, scorer: createTopKScorer(s.scorer, shared.numItems, shared.never, exclude, m.settings) };
  }
  const scorer = s.topScorer.scorer;
  const lists: { items: Int32Array; scores: Float32Array }[] = [];
  for (let lo = 0; lo < m.users.length; ) lo = scorer.block(m.users, lo, m.users.length, (items, scores) => lists.push({ items, scores }));
  const packed = packTopLists(lists);
  send({ type: 'top', job: m.job, lists: packed }, [packed.counts.buffer, packed.items.buffer, packed.scores.buffer].filter((b): b is ArrayBuffer => b instanceof ArrayBuffer));
}

serveInOrder<ToRankWorker>(port, handle);
