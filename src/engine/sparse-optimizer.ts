/**
 * Optimizer updates for training loops (docs/engines.md#what-rec-adds-to-the-bundled-engines-srcengine): row-sparse updates for embedding tables (the
 * default) and a dense path for every other weight.
 *
 * ## How a training step uses this
 * ```ts
 * const sparse = createRowSparseOptimizer(cfg, { user: userTable, item: itemTable });
 * const dense = createDenseOptimizer(cfg);               // MLP / transformer weights
 * tf.tidy(() => {
 *   const u = tf.gather(userTable, userIdx);              // [B, d] copies of the rows
 *   const i = tf.gather(itemTable, itemIdx);
 *   const { value, grads } = tf.valueAndGrads((u, i) => loss(u, i))([u, i]);   // grads w.r.t. rows
 *   sparse.applyRows(userTable, userIdxArray, grads[0] as tf.Tensor2D);
 *   sparse.applyRows(itemTable, itemIdxArray, grads[1] as tf.Tensor2D);
 * });
 * ```
 * Differentiating w.r.t. the gathered rows (not the tables) keeps the step O(batch · dim): no
 * [rows, dim] gradient, no UnsortedSegmentSum. Duplicate ids in a batch have their gradients
 * summed before the update, exactly what the dense gradient of `gather` would give those rows.
 *
 * ## Semantics (the "lazy" optimizers of TF Addons)
 * - Only rows present in the call are touched: their moments decay and their L2 / weight decay is
 *   applied; absent rows keep their values and moments unchanged. With every row present in every
 *   call the result equals the dense optimizer (tested).
 * - Bias correction uses a per-table step counter t = number of `applyRows` calls on that table, so
 *   call it exactly once per training step for each table.
 * - Formulas mirror tfjs's dense optimizers so sparse and dense agree:
 *   adam:    g ← g + l2·w;  m ← β1 m + (1−β1) g;  v ← β2 v + (1−β2) g²;
 *            w ← w − lr · (m / (1−β1ᵗ)) / (√(v / (1−β2ᵗ)) + ε)              (Kingma & Ba 2015)
 *   adamw:   w ← w − lr·wd·w first, then the adam step (decoupled decay, Loshchilov & Hutter 2019)
 *   adagrad: a ← a + g²;  w ← w − lr · g / √(a + ε),  a starts at 0.1 (tfjs default)
 *   sgd:     w ← w − lr · g
 *   Defaults: β1 0.9, β2 0.999, ε 1e-7 (tfjs's defaults).
 *
 * ## Where the table is written
 * - cpu and wasm: in place, through the backend's live buffer (cpu: `data.get(id).values`; wasm: a
 *   heap view acquired after every allocation). A table whose buffer is shared with another tensor
 *   (the tensor it was created from, a cpu `clone`) is first given a private copy, so snapshots
 *   never change under their holder.
 * - any other backend (tfjs-node): the touched rows are read with `gather` and written back with
 *   `tensorScatterUpdate` + `assign`, which costs a table copy per step inside TensorFlow.
 * - XNNPACK trap (docs/engines.md#tfjs-behaviour-the-code-relies-on): wasm caches the packed right-hand operand of a matmul by tensor
 *   id, so a table written in place and also used as `matMul(x, table)` would return stale
 *   products. Declare such tables in `matmulOperands` (or call `markMatmulOperand`): after each
 *   in-place write their wasm tensor id is re-registered, which drops the cached packing.
 *
 * ## Resume
 * `getState()` returns copies of every moment array and step counter; `setState()` on a fresh
 * optimizer over tables with the same shapes continues bit-identically.
 */
import type * as TF from '@tensorflow/tfjs';
import { tf } from './tf.js';
import { ConfigError, DataError } from '../util/errors.js';
import { asCpu, asWasm, cpuValues, owningBackend, wasmOffset } from './kernels/backend-access.js';

export const OPTIMIZER_NAMES = ['adam', 'adamw', 'sgd', 'adagrad'] as const;
export type OptimizerName = (typeof OPTIMIZER_NAMES)[number];

export interface OptimizerConfig {
  name: OptimizerName;
  lr: number;
  beta1?: number;
  beta2?: number;
  epsilon?: number;
  /** adamw only: decoupled weight decay coefficient. */
  weightDecay?: number;
  /** L2 penalty coefficient: l2·w is added to the gradient (of touched rows, for sparse updates). */
  l2?: number;
  /** adagrad only: initial accumulator value (default 0.1). */
  initialAccumulator?: number;
}

