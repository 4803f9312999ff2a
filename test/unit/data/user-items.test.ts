import { describe, expect, it } from 'vitest';
import { groupByUser, hasItem, itemsOf, pickRows, rowCount, userItemSets } from '../../../src/data/user-items.js';

const a = { users: Int32Array.from([2, 0, 2, 0]), items: Int32Array.from([7, 5, 3, 5]) };
const b = { users: Int32Array.from([1, 2]), items: Int32Array.from([9, 1]) };
const rows = (c: ReturnType<typeof groupByUser>) => Array.from({ length: rowCount(c) }, (_, j) => [...itemsOf(c, j)]);

describe('user items', () => {
  it('groupByUser keeps input order, parts in turn, duplicates included', () => {
    expect(rows(groupByUser(4, [a, b]))).toEqual([[5, 5], [9], [7, 3, 1], []]);
  });
  it('groupByUser keeps only the rows the filter accepts', () => {
    expect(rows(groupByUser(3, [a, b], (part, r) => part === 0 && r !== 1))).toEqual([[5], [], [7, 3]]);
  });
  it('userItemSets sorts and removes duplicates, and hasItem finds exactly those', () => {
    const sets = userItemSets(4, [a, b]);
    expect(rows(sets)).toEqual([[5], [9], [1, 3, 7], []]);
    expect(hasItem(sets, 2, 3)).toBe(true);
    expect(hasItem(sets, 2, 5)).toBe(false);
    expect(hasItem(sets, 3, 0)).toBe(false);
  });
  it('pickRows takes the rows at the positions, in that order', () => {
    expect(rows(pickRows(groupByUser(4, [a, b]), Int32Array.from([2, 0])))).toEqual([[7, 3, 1], [5, 5]]);
  });
});
