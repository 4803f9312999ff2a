/**
 * Top-k selection and candidate ranks under the pessimistic tie rule of docs/evaluation.md#protocols: an item scoring
 * equal to a relevant item ranks above it.
 *
 * Ranking order is therefore (score descending, non-relevant before relevant, index ascending).
 * The rule matters at the cutoff too: when a tie group straddles rank k, its non-relevant members
 * take the places first, so a relevant item tied with the k-th item is not a hit. A model that
 * scores everything equally gets hits only when fewer than k non-relevant items remain, never by
 * the accident of an index order. NaN scores rank as -∞ (a broken score never earns a hit).
 *
 * Selection is a bounded binary heap over the catalogue: O(n) for the scan (most items fail one
 * comparison against the heap's worst), O(k log k) to order the result; no full sort.
 */

export interface TopK {
  /** Item indices, best first (length min(k, rankable items)). */
  items: Int32Array;
  scores: Float32Array;
  /** hits[i] = 1 when items[i] is relevant. */
  hits: Uint8Array;
}

export interface TopKOptions {
  /** Items never ranked (the user's train items under `full`; valid items too when evaluating test). */
  exclude?: ArrayLike<number>;
  /** The user's relevant items: they lose ties and are flagged in `hits`. */
  relevant?: ArrayLike<number>;
}

export interface Ranker {
  topK(scores: ArrayLike<number>, k: number, options?: TopKOptions): TopK;
}

const EXCLUDED = 1;
const RELEVANT = 2;
const NEVER = 4;

/**
 * A ranker for a catalogue of `numItems` items. It keeps one scratch mask of numItems bytes,
 * marked and unmarked per call (O(|exclude| + |relevant|)), so ranking many users allocates only
 * the result. `never` lists items no user's ranking may hold (items the model has no learned row
 * for), marked once. Not re-entrant: use one ranker per concurrent caller.
 */
export function createRanker(numItems: number, never: ArrayLike<number> = []): Ranker {
  const marks = new Uint8Array(numItems);
  for (let j = 0; j < never.length; j++) marks[never[j]] = NEVER;
  let heap: Heap = { item: new Int32Array(0), score: new Float64Array(0), rel: new Uint8Array(0) };

  return {
    topK(scores, k, options = {}) {
      if (!Number.isInteger(k) || k < 1) throw new RangeError(`topK: k must be a positive integer; got ${k}`);
      if (scores.length !== numItems) {
        throw new RangeError(`topK: expected ${numItems} scores (one per item); got ${scores.length}`);
      }
      const { exclude, relevant } = options;
      if (exclude) for (let j = 0; j < exclude.length; j++) marks[exclude[j]] |= EXCLUDED;
      if (relevant) for (let j = 0; j < relevant.length; j++) marks[relevant[j]] |= RELEVANT;
      if (heap.item.length < k) heap = { item: new Int32Array(k), score: new Float64Array(k), rel: new Uint8Array(k) };
      const out = sortedTop(heap, keepTop(heap, scores, marks, k));
      if (exclude) for (let j = 0; j < exclude.length; j++) marks[exclude[j]] &= NEVER;
      if (relevant) for (let j = 0; j < relevant.length; j++) marks[relevant[j]] &= NEVER;
      return out;
    },
  };
}

/** The kept items, a min-heap on rank order: the root is the worst of them. */
interface Heap {
  item: Int32Array;
  score: Float64Array;
  rel: Uint8Array;
}

/** worse(a, b): a ranks below b. */
function worse(sa: number, ra: number, ia: number, sb: number, rb: number, ib: number): boolean {
  return sa < sb || (sa === sb && (ra > rb || (ra === rb && ia > ib)));
}