export type OptimizerState = Record<string, Float32Array | number>;

export interface RowSparseOptions {
  /** Table names that are also used as a matmul operand (e.g. tied output embeddings). */
  matmulOperands?: string[];
  /** 'auto' (default): in place on cpu/wasm, scatter elsewhere. 'scatter': always gather + scatter. */
  write?: 'auto' | 'scatter';
}

export interface RowSparseOptimizer {
  /**
   * Updates the rows `rows` of `table` (one of the tables given at creation). `rows` may repeat:
   * gradients of duplicates are summed. `grads` is [rows.length, dim], as a tensor (not disposed
   * here) or a row-major Float32Array; dim is 1 for a 1-D variable. Ids outside the table throw a
   * DataError.
   */
  applyRows(table: TF.Variable, rows: Int32Array, grads: TF.Tensor | Float32Array): void;
  /**
   * For callers that compute row gradients themselves (the fused step): dedups `rows` and returns,
   * for each position, the slot its gradient accumulates into, and a zeroed [count, dim] buffer of
   * slots to add gradients to. No copy of per-position gradients is ever made. Follow with
   * applyPrepared on the same table before preparing it again.
   */
  prepareRows(table: TF.Variable, rows: Int32Array): PreparedRows;
  /**
   * The update of the prepared rows, with an L2 term charged per occurrence: each row's gradient
   * gains 2 · `coefficient` · (times the row occurred) · w, exactly the gradient of
   * coefficient · Σ_occurrences ‖w‖² (the trainer's l2/batch penalty), computed once per unique
   * row. Returns that Σ_occurrences ‖w‖² on the weights before the update.
   */
  applyPrepared(table: TF.Variable, coefficient: number): number;
  /**
   * A live row-major view of a table's values where the engine keeps them in JS-visible memory
   * (cpu, wasm), else null. Valid until the next TF.js call that may grow the wasm heap: take a
   * fresh one per step. Read-only for callers; applyRows is the only writer.
   */
  view(table: TF.Variable): Float32Array | null;
  setLearningRate(lr: number): void;
  readonly learningRate: number;
  markMatmulOperand(tableName: string): void;
  /** Copies of all state: `${table}/m`, `${table}/v`, `${table}/accum` arrays and `${table}/t` steps. */
  getState(): OptimizerState;
  setState(state: OptimizerState): void;
}

interface Hyper {
  name: OptimizerName;
  lr: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  weightDecay: number;
  l2: number;
  initialAccumulator: number;
}

export function resolveOptimizerConfig(cfg: OptimizerConfig): Hyper {
  if (!(OPTIMIZER_NAMES as readonly string[]).includes(cfg.name)) {
    throw new ConfigError(`optimizer must be one of ${OPTIMIZER_NAMES.join(', ')}. Received: ${JSON.stringify(cfg.name)}.`);
  }
  const h: Hyper = {
    name: cfg.name,
    lr: cfg.lr,
    beta1: cfg.beta1 ?? 0.9,
    beta2: cfg.beta2 ?? 0.999,
    epsilon: cfg.epsilon ?? 1e-7,
    weightDecay: cfg.weightDecay ?? 0,
    l2: cfg.l2 ?? 0,
    initialAccumulator: cfg.initialAccumulator ?? 0.1,
  };
  checkLr(h.lr);
  for (const [key, value, lo, hi] of [
    ['beta1', h.beta1, 0, 1],
    ['beta2', h.beta2, 0, 1],
  ] as const) {
    if (!(value >= lo && value < hi)) throw new ConfigError(`optimizer ${key} must be in [0, 1). Received: ${value}.`);
  }
  for (const [key, value] of [
    ['epsilon', h.epsilon],
    ['weightDecay', h.weightDecay],
    ['l2', h.l2],
    ['initialAccumulator', h.initialAccumulator],
  ] as const) {
    if (!(value >= 0) || !Number.isFinite(value)) throw new ConfigError(`optimizer ${key} must be a finite number ≥ 0. Received: ${value}.`);
  }
  if (h.weightDecay > 0 && h.name !== 'adamw') {
    throw new ConfigError(`optimizer weightDecay applies to adamw only (received optimizer ${h.name}); use l2 for a coupled penalty.`);
  }
  return h;
}

