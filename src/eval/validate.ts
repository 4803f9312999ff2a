/**
 * Per-epoch validation used for early stopping and best-epoch selection (never the test split):
 * rmse/mae on explicit ratings, full-ranking ndcg@10 / recall@10 on implicit feedback, with the
 * semantics of PRODUCT §6 (train items excluded, ties broken against the relevant item).
 */
import * as tf from '@tensorflow/tfjs';
import type { PairModel } from '../models/model.js';

export interface SplitPairs {
  users: Int32Array;
  items: Int32Array;
  values: Float32Array;
}

export function validateRatings(model: PairModel, split: SplitPairs, range: [number, number], batch = 8192): Record<string, number> {
  let se = 0;
  let ae = 0;
  for (let lo = 0; lo < split.users.length; lo += batch) {
    const hi = Math.min(split.users.length, lo + batch);
    const pred = tf.tidy(() => {
      const u = tf.tensor1d(split.users.subarray(lo, hi), 'int32');
      const i = tf.tensor1d(split.items.subarray(lo, hi), 'int32');
      const rows: Record<string, tf.Tensor2D> = {};
      for (const t of model.tables) rows[t.name] = tf.gather(t.variable, t.kind === 'user' ? u : i) as tf.Tensor2D;
      return model.scoreRows(rows, false);
    });
    const values = pred.dataSync();
    pred.dispose();
    for (let j = 0; j < values.length; j++) {
      const p = Math.min(range[1], Math.max(range[0], values[j]));
      const err = p - split.values[lo + j];
      se += err * err;
      ae += Math.abs(err);
    }
  }
  const n = split.users.length || 1;
  return { rmse: Math.sqrt(se / n), mae: ae / n };
}

/** Groups a split's items by user (CSR over the user index space). */
export function groupByUser(numUsers: number, users: Int32Array, items: Int32Array): { offsets: Int32Array; items: Int32Array } {
  const offsets = new Int32Array(numUsers + 1);
  for (let j = 0; j < users.length; j++) offsets[users[j] + 1]++;
  for (let u = 0; u < numUsers; u++) offsets[u + 1] += offsets[u];
  const cursor = offsets.slice(0, numUsers);
  const out = new Int32Array(users.length);
  for (let j = 0; j < users.length; j++) out[cursor[users[j]]++] = items[j];
  return { offsets, items: out };
}

export function validateRanking(
  model: PairModel,
  valid: { users: Int32Array; items: Int32Array },
  train: { users: Int32Array; items: Int32Array },
  k = 10,
  block = 256,
): Record<string, number> {
  const numUsers = model.shape.users;
  const numItems = model.shape.items;
  const rel = groupByUser(numUsers, valid.users, valid.items);
  const seen = groupByUser(numUsers, train.users, train.items);
  const evalUsers: number[] = [];
  for (let u = 0; u < numUsers; u++) if (rel.offsets[u + 1] > rel.offsets[u]) evalUsers.push(u);
  const allItems = tf.range(0, numItems, 1, 'int32') as tf.Tensor1D;
  const isRelevant = new Uint8Array(numItems);
  let ndcgSum = 0;
  let recallSum = 0;
  for (let b = 0; b < evalUsers.length; b += block) {
    const users = Int32Array.from(evalUsers.slice(b, b + block));
    const scoresT = tf.tidy(() => model.scoreMatrix(tf.tensor1d(users, 'int32'), allItems));
    const scores = scoresT.dataSync() as Float32Array;
    scoresT.dispose();
    for (let r = 0; r < users.length; r++) {
      const u = users[r];
      const row = scores.subarray(r * numItems, (r + 1) * numItems);
      for (let j = seen.offsets[u]; j < seen.offsets[u + 1]; j++) row[seen.items[j]] = -Infinity;
      const relItems = rel.items.subarray(rel.offsets[u], rel.offsets[u + 1]);
      for (const i of relItems) isRelevant[i] = 1;
      let dcg = 0;
      let hits = 0;
      let distinct = 0;
      for (const i of relItems) {
        if (isRelevant[i] !== 1) continue;
        isRelevant[i] = 2;
        distinct++;
        const s = row[i];
        // Pessimistic rank: every other item scoring at least as high ranks above it, except
        // relevant items with an equal score and a larger index (a fixed order among them).
        let rank = 1;
        for (let j = 0; j < numItems && rank <= k; j++) {
          if (j === i) continue;
          const sj = row[j];
          if (sj > s || (sj === s && (isRelevant[j] === 0 || j < i))) rank++;
        }
        if (rank <= k) {
          hits++;
          dcg += 1 / Math.log2(rank + 1);
        }
      }
      let idcg = 0;
      for (let p = 1; p <= Math.min(distinct, k); p++) idcg += 1 / Math.log2(p + 1);
      ndcgSum += idcg > 0 ? dcg / idcg : 0;
      recallSum += distinct > 0 ? hits / distinct : 0;
      for (const i of relItems) isRelevant[i] = 0;
    }
  }
  allItems.dispose();
  const n = evalUsers.length || 1;
  return { [`ndcg@${k}`]: ndcgSum / n, [`recall@${k}`]: recallSum / n };
}
