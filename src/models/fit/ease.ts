/**
 * EASE, the item-item linear autoencoder of Steck, "Embarrassingly Shallow Autoencoders for Sparse
 * Data" (WWW 2019), in closed form:
 *   G = XᵀX + λI,  P = G⁻¹,  B_ij = −P_ij / P_jj (i ≠ j),  B_jj = 0,  score(u, ·) = x_u · B
 * with X the user × item matrix of observed weights.
 *
 * The cost is the n×n inverse. Plain JS float loops manage ~1 GFLOP/s, TF.js `matMul` on wasm ~20,
 * so G is inverted by a blocked Gauss–Jordan sweep (the sweep operator; Goodnight, "A Tutorial on
 * the SWEEP Operator", 1979) whose rank-b updates are `tf.matMul` calls, while only the
 * small b×b pivot blocks are inverted in JS float64. G is symmetric positive definite, so no
 * pivoting is needed and every sweep keeps the matrix symmetric: only the lower triangle is kept up
 * to date, which halves the multiply work to ~n³ flops.
 *
 * Measured at n = 3,706 (2 shared cores): ~4 s on wasm, ~100 s on the cpu engine, whose matMul is
 * plain JS; time grows as n³. One float32 n×n array is at most 4 GiB under Node 20, so n ≤ 32,768.
 */
import type * as TF from '@tensorflow/tfjs';
import { tf } from '../../engine/tf.js';
import { asWasm, owningBackend } from '../../engine/kernels/backend-access.js';

/** Observed entries per user in CSR: user u's items items[offsets[u]..offsets[u+1]) with weights. */
export interface UserRows {
  offsets: Int32Array;
  items: Int32Array;
  weights: Float32Array;
}

export interface EaseOptions {
  /** Pivot block size (default 256): the b of the b×b blocks inverted in JS float64. */
  block?: number;
  /** Called after each pivot block is swept, with the blocks done so far and their total. */
  onBlock?: (done: number, total: number) => void;
  /**
   * Overwrite `gram` with the result instead of allocating a second n×n array (halves the peak
   * memory; the returned array is then `gram` itself).
   */
  inPlace?: boolean;
}

const DEFAULT_BLOCK = 256;

/**
 * Checks a CSR of user rows against `numItems` and returns the number of users. Shared with the
 * other item-based kernels so they reject malformed input the same way.
 */
export function checkUserRows(rows: UserRows, numItems: number): number {
  if (!Number.isInteger(numItems) || numItems < 1) {
    throw new RangeError(`numItems: expected a positive integer, received ${numItems}`);
  }
  const { offsets, items, weights } = rows;
  if (offsets.length < 1 || offsets[0] !== 0) {
    throw new RangeError(`rows.offsets: expected at least one entry starting at 0, received length ${offsets.length} starting at ${offsets[0]}`);
  }
  const numUsers = offsets.length - 1;
  if (offsets[numUsers] !== items.length) {
    throw new RangeError(`rows.offsets: expected the last offset to equal rows.items.length ${items.length}, received ${offsets[numUsers]}`);
  }
  if (weights.length !== items.length) {
    throw new RangeError(`rows.weights: expected length ${items.length} (one per item), received ${weights.length}`);
  }
  for (let u = 0; u < numUsers; u++) {
    if (offsets[u + 1] < offsets[u]) {
      throw new RangeError(`rows.offsets: expected non-decreasing offsets, received ${offsets[u + 1]} after ${offsets[u]} at user ${u}`);
    }
  }
  for (let e = 0; e < items.length; e++) {
    const it = items[e];
    if (it < 0 || it >= numItems) {
      throw new RangeError(`rows.items: expected item ids in [0, ${numItems}), received ${it} at entry ${e}`);
    }
    if (!Number.isFinite(weights[e])) {
      throw new RangeError(`rows.weights: expected finite weights, received ${weights[e]} at entry ${e}`);
    }
  }
  return numUsers;
}

/** The transpose of a UserRows CSR: item i's users users[offsets[i]..offsets[i+1]) with weights. */
export interface ItemColumns {
  offsets: Int32Array;
  users: Int32Array;
  weights: Float32Array;
}

/** The item → users CSR of already checked rows (users ascending within each item). */
export function transposeRows(rows: UserRows, numItems: number): ItemColumns {
  const { offsets, items, weights } = rows;
  const numUsers = offsets.length - 1;
  const colOffsets = new Int32Array(numItems + 1);
  for (let e = 0; e < items.length; e++) colOffsets[items[e] + 1]++;
  for (let i = 0; i < numItems; i++) colOffsets[i + 1] += colOffsets[i];
  const fill = colOffsets.slice(0, numItems);
  const users = new Int32Array(items.length);
  const colWeights = new Float32Array(items.length);
  for (let u = 0; u < numUsers; u++) {
    for (let e = offsets[u]; e < offsets[u + 1]; e++) {
      const slot = fill[items[e]]++;
      users[slot] = u;
      colWeights[slot] = weights[e];
    }
  }
  return { offsets: colOffsets, users, weights: colWeights };
}