function checkLr(lr: number): void {
  if (!(lr > 0) || !Number.isFinite(lr)) throw new ConfigError(`optimizer lr must be a finite number > 0. Received: ${lr}.`);
}

export interface PreparedRows {
  /** slots[k]: the slot of position k's row (rows repeat: they share a slot). */
  slots: Int32Array;
  /** Row gradients by slot, [count, dim] row-major, zeroed. */
  sums: Float32Array;
}

interface TableState {
  name: string;
  table: TF.Variable;
  rows: number;
  dim: number;
  m: Float32Array | null;
  v: Float32Array | null;
  accum: Float32Array | null;
  t: number;
  matmulOperand: boolean;
  stamp: Int32Array;
  slot: Int32Array;
  call: number;
  unique: Int32Array;
  sums: Float32Array;
  /** Occurrences of each unique row in the last applyRows call. */
  counts: Float32Array;
  /** prepareRows: slot per position, and the prepared unique count (-1: nothing prepared). */
  positions: Int32Array;
  prepared: number;
  /** Distinct rows the last update changed (s.unique[0..updated)), for updatedRows. */
  updated: number;
}

export function createRowSparseOptimizer(
  cfg: OptimizerConfig,
  tables: Record<string, TF.Variable>,
  options: RowSparseOptions = {},
): RowSparseOptimizer {
  const h = resolveOptimizerConfig(cfg);
  const byVariable = new Map<TF.Variable, TableState>();
  const byName = new Map<string, TableState>();
  for (const [name, table] of Object.entries(tables)) {
    // A 1-D variable (a dense layer's bias, updated whole by the dense-variable path) is a table of
    // single-value rows.
    if ((table.rank !== 2 && table.rank !== 1) || table.dtype !== 'float32') {
      throw new ConfigError(`row-sparse table ${name} must be a 1-D or 2-D float32 variable. Received: ${table.dtype} ${JSON.stringify(table.shape)}.`);
    }
    const state = newTableState(name, table, h, options.matmulOperands?.includes(name) ?? false);
    byVariable.set(table, state);
    byName.set(name, state);
  }
  for (const name of options.matmulOperands ?? []) {
    if (!byName.has(name)) throw new ConfigError(`matmulOperands names an unknown table: ${JSON.stringify(name)}.`);
  }
  const forceScatter = options.write === 'scatter';

  const stateOf = (table: TF.Variable, what: string): TableState => {
    const s = byVariable.get(table);
    if (s === undefined) throw new Error(`${what}: variable ${table.name} is not one of this optimizer's tables`);
    return s;
  };
  const update = (s: TableState, count: number, occurrenceL2: number): number => {
    s.t += 1;
    s.updated = count;
    if (count === 0) return 0;
    const owner = forceScatter ? null : inPlaceTarget(s);
    if (owner === null) return scatterUpdate(s, count, h, occurrenceL2);
    const penalty = updateRows(s, count, h, owner.values(), true, occurrenceL2);
    owner.after();
    return penalty;
  };

  const api: RowSparseOptimizer = {
    applyRows(table, rows, grads) {
      const s = stateOf(table, 'applyRows');
      update(s, gatherUnique(s, rows, readGrads(grads, rows.length, s)), 0);
    },
    prepareRows(table, rows) {
      const s = stateOf(table, 'prepareRows');
      if (s.positions.length < rows.length) s.positions = new Int32Array(rows.length);
      const slots = s.positions.subarray(0, rows.length);
      s.prepared = gatherUnique(s, rows, null, slots);
      const sums = s.sums.subarray(0, s.prepared * s.dim);
      sums.fill(0);
      return { slots, sums };
    },
    applyPrepared(table, coefficient) {
      const s = stateOf(table, 'applyPrepared');
      if (s.prepared < 0) throw new Error(`applyPrepared(${s.name}): prepareRows was not called first`);
      const count = s.prepared;
      s.prepared = -1;
      return update(s, count, coefficient);
    },
    view(table) {
      const s = byVariable.get(table);
      if (s === undefined) throw new Error(`view: variable ${table.name} is not one of this optimizer's tables`);
      return forceScatter ? null : (inPlaceTarget(s)?.values() ?? null);
    },
    get learningRate() {
      return h.lr;
    },
    setLearningRate(lr: number) {
      checkLr(lr);
      h.lr = lr;
    },
    markMatmulOperand(tableName: string) {
      const s = byName.get(tableName);
      if (s === undefined) throw new ConfigError(`markMatmulOperand: unknown table ${JSON.stringify(tableName)}.`);
      s.matmulOperand = true;
    },
    getState: () => copyState(byName),
    setState: (state) => setTableStates(byName, state),
  };
  ACCESS.set(api, stateAccess(byName, stateOf, forceScatter));
  return api;
}

