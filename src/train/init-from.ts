/**
 * `--init-from CKPT` (README.md#models-pretraining-and-fine-tuning): initialise a freshly built model from trained checkpoints.
 *
 * - Warm start / fine-tuning: one parent of the same model. Embedding rows move by RAW ID through
 *   the two vocabularies (the parent's `vocab/`, this dataset's users/items.arrow): a user or item
 *   the parent knew gets the parent's row, a new one keeps its fresh initialisation. Every other
 *   weight (MLP layers, output layer, MF's global mean) is copied by its stable key
 *   (`layer/weight`) and must have the same shape.
 * - A family built from parents of other families (NeuMF from GMF + MLP): its Composition
 *   (src/models/family.ts) names the parents' models and mixes the layers they do not share;
 *   src/models/ncf-family.ts has NeuMF's rule.
 */
import type * as TF from '@tensorflow/tfjs';
import { tf } from '../engine/tf.js';
import { join } from 'node:path';
import type { ModelName } from '../config/schema.js';
import { readVocabFile, type Vocab } from '../data/dataset.js';
import { VOCAB_FILES } from '../data/manifest.js';
import { pathExists } from '../io/atomic.js';
import { restoreIdRows } from './item-features.js';
import { paths, readModelEpoch, readRunJson, readTrainedRows, type ParentRecord, type TrainedRows, weightsCheck, weightsSha256 } from '../io/checkpoint.js';
import { namedWeights, tablesOf, type AnyModel } from '../models/model.js';
import { family } from '../models/registry.js';
import { loadModel } from '../models/saved.js';
import type { Logger } from '../util/log.js';
import { UsageError } from '../util/errors.js';

export interface InitFromRequest {
  /** Absolute checkpoint folders, as given to --init-from (resolved by cli/). */
  parents: readonly string[];
  model: AnyModel;
  /** NeuMF from GMF + MLP parents: weight of the GMF output layer. */
  alpha: number;
  /** This run's vocabularies: raw id of each user / item index. */
  users: readonly string[];
  items: readonly string[];
  log: Logger;
}

interface Parent {
  path: string;
  model: ModelName;
  pair: AnyModel;
  users: Vocab;
  items: Vocab;
  record: ParentRecord;
}

const flag = (path: string) => `--init-from ${path}`;

/** Reads a dataset's (or a checkpoint's vocab/) users and items as raw-id lists. */
export async function readVocabIds(dir: string): Promise<{ users: string[]; items: string[] }> {
  const [users, items] = await Promise.all([readVocabFile(join(dir, VOCAB_FILES.users)), readVocabFile(join(dir, VOCAB_FILES.items))]);
  return { users: users.ids, items: items.ids };
}

/**
 * The rows this run starts with knowledge of: ids with a training row here (`train`), and ids whose
 * row an --init-from parent had learned (its own trained rows, or its whole vocabulary for a parent
 * written before rec recorded them). Written to the checkpoint so eval and recommend can tell a
 * learned row from a random one without the dataset.
 */
export async function trainedRows(train: { users: Int32Array; items: Int32Array }, ids: { users: string[]; items: string[] }, parentPaths: readonly string[]): Promise<TrainedRows> {
  const users = new Uint8Array(ids.users.length);
  const items = new Uint8Array(ids.items.length);
  for (let r = 0; r < train.users.length; r++) {
    users[train.users[r]] = 1;
    items[train.items[r]] = 1;
  }
  for (const path of parentPaths) {
    const [vocab, learned] = await Promise.all([readVocabIds(paths(path).vocab), readTrainedRows(path)]);
    const mark = (flags: Uint8Array, mine: string[], theirs: string[], theirsTrained: Uint8Array | null) => {
      const index = new Map(theirs.map((id, i) => [id, i]));
      for (let i = 0; i < mine.length; i++) {
        const j = index.get(mine[i]);
        if (j !== undefined && (theirsTrained === null || theirsTrained[j] === 1)) flags[i] = 1;
      }
    };
    mark(users, ids.users, vocab.users, learned?.users ?? null);
    mark(items, ids.items, vocab.items, learned?.items ?? null);
  }
  return { users, items };
}

/**
 * Checks what the parents are before anything is loaded, so a wrong combination fails with a
 * usage error (exit 2) naming the flag and path, before the run writes a file.
 */
export async function checkParents(parentPaths: readonly string[], model: ModelName): Promise<ModelName[]> {
  const models: ModelName[] = [];
  for (const path of parentPaths) {
    const p = paths(path);
    if (!(await pathExists(p.run)) || !(await pathExists(join(p.model, 'model.json')))) {
      throw new UsageError(
        `${flag(path)}: not a rec checkpoint (${(await pathExists(path)) ? `no ${(await pathExists(p.run)) ? 'model/model.json' : 'run.json'} in it` : 'no such folder'}). Expected a folder written by rec train.`,
      );
    }
    models.push((await readRunJson(path)).model);
  }
  const described = parentPaths.map((path, k) => `${models[k]} (${path})`).join(', ');
  family(model).checkParents(models, parentPaths, described);
  return models;
}