/**
 * XᵀX as a dense row-major float32 [numItems*numItems], from the users' rows (Σ_u over pairs of
 * their items; O(Σ_u |I_u|²)). An item listed twice for one user counts as the sum of its weights,
 * as if X held that sum.
 */
export function itemGram(rows: UserRows, numItems: number): Float32Array {
  const numUsers = checkUserRows(rows, numItems);
  const cols = transposeRows(rows, numItems);
  // Transposing back sorts each user's items, so a row of the lower triangle can stop early.
  const back = transposeRows({ offsets: cols.offsets, items: cols.users, weights: cols.weights }, numUsers);
  const { offsets } = back;
  const items = back.users;
  const weights = back.weights;
  const gram = new Float32Array(numItems * numItems);
  // Row by row (G_a· = Σ_{u ∋ a} w_ua x_u) so the accumulated row stays in cache; scattering
  // user by user into all n rows missed the cache on nearly every add (5 s instead of 1 on ML-1M).
  const acc = new Float64Array(numItems);
  for (let a = 0; a < numItems; a++) {
    for (let e = cols.offsets[a]; e < cols.offsets[a + 1]; e++) {
      const u = cols.users[e];
      const wa = cols.weights[e];
      const end = offsets[u + 1];
      for (let f = offsets[u]; f < end && items[f] <= a; f++) acc[items[f]] += wa * weights[f];
    }
    const row = a * numItems;
    for (let j = 0; j <= a; j++) {
      gram[row + j] = acc[j];
      acc[j] = 0;
    }
  }
  mirrorLower(gram, numItems);
  return gram;
}

/** Copies the lower triangle onto the upper, in tiles so the transposed writes stay in cache. */
function mirrorLower(m: Float32Array, n: number): void {
  const tile = 64;
  for (let i0 = 0; i0 < n; i0 += tile) {
    const i1 = Math.min(n, i0 + tile);
    for (let j0 = 0; j0 <= i0; j0 += tile) {
      const j1 = Math.min(n, j0 + tile);
      for (let i = i0; i < i1; i++) {
        const jEnd = Math.min(j1, i);
        for (let j = j0; j < jEnd; j++) m[j * n + i] = m[i * n + j];
      }
    }
  }
}

/** Pivot blocks easeSweep takes for n items at the default block size. */
export function easeBlocks(n: number): number {
  return Math.ceil(n / blockSize(n, undefined));
}

function blockSize(n: number, block: number | undefined): number {
  const b = block ?? DEFAULT_BLOCK;
  if (!Number.isInteger(b) || b < 1) throw new RangeError(`opts.block: expected a positive integer, received ${b}`);
  return Math.min(b, n);
}

/**
 * Bytes easeWeights holds at its peak for n items, the caller's n×n gram included (so a caller can
 * refuse a catalogue that does not fit before building the gram): the gram, the working copy
 * (absent with `inPlace`), and per pivot block O(n·b) of panels in JS and in the engine.
 */
export function easePeakBytes(n: number, opts: { block?: number; inPlace?: boolean } = {}): number {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`n: expected a positive integer, received ${n}`);
  const b = blockSize(n, opts.block);
  const square = 4 * n * n;
  // JS: the n×b column panel and C (float32), the pivot block in float64 and float32. Engine: at
  // most two n×b operands, one b×b and one n×b product at a time (wasm's heap keeps its high-water
  // mark, which these bound).
  const perBlock = 4 * (2 * n * b) + 12 * b * b + 4 * (3 * n * b + b * b) + 8 * n;
  return square * (opts.inPlace === true ? 1 : 2) + perBlock;
}

/**
 * The EASE weights B (row-major [n*n] float32, zero diagonal) for Gram matrix `gram` and λ.
 * Only the lower triangle of `gram` is read (it must be symmetric); it is not modified unless
 * `opts.inPlace`. Throws if G + λI is not positive definite (λ = 0 with an item nobody saw).
 */
export function easeWeights(gram: Float32Array, n: number, lambda: number, opts: EaseOptions = {}): Float32Array {
  const sweep = easeSweep(gram, n, lambda, opts);
  for (let k = 0; k < sweep.blocks; k++) {
    sweep.sweep(k);
    opts.onBlock?.(k + 1, sweep.blocks);
  }
  return sweep.weights();
}

