import { tf } from '../../../src/engine/tf.js';
import type { Dataset, SplitData, Vocab } from '../../../src/data/dataset.js';
import type { DatasetManifest } from '../../../src/data/manifest.js';
import { configSchema } from '../../../src/config/schema.js';
import type { PairModel } from '../../../src/models/model.js';
import { buildModel } from '../../../src/models/registry.js';

export function vocab(ids: readonly string[]): Vocab {
  const index = new Map(ids.map((id, i) => [id, i] as const));
  return {
    ids: [...ids],
    counts: new Int32Array(ids.length),
    firstTs: new Float64Array(ids.length).fill(NaN),
    lastTs: new Float64Array(ids.length).fill(NaN),
    index,
    lookup: (id) => index.get(id) ?? -1,
  };
}

type Row = readonly [user: string, item: string, value?: number];

function split(rows: readonly Row[], users: Vocab, items: Vocab): SplitData {
  const n = rows.length;
  const out: SplitData = {
    length: n,
    users: new Int32Array(n),
    items: new Int32Array(n),
    values: new Float32Array(n),
    ts: null,
    seq: Float64Array.from(rows, (_, i) => i),
    events: null,
    queries: null,
  };
  rows.forEach(([u, i, v], r) => {
    out.users[r] = users.lookup(u);
    out.items[r] = items.lookup(i);
    out.values[r] = v ?? 1;
  });
  return out;
}

/** An in-memory dataset (no files): enough for prepareEval and evaluate. */
export function makeDataset(spec: {
  users: readonly string[];
  items: readonly string[];
  train: readonly Row[];
  valid?: readonly Row[];
  test?: readonly Row[];
  feedback?: 'explicit' | 'implicit';
}): Dataset {
  const users = vocab(spec.users);
  const items = vocab(spec.items);
  const manifest = { feedback: { kind: spec.feedback ?? 'implicit' }, anonymize: null } as unknown as DatasetManifest;
  return {
    dir: '/nonexistent',
    manifest,
    train: split(spec.train, users, items),
    valid: split(spec.valid ?? [], users, items),
    test: split(spec.test ?? [], users, items),
    users,
    items,
    eventNames: null,
    queries: null,
  };
}

/**
 * A biased MF whose score of (user, item) is userWeight[user] · itemScore[item] + userBias + itemBias
 * (+ mean): with unit user weights and zero biases, every user ranks items by `itemScores`.
 */
export function scoredMf(spec: { users: number; itemScores: readonly number[]; userWeights?: readonly number[]; itemBias?: readonly number[]; mean?: number }): PairModel {
  const base = configSchema.parse({}).model;
  const model = buildModel('mf', {
    config: { ...base, dim: 1 },
    shape: { users: spec.users, items: spec.itemScores.length, globalMean: spec.mean ?? 0 },
    nextSeed: () => 7,
  });
  const table = (name: string) => model.tables.find((t) => t.name === name)!.variable;
  table('user_embedding').assign(tf.tensor2d([...(spec.userWeights ?? new Array<number>(spec.users).fill(1))], [spec.users, 1]));
  table('item_embedding').assign(tf.tensor2d([...spec.itemScores], [spec.itemScores.length, 1]));
  if (spec.itemBias) table('item_bias').assign(tf.tensor2d([...spec.itemBias], [spec.itemBias.length, 1]));
  return model;
}
