/**
 * The rows a step differentiates when the model has an item encoder (src/models/item-encoder.ts):
 * for the step's distinct items, the id rows that are not dropped and the token rows of their
 * features, as gathered leaves; `assemble` composes them into the item vectors inside the
 * differentiated function, so each leaf's gradient goes back to exactly the rows it was gathered
 * from (row-sparse, as without features).
 */
import type * as TF from '@tensorflow/tfjs';
import { tf } from '../engine/tf.js';
import { composeForward, composeLayout, idMask, type ComposeLayout, type ItemEncoder } from '../models/item-encoder.js';
import type { EmbeddingTable } from '../models/model.js';
import type { Prng } from '../util/prng.js';

/** A gathered tensor whose gradient updates `rows` of `table` (rows may repeat: the optimizer sums them). */
export interface RowLeaf {
  table: TF.Variable;
  rows: Int32Array;
  tensor: TF.Tensor2D;
}

export interface FeatureLeaves {
  /** Leaves of the trainable tables, in a fixed order. */
  leaves: RowLeaf[];
  /** Each encoded item table's vectors for the step's items, [items, width], computed from the leaves (call inside the differentiated function). */
  assemble(): Record<string, TF.Tensor2D>;
}

/**
 * Gathers the leaves of `list` (distinct model item indices) for every item table the encoder adds
 * to. `rng` drops id rows (id dropout); null keeps every learned one. A frozen table (by name)
 * takes part as a constant. Call inside a tf.tidy.
 */
export function featureLeaves(encoder: ItemEncoder, itemTables: readonly EmbeddingTable[], frozen: ReadonlySet<string>, list: Int32Array, rng: Prng | null): FeatureLeaves {
  const { layout: global, kept } = composeLayout(encoder.items, list, idMask(encoder, list, encoder.spec.id_dropout, rng));
  // The leaf is the step's distinct token rows; entries read them by local index.
  const tokenRows = distinct(global.entries, scratchFor(encoder));
  const layout: ComposeLayout = { ...global, entries: tokenRows.local };
  const keptIdx = tf.tensor1d(kept, 'int32');
  const tokenIdx = tf.tensor1d(tokenRows.list, 'int32');
  const leaves: RowLeaf[] = [];
  const parts: { name: string; ids: TF.Tensor2D; tokens: TF.Tensor2D }[] = [];
  for (const f of encoder.tables) {
    const table = itemTables.find((t) => t.name === f.of);
    if (table === undefined) throw new Error(`item encoder: the model has no item table ${f.of}`);
    const ids = tf.gather(table.variable, keptIdx) as TF.Tensor2D;
    const tokens = tf.gather(f.variable, tokenIdx) as TF.Tensor2D;
    if (!frozen.has(table.name) && kept.length > 0) leaves.push({ table: table.variable, rows: kept, tensor: ids });
    if (!frozen.has(f.name) && tokenRows.list.length > 0) leaves.push({ table: f.variable, rows: tokenRows.list, tensor: tokens });
    parts.push({ name: table.name, ids, tokens });
  }
  return {
    leaves,
    assemble() {
      const out: Record<string, TF.Tensor2D> = {};
      for (const p of parts) out[p.name] = composeOp(layout)(p.ids, p.tokens);
      return out;
    },
  };
}

/**
 * out[k] = ids[posOf[k]] (or 0) + Σ_{e: segments[e] = k} weights[e] · tokens[entries[e]], with its
 * gradient, as one op over plain arrays: the same sum from gather, mul and unsortedSegmentSum
 * differentiated by TF.js took ~10× as long (the segment sum's gradient masks negative ids through
 * a broadcast `where`, and gather's goes through transposes), about 200 ms a SASRec step on Beauty.
 */
function composeOp(layout: ComposeLayout): (ids: TF.Tensor2D, tokens: TF.Tensor2D) => TF.Tensor2D {
  return tf.customGrad((...args: (TF.Tensor | TF.GradSaveFunc)[]) => {
    const [ids, tokens] = args as [TF.Tensor2D, TF.Tensor2D];
    const width = tokens.shape[1];
    const out = composeForward(layout, ids.dataSync() as Float32Array, tokens.dataSync() as Float32Array, width);
    return {
      value: tf.tensor2d(out, [layout.count, width]),
      gradFunc: (dy: TF.Tensor) => {
        const { dIds, dTokens } = composeBackward(layout, dy.dataSync() as Float32Array, tokens.shape[0], width);
        return [tf.tensor2d(dIds, [layout.kept, width]), tf.tensor2d(dTokens, [tokens.shape[0], width])];
      },
    };
  }) as (ids: TF.Tensor2D, tokens: TF.Tensor2D) => TF.Tensor2D;
}

/** d(loss)/d(ids) and d(loss)/d(tokens) from d(loss)/d(out) = g. */
function composeBackward(layout: ComposeLayout, g: Float32Array, tokenRows: number, width: number): { dIds: Float32Array; dTokens: Float32Array } {
  const { count, posOf, kept, entries, weights, segments } = layout;
  const dIds = new Float32Array(kept * width);
  for (let k = 0; k < count; k++) if (posOf[k] < kept) dIds.set(g.subarray(k * width, (k + 1) * width), posOf[k] * width);
  const dTokens = new Float32Array(tokenRows * width);
  for (let e = 0; e < entries.length; e++) {
    const o = segments[e] * width;
    const t = entries[e] * width;
    const w = weights[e];
    for (let j = 0; j < width; j++) dTokens[t + j] += w * g[o + j];
  }
  return { dIds, dTokens };
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