/** easeWeights one pivot block at a time, so a caller can pace the work (a training epoch's steps). */
export interface EaseSweep {
  /** Pivot blocks to sweep, in order 0 .. blocks − 1. */
  readonly blocks: number;
  sweep(block: number): void;
  /** B, once every block is swept. */
  weights(): Float32Array;
}

export function easeSweep(gram: Float32Array, n: number, lambda: number, opts: Pick<EaseOptions, 'block' | 'inPlace'> = {}): EaseSweep {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`n: expected a positive integer, received ${n}`);
  if (gram.length !== n * n) throw new RangeError(`gram: expected length n*n = ${n * n}, received ${gram.length}`);
  if (!Number.isFinite(lambda) || lambda < 0) throw new RangeError(`lambda: expected a finite number >= 0, received ${lambda}`);
  const b = blockSize(n, opts.block);
  const w = opts.inPlace === true ? gram : Float32Array.from(gram);
  for (let i = 0; i < n; i++) w[i * n + i] += lambda;
  const blocks = Math.ceil(n / b);
  let next = 0;
  return {
    blocks,
    sweep(k) {
      if (k !== next) throw new RangeError(`block: expected ${next} (blocks are swept in order), received ${k}`);
      sweepBlock(w, n, k * b, Math.min(n, (k + 1) * b));
      next++;
    },
    weights() {
      if (next !== blocks) throw new RangeError(`weights: ${blocks - next} of ${blocks} blocks are not swept yet`);
      // After sweeping every index the matrix holds −G⁻¹ = −P (lower triangle).
      weightsFromNegInverse(w, n);
      next++;
      return w;
    },
  };
}

/**
 * The columns k0..k1 of the symmetric matrix as an n×b row-major panel, read from the lower
 * triangle only: rows above the block come from the block's rows.
 */
function readColumnPanel(w: Float32Array, n: number, k0: number, k1: number): Float32Array {
  const b = k1 - k0;
  const panel = new Float32Array(n * b);
  for (let a = 0; a < b; a++) {
    const row = (k0 + a) * n;
    for (let i = 0; i < k0; i++) panel[i * b + a] = w[row + i];
  }
  for (let i = k0; i < n; i++) {
    const row = i * n + k0;
    const out = i * b;
    const lim = Math.min(b, i - k0 + 1);
    for (let a = 0; a < lim; a++) panel[out + a] = w[row + a];
    // Upper part of the diagonal block: mirror from below.
    for (let a = lim; a < b; a++) panel[out + a] = w[(k0 + a) * n + i];
  }
  return panel;
}

/**
 * −A⁻¹ of the symmetric b×b block at rows k0.. of `panel` by the scalar sweep operator in float64,
 * updating only the lower triangle (the sweep keeps symmetry), then mirrored to a full matrix.
 * A non-positive pivot means the matrix is not positive definite.
 */
function negInverseBlock(panel: Float32Array, b: number, k0: number): Float64Array {
  const a = Float64Array.from(panel.subarray(k0 * b, (k0 + b) * b));
  const v = new Float64Array(b);
  for (let k = 0; k < b; k++) {
    const pivot = a[k * b + k];
    if (!(pivot > 0)) {
      throw new RangeError(
        `gram: expected XᵀX + λI to be positive definite, but pivot ${k0 + k} is ${pivot} (raise lambda, or drop items nobody saw)`,
      );
    }
    const inv = 1 / pivot;
    for (let i = 0; i < k; i++) v[i] = a[k * b + i];
    for (let i = k; i < b; i++) v[i] = a[i * b + k];
    for (let i = 0; i < b; i++) {
      const f = v[i] * inv;
      if (f === 0) continue;
      const row = i * b;
      for (let j = 0; j <= i; j++) a[row + j] -= f * v[j];
    }
    // Row and column k, overwriting what the loop above did to them.
    for (let j = 0; j < k; j++) a[k * b + j] = v[j] * inv;
    for (let i = k + 1; i < b; i++) a[i * b + k] = v[i] * inv;
    a[k * b + k] = -inv;
  }
  for (let i = 0; i < b; i++) for (let j = 0; j < i; j++) a[j * b + i] = a[i * b + j];
  return a;
}

/**
 * One block sweep on pivot indices K = [k0, k1), with Q = A_KK⁻¹:
 *   A_RR ← A_RR − (A_RK Q) A_KR,  A_RK ← A_RK Q,  A_KR ← Q A_KR,  A_KK ← −Q.
 * With C = A_·K Q (its K rows are I) the update is A ← A − C A_·Kᵀ on every entry, after which the
 * K rows and columns are overwritten; each column panel only computes the rows from its diagonal down.
 */
