/**
 * Item-item cosine similarity with shrinkage and top-k neighbours, the ItemKNN baseline of Sarwar
 * et al., "Item-Based Collaborative Filtering Recommendation Algorithms" (WWW 2001), as RecBole's
 * ItemKNN computes it:
 *   sim(i, j) = (x_i · x_j) / (‖x_i‖·‖x_j‖ + h)
 * with x_i item i's column of X (users × items, the observed weights) and h ≥ 0 the shrinkage.
 *
 * Catalogues of 25k–100k items rule out a dense n×n matrix, so it works item by item: the
 * co-occurrence dots of item i with every item are accumulated over i's users' rows into one
 * reusable dense accumulator, whose touched entries are then scanned into a k-heap and reset.
 */
import { checkUserRows, transposeRows, type UserRows } from './ease.js';

/** [numItems*k] row-major; unused slots id -1, sim 0; sorted by sim desc, ties by smaller id. */
export interface Neighbours {
  k: number;
  ids: Int32Array;
  sims: Float32Array;
}

/**
 * Each item's k most similar other items, keeping only positive similarities. An item listed twice
 * for one user counts as the sum of its weights. Similarities are rounded to float32 before they
 * are ranked, so the stored order is exact for the stored values.
 */
export function topKCosine(rows: UserRows, numItems: number, opts: { k: number; shrink: number }): Neighbours {
  checkUserRows(rows, numItems);
  const { k, shrink } = opts;
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`opts.k: expected a positive integer, received ${k}`);
  if (!Number.isFinite(shrink) || shrink < 0) throw new RangeError(`opts.shrink: expected a finite number >= 0, received ${shrink}`);
  const cols = transposeRows(rows, numItems);
  const norms = columnNorms(rows, numItems);
  const ids = new Int32Array(numItems * k).fill(-1);
  const sims = new Float32Array(numItems * k);
  const acc = new Float64Array(numItems);
  const seen = new Uint8Array(numItems);
  const touched = new Int32Array(numItems);
  const heap = new TopK(k);
  const { offsets, items, weights } = rows;
  for (let i = 0; i < numItems; i++) {
    let count = 0;
    for (let e = cols.offsets[i]; e < cols.offsets[i + 1]; e++) {
      const u = cols.users[e];
      const wi = cols.weights[e];
      for (let f = offsets[u]; f < offsets[u + 1]; f++) {
        const j = items[f];
        if (seen[j] === 0) {
          seen[j] = 1;
          touched[count++] = j;
        }
        acc[j] += wi * weights[f];
      }
    }
    heap.clear();
    const ni = norms[i];
    for (let t = 0; t < count; t++) {
      const j = touched[t];
      const dot = acc[j];
      acc[j] = 0;
      seen[j] = 0;
      if (j === i) continue;
      const sim = Math.fround(dot / (ni * norms[j] + shrink));
      // `> 0` also drops the NaN of 0 / 0 (a zero-norm pair with no shrinkage).
      if (sim > 0) heap.offer(sim, j);
    }
    heap.drainSorted(ids, sims, i * k);
  }
  return { k, ids, sims };
}

/** ‖x_i‖ per item, with duplicates of (user, item) summed before squaring. */
function columnNorms(rows: UserRows, numItems: number): Float64Array {
  const { offsets, items, weights } = rows;
  const sq = new Float64Array(numItems);
  const rowSum = new Float64Array(numItems);
  for (let u = 0; u + 1 < offsets.length; u++) {
    for (let e = offsets[u]; e < offsets[u + 1]; e++) rowSum[items[e]] += weights[e];
    for (let e = offsets[u]; e < offsets[u + 1]; e++) {
      const it = items[e];
      sq[it] += rowSum[it] * rowSum[it];
      rowSum[it] = 0;
    }
  }
  for (let i = 0; i < numItems; i++) sq[i] = Math.sqrt(sq[i]);
  return sq;
}

/**
 * A bounded min-heap on (sim, then larger id): its root is the weakest kept neighbour, the one a
 * better candidate replaces.
 */
class TopK {
  private readonly k: number;
  private readonly sims: Float64Array;
  private readonly ids: Int32Array;
  private size = 0;

  constructor(k: number) {
    this.k = k;
    this.sims = new Float64Array(k);
    this.ids = new Int32Array(k);
  }

  clear(): void {
    this.size = 0;
  }

  /** Whether (sa, ia) ranks below (sb, ib): smaller sim, or equal sim and larger id. */
  private static weaker(sa: number, ia: number, sb: number, ib: number): boolean {
    return sa < sb || (sa === sb && ia > ib);
  }

  offer(sim: number, id: number): void {
    if (this.size < this.k) {
      let c = this.size++;
      while (c > 0) {
        const p = (c - 1) >> 1;
        if (!TopK.weaker(sim, id, this.sims[p], this.ids[p])) break;
        this.sims[c] = this.sims[p];
        this.ids[c] = this.ids[p];
        c = p;
      }
      this.sims[c] = sim;
      this.ids[c] = id;
      return;
    }
    if (!TopK.weaker(this.sims[0], this.ids[0], sim, id)) return;
    this.siftDown(sim, id, this.size);
  }

  /** Puts (sim, id) at the root and sifts it down within the first `size` slots. */
  private siftDown(sim: number, id: number, size: number): void {
    let c = 0;
    for (;;) {
      let child = 2 * c + 1;
      if (child >= size) break;
      if (child + 1 < size && TopK.weaker(this.sims[child + 1], this.ids[child + 1], this.sims[child], this.ids[child])) child++;
      if (!TopK.weaker(this.sims[child], this.ids[child], sim, id)) break;
      this.sims[c] = this.sims[child];
      this.ids[c] = this.ids[child];
      c = child;
    }
    this.sims[c] = sim;
    this.ids[c] = id;
  }

  /** Writes the kept entries strongest first at out[at..at+size) and empties the heap. */
  drainSorted(outIds: Int32Array, outSims: Float32Array, at: number): void {
    // Popping the weakest fills the slots from the back.
    for (let n = this.size; n > 0; n--) {
      outIds[at + n - 1] = this.ids[0];
      outSims[at + n - 1] = this.sims[0];
      const lastSim = this.sims[n - 1];
      const lastId = this.ids[n - 1];
      this.siftDown(lastSim, lastId, n - 1);
    }
    this.size = 0;
  }
}