function newTableState(name: string, table: TF.Variable, h: Hyper, matmulOperand: boolean): TableState {
  const [rows, dim] = table.rank === 2 ? (table.shape as [number, number]) : [table.shape[0], 1];
  const size = rows * dim;
  return {
    name,
    table,
    rows,
    dim,
    m: h.name === 'adam' || h.name === 'adamw' ? new Float32Array(size) : null,
    v: h.name === 'adam' || h.name === 'adamw' ? new Float32Array(size) : null,
    accum: h.name === 'adagrad' ? new Float32Array(size).fill(h.initialAccumulator) : null,
    t: 0,
    matmulOperand,
    stamp: new Int32Array(rows),
    slot: new Int32Array(rows),
    call: 0,
    unique: new Int32Array(0),
    sums: new Float32Array(0),
    counts: new Float32Array(0),
    positions: new Int32Array(0),
    prepared: -1,
    updated: 0,
  };
}

/** Copies of every table's moment arrays, with their step counters. */
function copyState(byName: ReadonlyMap<string, TableState>): OptimizerState {
  const out: OptimizerState = {};
  for (const s of byName.values()) {
    out[`${s.name}/t`] = s.t;
    if (s.m !== null) out[`${s.name}/m`] = s.m.slice();
    if (s.v !== null) out[`${s.name}/v`] = s.v.slice();
    if (s.accum !== null) out[`${s.name}/accum`] = s.accum.slice();
  }
  return out;
}

/** getState's copies back into the tables' moment arrays, every key and length checked. */
function setTableStates(byName: ReadonlyMap<string, TableState>, state: OptimizerState): void {
  for (const s of byName.values()) {
    const t = state[`${s.name}/t`];
    if (typeof t !== 'number' || !Number.isInteger(t) || t < 0) {
      throw new DataError(`optimizer state for table ${s.name} has no valid step counter (${s.name}/t).`);
    }
    for (const [key, target] of [
      ['m', s.m],
      ['v', s.v],
      ['accum', s.accum],
    ] as const) {
      if (target === null) continue;
      const src = state[`${s.name}/${key}`];
      if (!(src instanceof Float32Array) || src.length !== target.length) {
        throw new DataError(
          `optimizer state ${s.name}/${key} must be a Float32Array of ${target.length} values (table ${s.rows}×${s.dim}). ` +
            `Received: ${src instanceof Float32Array ? `${src.length} values` : typeof src}.`,
        );
      }
      target.set(src);
    }
    s.t = t;
  }
}

/**
 * An optimizer's state as its updates read and write it, for code that keeps replicas of one
 * model in step (train/parallel moves moments between them; this layer knows no protocol).
 */
export interface RowSparseStateAccess {
  /** getState's keys, with the moment arrays themselves, not copies. */
  liveState(): OptimizerState;
  /** Uses `values` itself from now on as the moment array `key` (one of liveState's, same length). */
  replaceMoment(key: string, values: Float32Array): void;
  /** The distinct rows the last update of `table` changed, in first-occurrence order (a view, valid until the next call on the table). */
  updatedRows(table: TF.Variable): Int32Array;
  /** `rows` without repeats, in first-occurrence order; ids outside the table throw a DataError. */
  distinctRows(table: TF.Variable, rows: Int32Array): Int32Array;
  /** Rows `ids` of the table into `dst` (row-major), read where updates write them. */
  readRows(table: TF.Variable, ids: Int32Array, dst: Float32Array): void;
  /** `src`'s rows (row-major) over rows `ids` of the table, written as an update writes them. */
  writeRows(table: TF.Variable, ids: Int32Array, src: Float32Array): void;
  /** Counts one update of the table (bias correction's step t) without applying one. */
  countStep(table: TF.Variable): void;
}

const ACCESS = new WeakMap<RowSparseOptimizer, RowSparseStateAccess>();

