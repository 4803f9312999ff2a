/**
 * A run's item encoder (src/models/item-encoder.ts) through its life: built for a new run from the
 * dataset's catalogue (a fine-tune starting from its parent's tokens and rows), restored on
 * --resume from last/, and saved beside the model's weights as the `item_encoder` sidecar:
 *
 * - `last/model/`: the id tables as trained, and the feature tables (a resume continues exactly);
 * - `model/`: the item tables composed (what eval and recommend score, cold items from their
 *   features, with no encoder code on the reading side), plus the feature tables and the id rows
 *   as trained (`id/<table>`), which a fine-tune starts from.
 */
import type * as TF from '@tensorflow/tfjs';
import { tf } from '../engine/tf.js';
import type { ItemFeatures } from '../data/item-features.js';
import { readSidecar, type ModelSidecar } from '../io/checkpoint.js';
import { createItemEncoder, encoderSpec, checkSpecFields, type ItemEncoder, type ItemEncoderSpec, type FeatureKind } from '../models/item-encoder.js';
import { tablesOf, type AnyModel, type EmbeddingTable } from '../models/model.js';
import { DataError, UsageError } from '../util/errors.js';

export const ITEM_ENCODER_SIDECAR = 'item_encoder';
const ID_PREFIX = 'id/';
const KINDS: readonly FeatureKind[] = ['text', 'category', 'multi', 'number'];

/** The sidecar of an encoder; `raw` (the id tables while the model holds composed ones) is saved with it. */
export function encoderSidecar(encoder: ItemEncoder, raw: Readonly<Record<string, TF.Tensor2D>> | null): ModelSidecar {
  const tensors: TF.NamedTensorMap = {};
  for (const f of encoder.tables) tensors[f.name] = f.variable;
  if (raw !== null) for (const [name, t] of Object.entries(raw)) tensors[`${ID_PREFIX}${name}`] = t;
  return { name: ITEM_ENCODER_SIDECAR, spec: { ...encoder.spec, composed: raw !== null }, tensors };
}

function parseSpec(json: Record<string, unknown>, where: string): ItemEncoderSpec & { composed: boolean } {
  const bad = (what: string) => new DataError(`${where}: ${what}. The checkpoint is damaged; retrain it.`);
  const fields = json.fields;
  if (!Array.isArray(fields)) throw bad('"fields" is not a list');
  for (const f of fields as { name?: unknown; kind?: unknown; boundaries?: unknown }[]) {
    if (typeof f?.name !== 'string' || !KINDS.includes(f.kind as FeatureKind)) throw bad(`a field is not {name, kind} with kind one of ${KINDS.join('|')}`);
    if (f.boundaries !== undefined && !(Array.isArray(f.boundaries) && f.boundaries.every((b) => typeof b === 'number'))) throw bad(`field ${f.name} has boundaries that are not numbers`);
  }
  const tokens = json.tokens;
  if (!Array.isArray(tokens) || !tokens.every((t) => typeof t === 'string')) throw bad('"tokens" is not a list of strings');
  const tables = json.tables;
  if (!Array.isArray(tables) || !tables.every((t) => typeof t === 'string')) throw bad('"tables" is not a list of table names');
  const idDropout = json.id_dropout;
  if (typeof idDropout !== 'number' || !(idDropout >= 0 && idDropout < 1)) throw bad('"id_dropout" is not a number in [0, 1)');
  return { format_version: 1, fields: fields as ItemEncoderSpec['fields'], tokens: tokens as string[], tables: tables as string[], id_dropout: idDropout, composed: json.composed === true };
}

/** A model folder's encoder record: its spec and tensors by name (Float32Array copies), or null without one. */
export async function readEncoderSidecar(dir: string): Promise<{ spec: ItemEncoderSpec & { composed: boolean }; values: Record<string, Float32Array> } | null> {
  const side = await readSidecar(dir, ITEM_ENCODER_SIDECAR);
  if (side === null) return null;
  const values: Record<string, Float32Array> = {};
  for (const [name, t] of Object.entries(side.tensors)) {
    values[name] = t.dataSync() as Float32Array;
    t.dispose();
  }
  return { spec: parseSpec(side.spec, `${dir}/${ITEM_ENCODER_SIDECAR}_spec.json`), values };
}

