import { describe, expect, it } from 'vitest';
import { hasItem, userItemSets } from '../../../src/data/user-items.js';
import { selectRows, replayEpoch } from '../../../src/train/fine-tune.js';
import { buildEpoch, negativePool, onSaleCount, onSalePool, positiveRows, type Interactions } from '../../../src/train/pair-data.js';
import { Prng } from '../../../src/util/prng.js';

/**
 * 61 users with one row each: user u < 60 buys item u % 6 at time 11·(u % 6) + u, and user 60 item 1 at time 0, so
 * item j is first seen at 11·j (item 1 at 0) and every row has another item on sale beside its own. Item 6 has no
 * training row (valid/test only): in no pool.
 */
function log(): Interactions & { ts: Float64Array } {
  const n = 61;
  const users = Int32Array.from({ length: n }, (_, u) => u);
  const items = Int32Array.from(users, (u) => (u === 60 ? 1 : u % 6));
  const ts = Float64Array.from(users, (u) => (u === 60 ? 0 : 11 * (u % 6) + u));
  return { users, items, values: new Float32Array(n).fill(1), ts, numUsers: n, numItems: 7 };
}

const launchOf = (item: number): number => (item === 1 ? 0 : 11 * item);

/** Negatives (label 0, or bpr's) launched after their user's positive, and how many negatives in all. */
function lateNegatives(data: ReturnType<typeof log>, e: ReturnType<typeof buildEpoch>): { late: number; total: number } {
  let late = 0;
  let total = 0;
  const check = (u: number, item: number) => {
    total++;
    if (launchOf(item) > data.ts[u]) late++;
  };
  for (let j = 0; j < e.size; j++) {
    if (e.negatives !== null) check(e.users[j], e.negatives[j]);
    else if (e.labels[j] === 0) check(e.users[j], e.items[j]);
  }
  return { late, total };
}

describe('negatives by time on sale', () => {
  it('orders the pool by first training row (ties by index) and counts the items on sale at a time', () => {
    const rows = { items: Int32Array.from([3, 1, 3, 0, 1]), ts: Float64Array.from([5, 9, 1, 9, 2]), numItems: 5 };
    const p = onSalePool(rows, Int32Array.from([0, 1, 3]));
    expect(Array.from(p.items)).toEqual([3, 1, 0]);
    expect(Array.from(p.launch)).toEqual([1, 2, 9]);
    expect([0, 1, 2, 8, 9, 100].map((t) => onSaleCount(p, t))).toEqual([0, 1, 2, 2, 3, 3]);
    // Without a pool (every item trained), every item is a member; an item without a row counts from the start.
    expect(Array.from(onSalePool(rows, null).items)).toEqual([2, 4, 3, 1, 0]);
  });

  it('bce and bpr draw only items launched at or before the positive; uniform draws later ones too', () => {
    const data = log();
    const sets = userItemSets(data.numUsers, [data]);
    const pool = negativePool(data);
    const onSale = onSalePool(data, pool);
    for (const loss of ['bce', 'bpr'] as const) {
      const e = buildEpoch(data, sets, loss, 4, Prng.fromSeed(3, 'e'), pool, onSale);
      const r = lateNegatives(data, e);
      expect(r.total).toBe(loss === 'bce' ? 244 : 61);
      expect(r.late).toBe(0);
      for (let j = 0; j < e.size; j++) {
        const neg = e.negatives === null ? (e.labels[j] === 0 ? e.items[j] : -1) : e.negatives[j];
        if (neg >= 0) expect(hasItem(sets, e.users[j], neg) || neg === 6).toBe(false);
      }
      expect(lateNegatives(data, buildEpoch(data, sets, loss, 4, Prng.fromSeed(3, 'e'), pool)).late).toBeGreaterThan(0);
    }
  });

  it('mixed draws about half the negatives on sale and half from the whole pool', () => {
    const data = log();
    const sets = userItemSets(data.numUsers, [data]);
    const pool = negativePool(data);
    const late = (onSale: ReturnType<typeof onSalePool> | null) => lateNegatives(data, buildEpoch(data, sets, 'bce', 20, Prng.fromSeed(4), pool, onSale)).late;
    const uniform = late(null);
    const mixed = late(onSalePool(data, pool, true));
    expect(late(onSalePool(data, pool))).toBe(0);
    // Only the uniform half can land after a positive: about half as many late negatives as uniform draws.
    expect(mixed).toBeGreaterThan(uniform * 0.35);
    expect(mixed).toBeLessThan(uniform * 0.65);
    const again = buildEpoch(data, sets, 'bce', 20, Prng.fromSeed(4), pool, onSalePool(data, pool, true));
    expect(Array.from(again.items)).toEqual(Array.from(buildEpoch(data, sets, 'bce', 20, Prng.fromSeed(4), pool, onSalePool(data, pool, true)).items));
  });

  it('is seeded: the same stream gives the same epoch', () => {
    const data = log();
    const sets = userItemSets(data.numUsers, [data]);
    const pool = negativePool(data);
    const a = buildEpoch(data, sets, 'bce', 2, Prng.fromSeed(7), pool, onSalePool(data, pool));
    const b = buildEpoch(data, sets, 'bce', 2, Prng.fromSeed(7), pool, onSalePool(data, pool));
    expect(Array.from(b.items)).toEqual(Array.from(a.items));
    expect(Array.from(b.users)).toEqual(Array.from(a.users));
  });

  it('a user who owns every item on sale still gets a negative, from the pool; rows without times are refused', () => {
    // User 0's first row is the first of the log: only item 0, its own, is on sale; of the pool it lacks only item 1.
    const data = { users: Int32Array.from([0, 1, 0]), items: Int32Array.from([0, 1, 2]), values: new Float32Array(3).fill(1), ts: Float64Array.from([0, 5, 9]), numUsers: 2, numItems: 3 };
    const sets = userItemSets(2, [data]);
    const pool = negativePool(data);
    const first = selectRows(data, (r) => r === 0);
    const e = buildEpoch(first, sets, 'bpr', 1, Prng.fromSeed(1), pool, onSalePool(data, pool));
    expect(e.size).toBe(1);
    expect(e.negatives?.[0]).toBe(1);
    const untimed: Interactions = { users: data.users, items: data.items, values: data.values, numUsers: data.numUsers, numItems: data.numItems };
    expect(() => buildEpoch(untimed, sets, 'bce', 1, Prng.fromSeed(1), pool, onSalePool(data, pool))).toThrow(/time of each training row/);
  });

  it('positiveRows, selectRows and replay epochs keep each row its time', () => {
    const data = { ...log(), values: Float32Array.from({ length: 61 }, (_, u) => u % 5) };
    const pos = positiveRows(data, 3);
    expect(pos.ts?.length).toBe(pos.users.length);
    for (let j = 0; j < pos.users.length; j++) expect(pos.ts?.[j]).toBe(data.ts[pos.users[j]]);
    const newer = selectRows(data, (r) => data.ts[r] > 40);
    const older = selectRows(data, (r) => data.ts[r] <= 40);
    const rec = { fraction: 1, since_ts: 40, new_rows: newer.users.length, old_rows: older.users.length, replayed_per_epoch: 5 };
    const e = replayEpoch({ record: rec, newer, older }, Prng.fromSeed(2));
    expect(e.users.length).toBe(newer.users.length + 5);
    for (let j = 0; j < e.users.length; j++) expect(e.ts?.[j]).toBe(data.ts[e.users[j]]);
  });
});