/** The state of an optimizer createRowSparseOptimizer made. */
export function rowSparseState(optimizer: RowSparseOptimizer): RowSparseStateAccess {
  const access = ACCESS.get(optimizer);
  if (access === undefined) throw new Error('rowSparseState: not an optimizer of createRowSparseOptimizer');
  return access;
}

const MOMENTS = ['m', 'v', 'accum'] as const;

function stateAccess(byName: ReadonlyMap<string, TableState>, stateOf: (table: TF.Variable, what: string) => TableState, forceScatter: boolean): RowSparseStateAccess {
  return {
    liveState() {
      const out: OptimizerState = {};
      for (const s of byName.values()) {
        out[`${s.name}/t`] = s.t;
        for (const key of MOMENTS) {
          const values = s[key];
          if (values !== null) out[`${s.name}/${key}`] = values;
        }
      }
      return out;
    },
    replaceMoment(key, values) {
      const at = key.lastIndexOf('/');
      const s = byName.get(key.slice(0, at));
      const moment = MOMENTS.find((m) => m === key.slice(at + 1));
      const current = s !== undefined && moment !== undefined ? s[moment] : null;
      if (s === undefined || moment === undefined || current === null || current.length !== values.length) throw new Error(`replaceMoment: ${key} is not a moment array of ${values.length} values`);
      s[moment] = values;
    },
    updatedRows: (table) => {
      const s = stateOf(table, 'updatedRows');
      return s.unique.subarray(0, s.updated);
    },
    distinctRows(table, rows) {
      const s = stateOf(table, 'distinctRows');
      // gatherUnique may give the table a larger s.unique: read it after.
      const count = gatherUnique(s, rows, null);
      return s.unique.subarray(0, count);
    },
    readRows(table, ids, dst) {
      const s = stateOf(table, 'readRows');
      if (dst.length < ids.length * s.dim) throw new Error(`readRows(${s.name}): ${dst.length} floats cannot hold ${ids.length}×${s.dim}.`);
      const owner = forceScatter ? null : inPlaceTarget(s);
      if (owner === null) {
        dst.set(gatherRows(s, ids));
        return;
      }
      const w = owner.values();
      for (let k = 0; k < ids.length; k++) dst.set(w.subarray(ids[k] * s.dim, (ids[k] + 1) * s.dim), k * s.dim);
    },
    writeRows(table, ids, src) {
      const s = stateOf(table, 'writeRows');
      const count = ids.length;
      if (count === 0) return;
      if (src.length < count * s.dim) throw new Error(`writeRows(${s.name}): ${src.length} floats hold fewer than ${count}×${s.dim}.`);
      const owner = forceScatter ? null : inPlaceTarget(s);
      if (owner === null) {
        scatterRows(s, ids, src.slice(0, count * s.dim));
        return;
      }
      const w = owner.values();
      for (let k = 0; k < count; k++) w.set(src.subarray(k * s.dim, (k + 1) * s.dim), ids[k] * s.dim);
      owner.after();
    },
    countStep(table) {
      stateOf(table, 'countStep').t += 1;
    },
  };
}

function readGrads(grads: TF.Tensor | Float32Array, n: number, s: TableState): Float32Array {
  if (grads instanceof Float32Array) {
    if (grads.length !== n * s.dim) throw new DataError(`applyRows(${s.name}): grads has ${grads.length} values; expected ${n}×${s.dim}.`);
    return grads;
  }
  if (grads.rank !== 2 || grads.shape[0] !== n || grads.shape[1] !== s.dim) {
    throw new DataError(`applyRows(${s.name}): grads shape ${JSON.stringify(grads.shape)}; expected [${n}, ${s.dim}].`);
  }
  const data = grads.dataSync();
  return data instanceof Float32Array ? data : Float32Array.from(data);
}

/**
 * Dedups `rows` into s.unique[0..count) with occurrence counts, and sums their gradient rows `g`
 * into s.sums; with g null (prepareRows) it only records each position's slot in `slots`.
 */
