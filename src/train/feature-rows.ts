/**
 * The rows a step differentiates when the model has an item encoder (src/models/item-encoder.ts):
 * for the step's distinct items, the id rows that are not dropped and the token rows of their
 * features, as gathered leaves; `assemble` composes them into the item vectors inside the
 * differentiated function, so each leaf's gradient goes back to exactly the rows it was gathered
 * from (row-sparse, as without features).
 */
import * as tf from '@tensorflow/tfjs';
import { bagPlan, idMask, pooledRows, type ItemEncoder } from '../models/item-encoder.js';
import type { EmbeddingTable } from '../models/model.js';
import type { Prng } from '../util/prng.js';

/** A gathered tensor whose gradient updates `rows` of `table` (rows may repeat: the optimizer sums them). */
export interface RowLeaf {
  table: tf.Variable;
  rows: Int32Array;
  tensor: tf.Tensor2D;
}

export interface FeatureLeaves {
  /** Leaves of the trainable tables, in a fixed order. */
  leaves: RowLeaf[];
  /** Each encoded item table's vectors for the step's items, [items, width], computed from the leaves (call inside the differentiated function). */
  assemble(): Record<string, tf.Tensor2D>;
}

/**
 * Gathers the leaves of `list` (distinct model item indices) for every item table the encoder adds
 * to. `rng` drops id rows (id dropout); null keeps every learned one. A frozen table (by name)
 * takes part as a constant. Call inside a tf.tidy.
 */
export function featureLeaves(encoder: ItemEncoder, itemTables: readonly EmbeddingTable[], frozen: ReadonlySet<string>, list: Int32Array, rng: Prng | null): FeatureLeaves {
  const mask = idMask(encoder, list, encoder.spec.id_dropout, rng);
  let keptCount = 0;
  for (const m of mask) keptCount += m;
  const kept = new Int32Array(keptCount);
  // Position k of `list` reads row posOf[k] of [kept id rows; a zero row].
  const posOf = new Int32Array(list.length);
  let at = 0;
  list.forEach((item, k) => {
    if (mask[k] === 1) {
      posOf[k] = at;
      kept[at++] = item;
    } else posOf[k] = keptCount;
  });
  const plan = bagPlan(encoder.items, list);
  // The leaf is the step's distinct token rows; entries read them by local index, so the gradient
  // of repeated tokens is summed by the engine (gather's gradient) rather than row by row in JS.
  const tokenRows = distinct(plan.tokens, scratchFor(encoder));
  const keptIdx = tf.tensor1d(kept, 'int32');
  const tokenIdx = tf.tensor1d(tokenRows.list, 'int32');
  const entryIdx = tf.tensor1d(tokenRows.local, 'int32');
  const positions = tf.tensor1d(posOf, 'int32');
  const leaves: RowLeaf[] = [];
  const parts: { name: string; ids: tf.Tensor2D; tokens: tf.Tensor2D }[] = [];
  for (const f of encoder.tables) {
    const table = itemTables.find((t) => t.name === f.of);
    if (table === undefined) throw new Error(`item encoder: the model has no item table ${f.of}`);
    const ids = tf.gather(table.variable, keptIdx) as tf.Tensor2D;
    const tokens = tf.gather(f.variable, tokenIdx) as tf.Tensor2D;
    if (!frozen.has(table.name) && kept.length > 0) leaves.push({ table: table.variable, rows: kept, tensor: ids });
    if (!frozen.has(f.name) && tokenRows.list.length > 0) leaves.push({ table: f.variable, rows: tokenRows.list, tensor: tokens });
    parts.push({ name: table.name, ids, tokens });
  }
  return {
    leaves,
    assemble() {
      const out: Record<string, tf.Tensor2D> = {};
      for (const p of parts) {
        const width = p.ids.shape[1] ?? 1;
        const withZero = tf.concat([p.ids, tf.zeros([1, width])], 0);
        const entries = tf.gather(p.tokens, entryIdx) as tf.Tensor2D;
        out[p.name] = tf.add(tf.gather(withZero, positions), pooledRows(plan, entries, list.length)) as tf.Tensor2D;
      }
      return out;
    },
  };
}

const scratches = new WeakMap<ItemEncoder, Int32Array>();

/** A token → position map of the encoder's size, all -1 between uses. */
function scratchFor(encoder: ItemEncoder): Int32Array {
  let s = scratches.get(encoder);
  if (s === undefined) {
    s = new Int32Array(Math.max(1, encoder.spec.tokens.length)).fill(-1);
    scratches.set(encoder, s);
  }
  return s;
}

/** The distinct values of `ids` (first-use order) and each position's index among them. */
export function distinct(ids: Int32Array, scratch: Int32Array): { list: Int32Array; local: Int32Array } {
  const list: number[] = [];
  const local = new Int32Array(ids.length);
  for (let k = 0; k < ids.length; k++) {
    const i = ids[k];
    if (scratch[i] < 0) {
      scratch[i] = list.length;
      list.push(i);
    }
    local[k] = scratch[i];
  }
  for (const i of list) scratch[i] = -1;
  return { list: Int32Array.from(list), local };
}