/** child index → parent index of the same raw id, or -1. */
function rowMap(childIds: readonly string[], parent: Vocab): { map: Int32Array; matched: number } {
  const map = new Int32Array(childIds.length);
  let matched = 0;
  for (let c = 0; c < childIds.length; c++) {
    map[c] = parent.lookup(childIds[c]);
    if (map[c] >= 0) matched++;
  }
  return { map, matched };
}

function shapeText(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}

async function loadParent(path: string, model: ModelName, req: InitFromRequest): Promise<Parent> {
  const p = paths(path);
  const run = await readRunJson(path);
  const [pair, users, items, sha, epoch] = await Promise.all([
    loadModel(p.model, weightsCheck(run, 'model/weights.bin', req.log)),
    readVocabFile(join(p.vocab, VOCAB_FILES.users)),
    readVocabFile(join(p.vocab, VOCAB_FILES.items)),
    weightsSha256(p.model),
    readModelEpoch(path),
  ]);
  // A parent trained with item features saved composed item vectors in model/: warm-start from its id rows.
  await restoreIdRows(p.model, pair);
  const u = rowMap(req.users, users);
  const i = rowMap(req.items, items);
  return {
    path,
    model,
    pair,
    users,
    items,
    record: {
      path,
      model,
      weights_sha256: sha,
      epoch,
      users: { matched: u.matched, new: req.users.length - u.matched },
      items: { matched: i.matched, new: req.items.length - i.matched },
    },
  };
}

/** Copies the parent's rows into the child table for every raw id both vocabularies hold. */
function copyRows(child: TF.Variable, parent: TF.Variable, map: Int32Array, key: string, path: string): void {
  const width = child.shape[1] as number;
  if (parent.shape[1] !== width) {
    throw new UsageError(
      `${flag(path)}: ${key} has rows of width ${parent.shape[1]} there but ${width} in this model (model.dim or model.layers differ). Expected the parent's architecture: pass its --dim/--layers.`,
    );
  }
  const src = parent.dataSync() as Float32Array;
  const dst = Float32Array.from(child.dataSync() as Float32Array);
  for (let c = 0; c < map.length; c++) {
    const p = map[c];
    if (p >= 0) dst.set(src.subarray(p * width, (p + 1) * width), c * width);
  }
  tf.tidy(() => child.assign(tf.tensor(dst, child.shape, 'float32')));
}

function copyWhole(child: TF.Variable, parent: TF.Variable, key: string, path: string): void {
  if (shapeText(child.shape) !== shapeText(parent.shape)) {
    throw new UsageError(
      `${flag(path)}: weight ${key} is ${shapeText(parent.shape)} there but ${shapeText(child.shape)} in this model (model.dim or model.layers differ). Expected the parent's architecture: pass its --dim/--layers.`,
    );
  }
  tf.tidy(() => child.assign(tf.clone(parent)));
}

/**
 * Initialises `req.model` from its parents (see the file comment) and returns what run.json
 * records under `parents`. Call `checkParents` first.
 */
export async function initFromParents(req: InitFromRequest, models: readonly ModelName[]): Promise<ParentRecord[]> {
  const parents: Parent[] = [];
  try {
    for (let k = 0; k < req.parents.length; k++) parents.push(await loadParent(req.parents[k], models[k], req));
    const child = new Map(namedWeights(req.model.keras).map((w) => [w.key, w]));
    const tables = new Map(tablesOf(req.model).map((t) => [t.variable.name, t]));
    const composition = family(req.model.name).composition;
    const mixed = composition !== undefined && parents.length === composition.parts.length ? new Set(composition.mixedLayers) : null;
    const covered = new Set<string>();
    for (const parent of parents) {
      const users = rowMap(req.users, parent.users).map;
      const items = rowMap(req.items, parent.items).map;
      for (const w of namedWeights(parent.pair.keras)) {
        const target = child.get(w.key);
        if (target === undefined || mixed?.has(w.layer)) continue;
        const table = tables.get(target.variable.name);
        if (table) copyRows(target.variable, w.variable, table.kind === 'user' ? users : items, w.key, parent.path);
        else copyWhole(target.variable, w.variable, w.key, parent.path);
        covered.add(w.key);
      }
    }
    if (composition !== undefined && mixed !== null) {
      composition.mix(child, parents.map((p) => ({ path: p.path, model: p.model, keras: p.pair.keras })), req.alpha);
      for (const w of child.values()) if (mixed.has(w.layer)) covered.add(w.key);
    }
    const fresh = [...child.keys()].filter((key) => !covered.has(key));
    if (fresh.length > 0) req.log.warn(`--init-from: no parent had ${fresh.join(', ')}; kept their fresh initialisation`);
    for (const p of parents) {
      req.log.info(
        `--init-from ${p.path} (${p.model}, epoch ${p.record.epoch ?? '?'}): users ${p.record.users.matched} from the parent, ${p.record.users.new} new; items ${p.record.items.matched} from the parent, ${p.record.items.new} new`,
      );
    }
    return parents.map((p) => p.record);
  } finally {
    for (const p of parents) p.pair.keras.dispose();
  }
}