function gatherUnique(s: TableState, rows: Int32Array, g: Float32Array | null, slots?: Int32Array): number {
  const { dim, stamp, slot } = s;
  if (s.unique.length < rows.length) {
    s.unique = new Int32Array(rows.length);
    s.sums = new Float32Array(rows.length * dim);
    s.counts = new Float32Array(rows.length);
  }
  // A fresh stamp per call marks "seen in this call" without clearing an O(rows) array.
  s.call = s.call === 0x7fffffff ? 1 : s.call + 1;
  if (s.call === 1) stamp.fill(0);
  const call = s.call;
  const { unique, sums, counts } = s;
  let count = 0;
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i];
    if (!(r >= 0 && r < s.rows)) {
      throw new DataError(`applyRows(${s.name}): row id ${r} at position ${i} is outside the table [0, ${s.rows}).`);
    }
    const src = i * dim;
    if (stamp[r] !== call) {
      stamp[r] = call;
      slot[r] = count;
      unique[count] = r;
      counts[count] = 1;
      if (slots) slots[i] = count;
      if (g) {
        const dst = count * dim;
        for (let j = 0; j < dim; j++) sums[dst + j] = g[src + j];
      }
      count++;
    } else {
      const k = slot[r];
      counts[k] += 1;
      if (slots) slots[i] = k;
      if (g) {
        const dst = k * dim;
        for (let j = 0; j < dim; j++) sums[dst + j] += g[src + j];
      }
    }
  }
  return count;
}

/**
 * The optimizer step on the unique rows. `w` is either the whole table (inPlace: row r at r·dim)
 * or a packed buffer of the unique rows (row k at k·dim). `occurrenceL2` (see applyPrepared)
 * adds 2·occurrenceL2·count·w to each row's gradient; returns Σ count·‖w‖² before the update.
 */
function updateRows(s: TableState, count: number, h: Hyper, w: Float32Array, inPlace: boolean, occurrenceL2 = 0): number {
  const { dim, unique, sums, counts, m, v, accum } = s;
  const { lr, l2 } = h;
  let penalty = 0;
  if (h.name === 'adam' || h.name === 'adamw') {
    const b1 = h.beta1;
    const b2 = h.beta2;
    const c1 = 1 - Math.pow(b1, s.t);
    const c2 = 1 - Math.pow(b2, s.t);
    const decay = h.name === 'adamw' ? 1 - lr * h.weightDecay : 1;
    const mm = m as Float32Array;
    const vv = v as Float32Array;
    // Constants hoisted out of the element loop: it runs batch × dim times per table per step and
    // was the largest single cost of an MF step on wasm. Same arithmetic as before, reassociated:
    // lr·(m/c1)/(sqrt(v/c2)+eps) = (lr/c1)·m/(sqrt(v·(1/c2))+eps).
    const step = lr / c1;
    const invC2 = 1 / c2;
    const eps = h.epsilon;
    const a1 = 1 - b1;
    const a2 = 1 - b2;
    for (let k = 0; k < count; k++) {
      const r = unique[k];
      const wb = inPlace ? r * dim : k * dim;
      const sb = r * dim;
      const gb = k * dim;
      const lk = l2 + 2 * occurrenceL2 * counts[k];
      let sq = 0;
      for (let j = 0; j < dim; j++) {
        const w0 = w[wb + j];
        sq += w0 * w0;
        const g = sums[gb + j] + lk * w0;
        const mj = b1 * mm[sb + j] + a1 * g;
        const vj = b2 * vv[sb + j] + a2 * g * g;
        mm[sb + j] = mj;
        vv[sb + j] = vj;
        w[wb + j] = w0 * decay - (step * Math.fround(mj)) / (Math.sqrt(Math.fround(vj) * invC2) + eps);
      }
      penalty += counts[k] * sq;
    }
  } else if (h.name === 'adagrad') {
    const acc = accum as Float32Array;
    for (let k = 0; k < count; k++) {
      const r = unique[k];
      const wb = inPlace ? r * dim : k * dim;
      const sb = r * dim;
      const gb = k * dim;
      const lk = l2 + 2 * occurrenceL2 * counts[k];
      let sq = 0;
      for (let j = 0; j < dim; j++) {
        const w0 = w[wb + j];
        sq += w0 * w0;
        const g = sums[gb + j] + lk * w0;
        acc[sb + j] += g * g;
        w[wb + j] = w0 - (lr * g) / Math.sqrt(acc[sb + j] + h.epsilon);
      }
      penalty += counts[k] * sq;
    }
  } else {
    for (let k = 0; k < count; k++) {
      const wb = inPlace ? unique[k] * dim : k * dim;
      const gb = k * dim;
      const lk = l2 + 2 * occurrenceL2 * counts[k];
      let sq = 0;
      for (let j = 0; j < dim; j++) {
        const w0 = w[wb + j];
        sq += w0 * w0;
        w[wb + j] = w0 - lr * (sums[gb + j] + lk * w0);
      }
      penalty += counts[k] * sq;
    }
  }
  return penalty;
}