/**
 * A parent model loaded from its `model/` (composed item tables) gets its id rows as trained back,
 * so warm-starting copies what the parent learned per id, not id plus features twice.
 */
export async function restoreIdRows(dir: string, model: AnyModel): Promise<void> {
  const side = await readEncoderSidecar(dir);
  if (side === null || !side.spec.composed) return;
  for (const t of tablesOf(model)) {
    const raw = side.values[`${ID_PREFIX}${t.name}`];
    if (raw === undefined) continue;
    if (raw.length !== t.variable.size) throw new DataError(`${dir}: the saved id rows of ${t.name} have ${raw.length} values, the model's table ${t.variable.size}. The checkpoint is damaged.`);
    tf.tidy(() => t.variable.assign(tf.tensor(raw, t.variable.shape, 'float32')));
  }
}

function itemTables(model: AnyModel): EmbeddingTable[] {
  return tablesOf(model).filter((t) => t.kind === 'item');
}

export interface NewEncoderRequest {
  features: ItemFeatures;
  model: AnyModel;
  /** Per model item: its id row was learned (trained rows of the run, or a parent's). */
  learned: Uint8Array;
  idDropout: number;
  /** The first --init-from parent's model folder, whose tokens and rows carry over. */
  parentModelDir: string | null;
}

/** A new run's encoder: tokens from the catalogue (a parent's first), feature rows zero or the parent's (`carried`: how many). */
export async function newItemEncoder(req: NewEncoderRequest): Promise<{ encoder: ItemEncoder; carried: number }> {
  const tables = itemTables(req.model);
  const parent = req.parentModelDir === null ? null : await readEncoderSidecar(req.parentModelDir);
  const spec = encoderSpec(req.features, req.learned, { idDropout: req.idDropout, tables: tables.map((t) => t.name), parent: parent?.spec ?? null });
  const widths = Object.fromEntries(tables.map((t) => [t.name, t.variable.shape[1] ?? 1]));
  const values: Record<string, Float32Array> = {};
  if (parent !== null) {
    for (const t of tables) {
      const name = `${t.name}#features`;
      const theirs = parent.values[name];
      if (theirs === undefined) continue;
      const width = widths[t.name];
      if (theirs.length !== parent.spec.tokens.length * width && !(parent.spec.tokens.length === 0 && theirs.length === width)) {
        throw new UsageError(`--init-from ${req.parentModelDir}: its feature table ${name} has rows of another width than this model's ${width} (model.dim or model.layers differ). Pass the parent's --dim/--layers.`);
      }
      const mine = new Float32Array(Math.max(1, spec.tokens.length) * width);
      // The parent's tokens come first in this spec, in the same order.
      mine.set(theirs.subarray(0, parent.spec.tokens.length * width));
      values[name] = mine;
    }
  }
  const encoder = createItemEncoder({ spec, features: req.features, modelItems: req.model.shape.items, learned: req.learned, widths, values });
  return { encoder, carried: Object.keys(values).length > 0 ? (parent?.spec.tokens.length ?? 0) : 0 };
}

/** A resumed run's encoder, from last/model's sidecar; null when the run trained without features. */
export async function restoredItemEncoder(lastModelDir: string, model: AnyModel, features: ItemFeatures | null, learned: Uint8Array): Promise<ItemEncoder | null> {
  const side = await readEncoderSidecar(lastModelDir);
  if (side === null) return null;
  if (features === null) throw new DataError(`${lastModelDir} was trained with item features, but its dataset has no catalogue now (item_features.arrow). Resume on the dataset it was trained on.`);
  checkSpecFields(side.spec, features, lastModelDir);
  const tables = itemTables(model);
  const widths = Object.fromEntries(tables.map((t) => [t.name, t.variable.shape[1] ?? 1]));
  return createItemEncoder({ spec: side.spec, features, modelItems: model.shape.items, learned, widths, values: side.values });
}
