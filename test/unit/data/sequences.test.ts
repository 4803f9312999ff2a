import { describe, expect, it } from 'vitest';
import { historyThresholdOf, rowsAtLeast } from '../../../src/data/sequences.js';
import { itemsOf, userSequences } from '../../../src/data/user-items.js';

const split = (users: number[], items: number[], ts: number[] | null, seq: number[]) => ({
  users: Int32Array.from(users),
  items: Int32Array.from(items),
  ts: ts === null ? null : Float64Array.from(ts),
  seq: Float64Array.from(seq),
});

describe('userSequences', () => {
  it('merges splits per user by (ts, seq)', () => {
    const train = split([0, 0, 1, 1], [10, 11, 20, 21], [1, 5, 2, 3], [0, 1, 2, 3]);
    const valid = split([0, 1], [12, 22], [3, 9], [4, 5]);
    const s = userSequences(3, [train, valid]);
    expect(Array.from(itemsOf(s, 0))).toEqual([10, 12, 11]);
    expect(Array.from(itemsOf(s, 1))).toEqual([20, 21, 22]);
    expect(Array.from(itemsOf(s, 2))).toEqual([]);
  });

  it('breaks equal times by input position and orders by position without time', () => {
    const a = split([0, 0], [1, 2], [7, 7], [5, 2]);
    expect(Array.from(itemsOf(userSequences(1, [a, split([], [], [], [])]), 0))).toEqual([2, 1]);
    const noTime = [split([0], [3], null, [9]), split([0], [4], null, [1])];
    expect(Array.from(itemsOf(userSequences(1, noTime), 0))).toEqual([4, 3]);
  });

  it('keeps one split in its given order', () => {
    const s = userSequences(2, [split([1, 1, 1], [5, 6, 7], [3, 2, 1], [0, 1, 2])]);
    expect(Array.from(itemsOf(s, 1))).toEqual([5, 6, 7]);
    expect(s.offsets[0]).toBe(0);
  });
});

describe('rowsAtLeast (a sequence model trained with train.positive_threshold)', () => {
  const rated = {
    length: 5,
    users: Int32Array.from([0, 0, 0, 1, 1]),
    items: Int32Array.from([1, 2, 3, 4, 5]),
    values: Float32Array.from([5, 2, 4, 1, 3]),
    ts: Float64Array.from([10, 20, 30, 40, 50]),
    seq: Float64Array.from([0, 1, 2, 3, 4]),
    events: null,
    queries: null,
  };

  it('keeps only the rows valued >= the threshold, every column alike, in order', () => {
    const kept = rowsAtLeast(rated, 3);
    expect(kept.length).toBe(3);
    expect([...kept.users]).toEqual([0, 0, 1]);
    expect([...kept.items]).toEqual([1, 3, 5]);
    expect([...kept.values]).toEqual([5, 4, 3]);
    expect([...(kept.ts ?? [])]).toEqual([10, 30, 50]);
    expect([...kept.seq]).toEqual([0, 2, 4]);
    expect(Array.from(itemsOf(userSequences(2, [kept]), 0))).toEqual([1, 3]);
  });

  it('returns the split itself without a threshold', () => {
    expect(rowsAtLeast(rated, null)).toBe(rated);
  });

  it('reads the threshold from a checkpoint config, null when absent', () => {
    expect(historyThresholdOf({ train: { positive_threshold: 4 } })).toBe(4);
    expect(historyThresholdOf({ train: { positive_threshold: null } })).toBeNull();
    expect(historyThresholdOf({ train: {} })).toBeNull();
    expect(historyThresholdOf(undefined)).toBeNull();
  });
});