interface InPlaceTarget {
  values(): Float32Array;
  after(): void;
}

/**
 * A live view of the table's buffer when its backend allows in-place writes, else null. Gives the
 * variable a private buffer first when another tensor shares it.
 */
function inPlaceTarget(s: TableState): InPlaceTarget | null {
  let owner = owningBackend(s.table);
  if (owner.name !== 'cpu' && owner.name !== 'wasm') return null;
  const refCount = (owner.backend as { refCount(id: object): number }).refCount(s.table.dataId);
  if (refCount > 1) {
    privatize(s.table);
    owner = owningBackend(s.table);
    if (owner.name !== 'cpu' && owner.name !== 'wasm') return null;
  }
  const size = s.rows * s.dim;
  if (owner.name === 'cpu') {
    const values = cpuValues(asCpu(owner.backend), s.table);
    if (!(values instanceof Float32Array) || values.length !== size) return null;
    return { values: () => values, after: () => undefined };
  }
  const wasm = asWasm(owner.backend);
  return {
    // A fresh view at use time: any heap growth since would have detached an older one.
    values: () => new Float32Array(wasm.wasm.HEAPU8.buffer, wasmOffset(wasm, s.table), size),
    after: () => {
      if (!s.matmulOperand) return;
      // Re-registering the id drops XNNPACK's packed copy of the old values (docs/engines.md#tfjs-behaviour-the-code-relies-on).
      const entry = wasm.dataIdMap.get(s.table.dataId);
      if (entry === undefined) return;
      wasm.wasm.tfjs.disposeData(entry.id);
      wasm.wasm.tfjs.registerTensor(entry.id, size, entry.memoryOffset);
    },
  };
}

function privatize(table: TF.Variable): void {
  // slice(): tf.tensor keeps (does not copy) a typed array on cpu, and dataSync may be live there.
  const copy = tf.tensor(table.dataSync().slice(), table.shape, table.dtype);
  table.assign(copy);
  copy.dispose();
}

/** Backends without a writable buffer: read touched rows, update them, scatter them back. */
function scatterUpdate(s: TableState, count: number, h: Hyper, occurrenceL2: number): number {
  const ids = s.unique.slice(0, count);
  const rows = gatherRows(s, ids);
  const penalty = updateRows(s, count, h, rows, false, occurrenceL2);
  scatterRows(s, ids, rows);
  return penalty;
}

/** Rows `ids` of the table, row-major, read through the engine (no writable buffer). */
function gatherRows(s: TableState, ids: Int32Array): Float32Array {
  return tf.tidy(() => Float32Array.from(tf.gather(s.table, tf.tensor1d(ids, 'int32')).dataSync()));
}

/** Writes `rows` (row-major, one per id) over rows `ids` of the table through the engine. */
function scatterRows(s: TableState, ids: Int32Array, rows: Float32Array): void {
  tf.tidy(() => {
    const updated = tf.tensorScatterUpdate(s.table, tf.tensor2d(ids, [ids.length, 1], 'int32'), tf.tensor(rows, s.table.rank === 1 ? [ids.length] : [ids.length, s.dim]));
    s.table.assign(updated);
  });
}

// ---------------------------------------------------------------------------------------------
// Dense path

export interface DenseOptimizer {
  /** The wrapped tfjs optimizer. */
  readonly optimizer: TF.Optimizer;
  readonly learningRate: number;
  /**
   * Applies gradients keyed by variable name (the `grads` of `tf.variableGrads`). Adds l2·w to each
   * gradient and, for adamw, decays each weight by (1 − lr·wd) before the Adam step. Does not
   * dispose `grads`.
   */
  applyGradients(grads: TF.NamedTensorMap): void;
  /** Loss value and update in one call, like `tf.Optimizer.minimize`; the caller disposes the loss. */
  minimize(loss: () => TF.Scalar, varList?: TF.Variable[]): TF.Scalar;
  setLearningRate(lr: number): void;
  /** Copies of the optimizer's slots (`${variable}/m` …), its iteration count and (Adam) β powers. */
  getState(): Promise<OptimizerState>;
  setState(state: OptimizerState): Promise<void>;
  dispose(): void;
}

