import { describe, expect, it } from 'vitest';
import { dropOf } from '../../../../src/data/prep/dedupe.js';
import { RowStore } from '../../../../src/data/prep/store.js';
import { DataError } from '../../../../src/util/errors.js';

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