/** Fills `heap` with the best `k` items the marks allow; returns how many it holds. */
function keepTop(heap: Heap, scores: ArrayLike<number>, marks: Uint8Array, k: number): number {
  const { item: heapItem, score: heapScore, rel: heapRel } = heap;
  let size = 0;
  for (let i = 0; i < marks.length; i++) {
    const m = marks[i];
    if (m & (EXCLUDED | NEVER)) continue;
    let s = scores[i];
    if (s !== s) s = -Infinity;
    const r = m & RELEVANT ? 1 : 0;
    if (size < k) {
      heapScore[size] = s;
      heapRel[size] = r;
      heapItem[size] = i;
      siftUp(heap, size++);
    } else if (s > heapScore[0] || (s === heapScore[0] && !worse(s, r, i, heapScore[0], heapRel[0], heapItem[0]))) {
      heapScore[0] = s;
      heapRel[0] = r;
      heapItem[0] = i;
      siftDown(heap, size, 0);
    }
  }
  return size;
}

function siftDown(heap: Heap, size: number, pos: number): void {
  const { item: heapItem, score: heapScore, rel: heapRel } = heap;
  const s = heapScore[pos];
  const r = heapRel[pos];
  const it = heapItem[pos];
  for (;;) {
    const l = 2 * pos + 1;
    if (l >= size) break;
    const rc = l + 1;
    let c = l;
    if (rc < size && worse(heapScore[rc], heapRel[rc], heapItem[rc], heapScore[l], heapRel[l], heapItem[l])) c = rc;
    if (!worse(heapScore[c], heapRel[c], heapItem[c], s, r, it)) break;
    heapScore[pos] = heapScore[c];
    heapRel[pos] = heapRel[c];
    heapItem[pos] = heapItem[c];
    pos = c;
  }
  heapScore[pos] = s;
  heapRel[pos] = r;
  heapItem[pos] = it;
}

function siftUp(heap: Heap, pos: number): void {
  const { item: heapItem, score: heapScore, rel: heapRel } = heap;
  const s = heapScore[pos];
  const r = heapRel[pos];
  const it = heapItem[pos];
  while (pos > 0) {
    const p = (pos - 1) >> 1;
    if (!worse(s, r, it, heapScore[p], heapRel[p], heapItem[p])) break;
    heapScore[pos] = heapScore[p];
    heapRel[pos] = heapRel[p];
    heapItem[pos] = heapItem[p];
    pos = p;
  }
  heapScore[pos] = s;
  heapRel[pos] = r;
  heapItem[pos] = it;
}

/** The heap's `size` items, best first. */
function sortedTop(heap: Heap, size: number): TopK {
  const { item: heapItem, score: heapScore, rel: heapRel } = heap;
  const order = Array.from({ length: size }, (_, j) => j);
  order.sort((a, b) =>
    worse(heapScore[a], heapRel[a], heapItem[a], heapScore[b], heapRel[b], heapItem[b])
      ? 1
      : worse(heapScore[b], heapRel[b], heapItem[b], heapScore[a], heapRel[a], heapItem[a])
        ? -1
        : 0,
  );
  const out: TopK = { items: new Int32Array(size), scores: new Float32Array(size), hits: new Uint8Array(size) };
  for (let j = 0; j < size; j++) {
    const h = order[j];
    out.items[j] = heapItem[h];
    out.scores[j] = heapScore[h];
    out.hits[j] = heapRel[h];
  }
  return out;
}

/** One-off top-k (allocates a mask of scores.length bytes; use createRanker for many users). */
export function topK(scores: ArrayLike<number>, k: number, options?: TopKOptions): TopK {
  return createRanker(scores.length).topK(scores, k, options);
}

/**
 * Pessimistic 0-based rank of a true item among candidates (sampled and candidates protocols):
 * the number of candidates scoring ≥ it. `candidateScores` must not include the true item itself.
 * Rank r is a hit at cutoff k when r < k. A NaN true score ranks last; NaN candidates count as -∞.
 */
export function rankAmong(trueScore: number, candidateScores: ArrayLike<number>): number {
  if (trueScore !== trueScore) return candidateScores.length;
  let rank = 0;
  for (let j = 0; j < candidateScores.length; j++) if (candidateScores[j] >= trueScore) rank++;
  return rank;
}

/** The hit vector of a single relevant item at 0-based `rank`, `length` ranks long. */
export function hitsFromRank(rank: number, length: number): Uint8Array {
  const hits = new Uint8Array(length);
  if (rank >= 0 && rank < length) hits[rank] = 1;
  return hits;
}
