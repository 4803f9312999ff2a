import { describe, expect, it } from 'vitest';
import { Prng } from '../../../src/util/prng.js';

describe('Prng', () => {
  it('is deterministic per (seed, stream) and streams are independent', () => {
    const a = Prng.fromSeed(42, 'x');
    const b = Prng.fromSeed(42, 'x');
    const c = Prng.fromSeed(42, 'y');
    const seqA = Array.from({ length: 5 }, () => a.nextUint32());
    expect(Array.from({ length: 5 }, () => b.nextUint32())).toEqual(seqA);
    expect(Array.from({ length: 5 }, () => c.nextUint32())).not.toEqual(seqA);
  });

  it('restores exactly from a saved state', () => {
    const a = Prng.fromSeed(1);
    a.next();
    const saved = a.state();
    const expected = [a.int(1000), a.next(), a.normal()];
    const b = Prng.fromState(saved);
    expect([b.int(1000), b.next(), b.normal()]).toEqual(expected);
  });

  it('fillUint32 gives the nextUint32 sequence and leaves the same state', () => {
    const a = Prng.fromSeed(7, 'fill');
    const b = Prng.fromSeed(7, 'fill');
    const out = new Uint32Array(1000);
    a.fillUint32(out.subarray(0, 400));
    a.fillUint32(out.subarray(400));
    expect(Array.from(out)).toEqual(Array.from({ length: 1000 }, () => b.nextUint32()));
    expect(a.state()).toEqual(b.state());
  });

  it('int(n) is in range and roughly uniform', () => {
    const rng = Prng.fromSeed(9);
    const counts = new Array(10).fill(0);
    for (let i = 0; i < 100_000; i++) counts[rng.int(10)]++;
    for (const c of counts) expect(Math.abs(c - 10_000)).toBeLessThan(500);
    expect(() => rng.int(0)).toThrow(RangeError);
  });

  it('tfSeed is never 0 (TF.js treats seed 0 as unseeded)', () => {
    const rng = Prng.fromSeed(3);
    for (let i = 0; i < 10_000; i++) expect(rng.tfSeed()).toBeGreaterThan(0);
  });

  it('permutation contains every index once', () => {
    const p = Prng.fromSeed(5).permutation(1000);
    expect(Array.from(p).sort((x, y) => x - y)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
  });
});
