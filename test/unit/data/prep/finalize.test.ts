import { describe, expect, it } from 'vitest';
import { summarizeSplits } from '../../../../src/data/prep/finalize.js';
import { POOL, REMOVED_DEDUPE, TEST, TRAIN, VALID, arrangeRows } from '../../../../src/data/prep/order.js';
import { RowStore } from '../../../../src/data/prep/store.js';
import { Prng } from '../../../../src/util/prng.js';

const N_USERS = 40;
const N_ITEMS = 60;

/** Arranged rows in every state, with second (4-byte) or millisecond (8-byte) times, few or many values. */
function arrangedLog(seed: number, msTs: boolean, manyValues: boolean): { store: RowStore; assign: Uint8Array } {
  const prng = Prng.fromSeed(seed, 'finalize-test');
  const store = new RowStore(true, false, 16);
  const states = [TRAIN, TRAIN, TRAIN, VALID, TEST, POOL, REMOVED_DEDUPE];
  const assign: number[] = [];
  for (let i = 0; i < 4000; i++) {
    // Users 34-39 and items 56-59 have no row.
    store.push(prng.int(30), prng.int(50), manyValues ? Math.fround(prng.int(9000) / 3) : 1 + prng.int(3), 1_700_000_000_000 + prng.int(86_400) * 1000 + (msTs ? prng.int(1000) : 0), i, 0);
    assign.push(states[prng.int(states.length)]);
  }
  // Users 30-33 and items 50-55 only in valid and test: cold there.
  for (let i = 0; i < 60; i++) {
    store.push(30 + prng.int(4), 50 + prng.int(6), 1, 1_700_000_000_000 + prng.int(86_400) * 1000, 4000 + i, 0);
    assign.push(prng.int(2) === 0 ? VALID : TEST);
  }
  const a = Uint8Array.from(assign);
  arrangeRows(store, a, N_USERS);
  return { store, assign: a };
}

/** The summary computed the plain way, one row at a time through the store's accessors. */
function naive(store: RowStore, assign: Uint8Array): { counts: number[][]; first: number[][]; last: number[][]; values: number[]; ts: number[]; splits: number[][] } {
  const counts = [new Array<number>(N_USERS).fill(0), new Array<number>(N_ITEMS).fill(0)];
  const first = [new Array<number>(N_USERS).fill(Number.NaN), new Array<number>(N_ITEMS).fill(Number.NaN)];
  const last = [new Array<number>(N_USERS).fill(Number.NaN), new Array<number>(N_ITEMS).fill(Number.NaN)];
  const inSplit = [0, 1, 2].map(() => [new Set<number>(), new Set<number>()]);
  const rows = [0, 0, 0];
  const values: number[] = [];
  const ts: number[] = [];
  const runs = store.runs;
  for (let u = 0; u < N_USERS; u++) {
    for (let i = runs[u]; i < runs[u + 1]; i++) {
      if (assign[i] > POOL) continue;
      const ids = [u, store.items[i]];
      const t = store.tsAt(i);
      values.push(store.valueAt(i));
      ts.push(t);
      for (const side of [0, 1]) {
        const k = ids[side];
        counts[side][k]++;
        if (!(first[side][k] <= t)) first[side][k] = t;
        if (!(last[side][k] >= t)) last[side][k] = t;
      }
      if (assign[i] === POOL) continue;
      rows[assign[i]]++;
      inSplit[assign[i]][0].add(u);
      inSplit[assign[i]][1].add(store.items[i]);
    }
  }
  const splits = [0, 1, 2].map((c) => [rows[c], inSplit[c][0].size, inSplit[c][1].size, [...inSplit[c][0]].filter((u) => !inSplit[TRAIN][0].has(u)).length, [...inSplit[c][1]].filter((k) => !inSplit[TRAIN][1].has(k)).length]);
  return { counts, first, last, values, ts, splits };
}

describe('summarizeSplits', () => {
  for (const [msTs, manyValues] of [
    [false, false],
    [true, true],
  ] as const) {
    it(`gives what a row-by-row pass gives: ${msTs ? 'ms' : 'second'} times, ${manyValues ? 'a float32 value column' : 'value codes'}`, () => {
      const { store, assign } = arrangedLog(msTs ? 2 : 1, msTs, manyValues);
      const want = naive(store, assign);
      const { sum, splitStats } = summarizeSplits(store, assign, N_USERS, N_ITEMS, 35, 0);
      const sides = [sum.users, sum.items];
      for (const side of [0, 1]) {
        const c = sides[side];
        const kept = want.counts[side].map((n, k) => (n > 0 || (side === 0 && k < 35) ? k : -1)).filter((k) => k >= 0);
        expect(c.size).toBe(kept.length);
        expect(Array.from(c.counts)).toEqual(kept.map((k) => want.counts[side][k]));
        expect(Array.from(c.firstTs)).toEqual(kept.map((k) => want.first[side][k]));
        expect(Array.from(c.lastTs)).toEqual(kept.map((k) => want.last[side][k]));
      }
      expect(sum.users.size).toBe(35);
      expect(sum.valueMin).toBe(Math.min(...want.values));
      expect(sum.valueMax).toBe(Math.max(...want.values));
      expect(sum.tsMin).toBe(Math.min(...want.ts));
      expect(sum.tsMax).toBe(Math.max(...want.ts));
      const got = [splitStats.train, splitStats.valid, splitStats.test].map((s) => [s.rows, s.users, s.items, s.cold_users, s.cold_items]);
      expect(got).toEqual(want.splits);
      expect(Math.min(got[VALID][3], got[VALID][4], got[TEST][3], got[TEST][4])).toBeGreaterThan(0);
    });
  }
});
