import { describe, expect, it } from 'vitest';
import { carveValidFromTrain } from '../../../src/data/carve.js';
import { makeDataset } from '../eval/helpers.js';

const users = Array.from({ length: 50 }, (_, u) => `u${u}`);
const items = Array.from({ length: 40 }, (_, i) => `i${i}`);
const rows = Array.from({ length: 2000 }, (_, r) => [users[r % 50], items[(r * 7) % 40], (r % 5) + 1] as const);
const ds = makeDataset({ users, items, train: rows, test: [['u0', 'i1']] });

describe('carveValidFromTrain', () => {
  it('moves a seeded share of train rows to valid, losing none and leaving test alone', () => {
    const carved = carveValidFromTrain(ds, 0.1, 7);
    expect(carved.train.length + carved.valid.length).toBe(ds.train.length);
    expect(carved.valid.length).toBeGreaterThan(150);
    expect(carved.valid.length).toBeLessThan(250);
    expect(carved.test).toBe(ds.test);
    // Every original row is in exactly one of the two, with its columns intact.
    const key = (s: typeof ds.train, r: number) => `${s.seq[r]}:${s.users[r]}:${s.items[r]}:${s.values[r]}`;
    const seen = new Set<string>();
    for (const s of [carved.train, carved.valid]) for (let r = 0; r < s.length; r++) seen.add(key(s, r));
    for (let r = 0; r < ds.train.length; r++) expect(seen.has(key(ds.train, r))).toBe(true);
  });

  it('is deterministic for a seed and differs across seeds', () => {
    const a = carveValidFromTrain(ds, 0.2, 1);
    const b = carveValidFromTrain(ds, 0.2, 1);
    const c = carveValidFromTrain(ds, 0.2, 2);
    expect([...b.valid.seq]).toEqual([...a.valid.seq]);
    expect([...c.valid.seq]).not.toEqual([...a.valid.seq]);
  });

  it('refuses a dataset that already has a valid split', () => {
    expect(() => carveValidFromTrain(carveValidFromTrain(ds, 0.1, 1), 0.1, 1)).toThrow(/already has a valid split/);
  });
});
