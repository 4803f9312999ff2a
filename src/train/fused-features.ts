/**
 * The fused step's item side when the model has an item encoder (catalogue features): the step's
 * distinct items are composed from their id rows and feature token rows straight from table memory
 * (the same sum as feature-rows.ts builds inside the autograd step), the model's kernel scores
 * those composed rows as if they were its item tables, and the gradients it leaves on them are
 * routed back to the id rows and token rows they were composed from.
 *
 * L2 is the autograd step's: l2/n · Σ over the batch's pairs of the composed item vector's squared
 * norm (not of the raw rows), so its gradient enters the composed rows before they are routed.
 */
import type * as TF from '@tensorflow/tfjs';
import { axpy, composeForward, composeLayout, idMask, type ComposeLayout, type FeatureTable } from '../models/item-encoder.js';
import type { EmbeddingTable, SlotGrads, TableViews } from '../models/model.js';
import { distinct } from './feature-rows.js';
import type { StepFeatures } from './pair-step.js';

export interface RowUpdaters {
  prepareRows(table: TF.Variable, rows: Int32Array): SlotGrads;
  applyPrepared(table: TF.Variable, coefficient: number): number;
}

interface ComposedTable {
  table: EmbeddingTable;
  /** The feature table composed into it; null: the item table's own rows only. */
  features: FeatureTable | null;
  width: number;
  /** [distinct items, width]: the vectors the kernel reads. */
  values: Float32Array;
  /** d(loss)/d(values), filled by the kernel's backward through `slots`. */
  grads: Float32Array;
}

export interface ComposedItems {
  /** Per pair: its item's row in the composed tables. */
  readonly local: Int32Array;
  /** The composed item tables by name, as kernel views. */
  readonly views: TableViews;
  /** The kernel's gradient buffers for the composed tables: pair k's gradient goes to its item's slot, local[k]. */
  readonly grads: Readonly<Record<string, SlotGrads>>;
  /**
   * Adds the L2 gradient 2c · (times the item occurs) · v to each composed row and returns
   * Σ_pairs ‖v‖² over every composed table. Call after the kernel's backward.
   */
  penalty(coefficient: number): number;
  /** Routes the composed rows' gradients to the id rows and token rows and applies them (no further L2). */
  apply(updaters: RowUpdaters, frozen: ReadonlySet<string>): void;
}

/**
 * Composes the step's item tables. `items` are the pairs' model item indices; `views` must hold
 * every item table and every feature table of the encoder.
 */
export function composeItems(features: StepFeatures, itemTables: readonly EmbeddingTable[], views: TableViews, items: Int32Array): ComposedItems {
  const { encoder } = features;
  const { list, local } = distinct(items, features.scratch);
  const { layout, kept } = composeLayout(encoder.items, list, idMask(encoder, list, encoder.spec.id_dropout, features.rng));
  const counts = new Int32Array(list.length);
  for (let k = 0; k < local.length; k++) counts[local[k]]++;
  const tables: ComposedTable[] = itemTables.map((table) => {
    const width = table.variable.shape[1] ?? 1;
    const f = encoder.tables.find((x) => x.of === table.name) ?? null;
    const own = views[table.name];
    const values = f === null ? gather(own, list, width) : composeForward(layout, gather(own, kept, width), views[f.name], width);
    return { table, features: f, width, values, grads: new Float32Array(list.length * width) };
  });
  return {
    local,
    views: Object.fromEntries(tables.map((t) => [t.table.name, t.values])),
    grads: Object.fromEntries(tables.map((t) => [t.table.name, { sums: t.grads, slots: local }])),
    penalty(c) {
      let sum = 0;
      for (const t of tables) {
        for (let k = 0; k < list.length; k++) {
          const o = k * t.width;
          let sq = 0;
          for (let j = 0; j < t.width; j++) {
            const v = t.values[o + j];
            sq += v * v;
            t.grads[o + j] += 2 * c * counts[k] * v;
          }
          sum += counts[k] * sq;
        }
      }
      return sum;
    },
    apply(updaters, frozen) {
      // Every table is prepared before any is applied: an update may move wasm memory, and the
      // prepared buffers are the optimizer's own.
      const pending: TF.Variable[] = [];
      for (const t of tables) {
        if (!frozen.has(t.table.name)) {
          const rows = t.features === null ? list : kept;
          if (rows.length > 0) {
            routeIds(t, layout, t.features === null ? null : rows, updaters.prepareRows(t.table.variable, rows));
            pending.push(t.table.variable);
          }
        }
        if (t.features !== null && !frozen.has(t.features.name) && layout.entries.length > 0) {
          routeTokens(t, layout, updaters.prepareRows(t.features.variable, layout.entries));
          pending.push(t.features.variable);
        }
      }
      for (const v of pending) updaters.applyPrepared(v, 0);
    },
  };
}

function gather(table: Float32Array, rows: Int32Array, width: number): Float32Array {
  const out = new Float32Array(rows.length * width);
  for (let k = 0; k < rows.length; k++) out.set(table.subarray(rows[k] * width, (rows[k] + 1) * width), k * width);
  return out;
}

/** The id rows' gradients: a composed row's own (every distinct item without features, or the kept ones). */
function routeIds(t: ComposedTable, layout: ComposeLayout, kept: Int32Array | null, into: SlotGrads): void {
  const w = t.width;
  for (let k = 0; k < layout.count; k++) {
    const p = kept === null ? k : layout.posOf[k];
    if (p >= layout.kept && kept !== null) continue;
    const o = into.slots[p] * w;
    for (let j = 0; j < w; j++) into.sums[o + j] += t.grads[k * w + j];
  }
}

/** The token rows' gradients: weight · the gradient of the item each entry was pooled into. */
function routeTokens(t: ComposedTable, layout: ComposeLayout, into: SlotGrads): void {
  const w = t.width;
  const { entries, weights, segments } = layout;
  for (let e = 0; e < entries.length; e++) axpy(into.sums, into.slots[e] * w, weights[e], t.grads, segments[e] * w, w);
}
