import { describe, expect, it } from 'vitest';
import { buildSequences, sequenceOf } from '../../../src/data/sequences.js';

const split = (users: number[], items: number[], ts: number[] | null, seq: number[]) => ({
  users: Int32Array.from(users),
  items: Int32Array.from(items),
  ts: ts === null ? null : Float64Array.from(ts),
  seq: Float64Array.from(seq),
});

describe('buildSequences', () => {
  it('merges splits per user by (ts, seq)', () => {
    const train = split([0, 0, 1, 1], [10, 11, 20, 21], [1, 5, 2, 3], [0, 1, 2, 3]);
    const valid = split([0, 1], [12, 22], [3, 9], [4, 5]);
    const s = buildSequences(3, [train, valid]);
    expect(Array.from(sequenceOf(s, 0))).toEqual([10, 12, 11]);
    expect(Array.from(sequenceOf(s, 1))).toEqual([20, 21, 22]);
    expect(Array.from(sequenceOf(s, 2))).toEqual([]);
  });

  it('breaks equal times by input position and orders by position without time', () => {
    const a = split([0, 0], [1, 2], [7, 7], [5, 2]);
    expect(Array.from(sequenceOf(buildSequences(1, [a, split([], [], [], [])]), 0))).toEqual([2, 1]);
    const noTime = [split([0], [3], null, [9]), split([0], [4], null, [1])];
    expect(Array.from(sequenceOf(buildSequences(1, noTime), 0))).toEqual([4, 3]);
  });

  it('keeps one split in its given order', () => {
    const s = buildSequences(2, [split([1, 1, 1], [5, 6, 7], [3, 2, 1], [0, 1, 2])]);
    expect(Array.from(sequenceOf(s, 1))).toEqual([5, 6, 7]);
    expect(s.offsets[0]).toBe(0);
  });
});