interface TfOptimizerInternals {
  learningRate: number;
  accBeta1?: TF.Variable;
  accBeta2?: TF.Variable;
}

export function createDenseOptimizer(cfg: OptimizerConfig): DenseOptimizer {
  const h = resolveOptimizerConfig(cfg);
  let optimizer: TF.Optimizer;
  switch (h.name) {
    case 'adam':
    case 'adamw':
      optimizer = tf.train.adam(h.lr, h.beta1, h.beta2, h.epsilon);
      break;
    case 'adagrad':
      optimizer = tf.train.adagrad(h.lr, h.initialAccumulator);
      break;
    case 'sgd':
      optimizer = tf.train.sgd(h.lr);
      break;
  }
  const internals = optimizer as unknown as TfOptimizerInternals;

  const applyGradients = (grads: TF.NamedTensorMap): void => {
    const registered = tf.engine().registeredVariables;
    tf.tidy(() => {
      const adjusted: TF.NamedTensorMap = {};
      for (const [name, g] of Object.entries(grads)) {
        const variable = registered[name];
        if (variable === undefined) throw new Error(`applyGradients: no variable named ${name}`);
        adjusted[name] = h.l2 > 0 ? tf.add(g, tf.mul(variable, h.l2)) : g;
      }
      if (h.name === 'adamw' && h.weightDecay > 0) {
        for (const name of Object.keys(grads)) {
          const variable = registered[name];
          variable.assign(tf.mul(variable, 1 - h.lr * h.weightDecay));
        }
      }
      optimizer.applyGradients(adjusted);
    });
  };

  return {
    optimizer,
    get learningRate() {
      return h.lr;
    },
    applyGradients,
    minimize(loss, varList) {
      const { value, grads } = tf.variableGrads(loss, varList);
      try {
        applyGradients(grads);
      } finally {
        tf.dispose(grads);
      }
      return value;
    },
    setLearningRate(lr: number) {
      checkLr(lr);
      h.lr = lr;
      internals.learningRate = lr;
    },
    getState: () => denseState(optimizer, internals),
    setState: (state) => setDenseState(optimizer, internals, state),
    dispose() {
      optimizer.dispose();
    },
  };
}

/** Copies of the optimizer's slots (`${variable}/m` …), its iteration count and (Adam) β powers. */
async function denseState(optimizer: TF.Optimizer, internals: TfOptimizerInternals): Promise<OptimizerState> {
  const out: OptimizerState = {};
  const weights = await optimizer.getWeights();
  for (const { name, tensor } of weights) {
    const data = await tensor.data();
    if (name === 'iter') out.iterations = data[0];
    else out[`slot:${name}`] = Float32Array.from(data);
  }
  if (internals.accBeta1 !== undefined) out.accBeta1 = (await internals.accBeta1.data())[0];
  if (internals.accBeta2 !== undefined) out.accBeta2 = (await internals.accBeta2.data())[0];
  return out;
}

/** denseState's copies back into the optimizer, the Adam β powers bit for bit. */
async function setDenseState(optimizer: TF.Optimizer, internals: TfOptimizerInternals, state: OptimizerState): Promise<void> {
  const iterations = state.iterations;
  if (typeof iterations !== 'number') throw new DataError('dense optimizer state has no iteration count (iterations).');
  const registered = tf.engine().registeredVariables;
  const named: { name: string; tensor: TF.Tensor }[] = [{ name: 'iter', tensor: tf.scalar(iterations, 'int32') }];
  for (const [key, value] of Object.entries(state)) {
    if (!key.startsWith('slot:')) continue;
    const name = key.slice('slot:'.length);
    const variable = registered[name.slice(0, name.lastIndexOf('/'))];
    if (variable === undefined || !(value instanceof Float32Array) || value.length !== variable.size) {
      throw new DataError(`dense optimizer state ${name} does not match a variable of this model.`);
    }
    named.push({ name, tensor: tf.tensor(value.slice(), variable.shape, 'float32') });
  }
  try {
    await optimizer.setWeights(named);
  } finally {
    for (const { tensor } of named) tensor.dispose();
  }
  // setWeights recomputes β^t with pow; restore the accumulated products bit for bit.
  for (const key of ['accBeta1', 'accBeta2'] as const) {
    const target = internals[key];
    const saved = state[key];
    if (target !== undefined && typeof saved === 'number') {
      tf.tidy(() => target.assign(tf.scalar(saved)));
    }
  }
}