function sweepBlock(w: Float32Array, n: number, k0: number, k1: number): void {
  const b = k1 - k0;
  const panel = readColumnPanel(w, n, k0, k1);
  const negQ = negInverseBlock(panel, b, k0);
  const q32 = new Float32Array(b * b);
  for (let i = 0; i < b * b; i++) q32[i] = -negQ[i];
  // C = A_·K Q; tidy returns the tensor, not its values (tidy walks a returned typed array element by element).
  const cTensor = tf.tidy(() => tf.matMul(tf.tensor2d(panel, [n, b]), tf.tensor2d(q32, [b, b])));
  const c = cTensor.dataSync() as Float32Array;
  cTensor.dispose();
  // Column panels [c0, c1) of the lower triangle: rows c0..n of A_·K times C[c0:c1]ᵀ (the update
  // is symmetric, C A_·Kᵀ = A_·K Cᵀ). A tall × small product runs ~25% faster on wasm than the
  // small × tall one of row panels. Tensors from subarrays rather than tf.slice: wasm's slice
  // kernel reads its whole source back into JS on every call.
  for (let c0 = 0; c0 < n; c0 += b) {
    const c1 = Math.min(n, c0 + b);
    const update = tf.tidy(() => {
      const colRows = tf.tensor2d(panel.subarray(c0 * b), [n - c0, b]);
      const cRows = tf.tensor2d(c.subarray(c0 * b, c1 * b), [c1 - c0, b]);
      return tf.matMul(colRows, cRows, false, true);
    });
    try {
      subtractLower(w, n, c0, c1, readView(update));
    } finally {
      update.dispose();
    }
  }
  writePivotBlock(w, n, k0, k1, c, negQ);
}

/**
 * A tensor's values without a copy where the backend allows: wasm's `dataSync` copies out of the
 * heap, which for the ~n³/b floats of all updates cost more than a tenth of the run and most of its
 * garbage collection. The view is only valid until the next engine allocation.
 */
function readView(t: TF.Tensor): Float32Array {
  if (tf.getBackend() === 'wasm') {
    const { backend } = owningBackend(t);
    if (backend === tf.backend()) return asWasm(backend).typedArrayFromHeap(t) as Float32Array;
  }
  return t.dataSync() as Float32Array;
}

/** w[i, j] −= update[i − c0, j − c0] for columns c0..c1 and rows i ≥ j (update is (n−c0) × (c1−c0)). */
function subtractLower(w: Float32Array, n: number, c0: number, c1: number, update: Float32Array): void {
  const width = c1 - c0;
  for (let i = c0; i < n; i++) {
    const row = i * n + c0;
    const src = (i - c0) * width;
    const lim = Math.min(width, i - c0 + 1);
    for (let j = 0; j < lim; j++) w[row + j] -= update[src + j];
  }
}

/** The K rows and columns after the sweep, in the lower triangle: C outside the block, −Q inside. */
function writePivotBlock(w: Float32Array, n: number, k0: number, k1: number, c: Float32Array, negQ: Float64Array): void {
  const b = k1 - k0;
  for (let a = 0; a < b; a++) {
    const row = (k0 + a) * n;
    for (let i = 0; i < k0; i++) w[row + i] = c[i * b + a];
    for (let j = 0; j <= a; j++) w[row + k0 + j] = negQ[a * b + j];
  }
  for (let i = k1; i < n; i++) {
    const row = i * n + k0;
    const src = i * b;
    for (let a = 0; a < b; a++) w[row + a] = c[src + a];
  }
}

/**
 * In place, from −P in the lower triangle to B_ij = −P_ij / P_jj = −W_ij / W_jj (W = −P) on both
 * sides and a zero diagonal. Tiled so the transposed writes stay in cache.
 */
function weightsFromNegInverse(w: Float32Array, n: number): void {
  const negInvDiag = new Float64Array(n);
  for (let j = 0; j < n; j++) negInvDiag[j] = -1 / w[j * n + j];
  const tile = 64;
  for (let i0 = 0; i0 < n; i0 += tile) {
    const i1 = Math.min(n, i0 + tile);
    for (let j0 = 0; j0 <= i0; j0 += tile) {
      const j1 = Math.min(n, j0 + tile);
      for (let i = i0; i < i1; i++) {
        const row = i * n;
        const jEnd = Math.min(j1, i);
        for (let j = j0; j < jEnd; j++) {
          const v = w[row + j];
          w[row + j] = v * negInvDiag[j];
          w[j * n + i] = v * negInvDiag[i];
        }
      }
    }
  }
  for (let i = 0; i < n; i++) w[i * n + i] = 0;
}
