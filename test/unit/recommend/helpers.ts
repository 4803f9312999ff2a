import { tf } from '../../../src/engine/tf.js';
import { modelSchema } from '../../../src/config/schema.js';
import type { Vocab } from '../../../src/data/dataset.js';
import type { PairModel } from '../../../src/models/model.js';
import { buildModel } from '../../../src/models/registry.js';

/**
 * A biased MF with hand-set weights, so scores can be computed on paper:
 * score(u, i) = p_u · q_i + b_u + b_i (global mean 0).
 */
export function tinyMf(p: number[][], q: number[][], bu: number[] = p.map(() => 0), bi: number[] = q.map(() => 0)): PairModel {
  const dim = p[0]?.length ?? q[0].length;
  const model = buildModel('mf', {
    config: modelSchema.parse({ dim }),
    shape: { users: p.length, items: q.length, globalMean: 0 },
    nextSeed: () => 1,
  });
  const values: Record<string, number[][]> = {
    user_embedding: p,
    item_embedding: q,
    user_bias: bu.map((b) => [b]),
    item_bias: bi.map((b) => [b]),
  };
  for (const table of model.tables) table.variable.assign(tf.tensor2d(values[table.name]));
  return model;
}

export function vocabOf(ids: string[], counts: number[] = ids.map(() => 1)): Vocab {
  const index = new Map(ids.map((id, i) => [id, i] as const));
  return {
    ids,
    counts: Int32Array.from(counts),
    firstTs: new Float64Array(ids.length).fill(Number.NaN),
    lastTs: new Float64Array(ids.length).fill(Number.NaN),
    index,
    lookup: (id: string) => index.get(id) ?? -1,
  };
}
