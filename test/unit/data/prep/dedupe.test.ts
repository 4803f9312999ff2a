import { describe, expect, it } from 'vitest';
import { dedupeRows, dropOf, type DedupeRule } from '../../../../src/data/prep/dedupe.js';
import { POOL, REMOVED_DEDUPE, arrangeRows, isAlive } from '../../../../src/data/prep/order.js';
import { RowStore } from '../../../../src/data/prep/store.js';
import { DataError } from '../../../../src/util/errors.js';
import { Prng } from '../../../../src/util/prng.js';

/** Rows 0 (kept so far) and 1 (a later repeat), with these values. */
function pair(first: number, later: number): RowStore {
  const store = new RowStore(false, false);
  store.push(0, 0, first, 0, 0, 0);
  store.push(0, 0, later, 0, 1, 0);
  return store;
}

describe('dropOf', () => {
  it('drops by the rule: first keeps the earlier row, last and max the later one, sum adds into the later one', () => {
    expect(dropOf(pair(1, 5), 'first', 1, 0, 'pair')).toBe(1);
    expect(dropOf(pair(1, 5), 'last', 1, 0, 'pair')).toBe(0);
    expect(dropOf(pair(1, 5), 'max', 1, 0, 'pair')).toBe(0);
    expect(dropOf(pair(5, 1), 'max', 1, 0, 'pair')).toBe(1);
    const s = pair(2, 3);
    expect(dropOf(s, 'sum', 1, 0, 'pair')).toBe(0);
    expect(s.valueAt(1)).toBe(5);
  });

  it('refuses a sum beyond float32, naming what repeated', () => {
    const big = 3e38;
    expect(() => dropOf(pair(big, big), 'sum', 1, 0, '(user, query, item) row')).toThrow(DataError);
    expect(() => dropOf(pair(big, big), 'sum', 1, 0, '(user, query, item) row')).toThrow(/one \(user, query, item\) row sum beyond the float32 range/);
  });
});

/** The rule applied the plain way, dropOf for every repeat: what dedupeRows must match. */
function referenceDedupe(store: RowStore, assign: Uint8Array, nItems: number, rule: Exclude<DedupeRule, 'none'>): Uint8Array {
  const out = assign.slice();
  const runs = store.runs;
  for (let u = 0; u + 1 < runs.length; u++) {
    const kept = new Map<number, number>();
    for (let i = runs[u]; i < runs[u + 1]; i++) {
      if (!isAlive(out[i])) continue;
      const k = kept.get(store.items[i]);
      if (k === undefined) {
        kept.set(store.items[i], i);
        continue;
      }
      const drop = dropOf(store, rule, i, k, 'pair');
      out[drop] = REMOVED_DEDUPE;
      if (drop === k) kept.set(store.items[i], i);
    }
  }
  expect(nItems).toBeGreaterThan(0);
  return out;
}

describe('dedupeRows', () => {
  const logs = [
    { name: 'one distinct value', value: (): number => 1 },
    { name: 'a few values (codes)', value: (p: Prng): number => 1 + p.int(4) },
    { name: 'many values (float32 column)', value: (p: Prng): number => Math.fround(p.int(5000) / 7) },
  ];
  for (const log of logs) {
    for (const rule of ['first', 'last', 'max'] as const) {
      it(`keeps the rows dropOf would: ${rule}, ${log.name}`, () => {
        const build = (): { store: RowStore; assign: Uint8Array } => {
          const store = new RowStore(true, false, 16);
          const draw = Prng.fromSeed(4, 'rows');
          for (let i = 0; i < 3000; i++) store.push(draw.int(20), draw.int(15), log.value(draw), 1_700_000_000_000 + draw.int(100) * 1000, i, 0);
          const assign = new Uint8Array(store.length).fill(POOL);
          arrangeRows(store, assign, 20);
          return { store, assign };
        };
        const a = build();
        const removed = dedupeRows(a.store, a.assign, 15, rule, false);
        const b = build();
        const expected = referenceDedupe(b.store, b.assign, 15, rule);
        expect(Array.from(a.assign)).toEqual(Array.from(expected));
        expect(removed).toBe(expected.filter((g) => g === REMOVED_DEDUPE).length);
        expect(removed).toBeGreaterThan(1000);
      });
    }
  }
});
