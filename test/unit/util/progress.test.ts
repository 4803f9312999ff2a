import { describe, expect, it } from 'vitest';
import { createRateTracker, formatCount } from '../../../src/util/progress.js';

/** A clock the test moves by hand. */
function clock(): { now: () => number; advance: (ms: number) => void } {
  let t = 1000;
  return { now: () => t, advance: (ms) => (t += ms) };
}

describe('createRateTracker', () => {
  it('has no rate or ETA from a single reading', () => {
    const c = clock();
    expect(createRateTracker(100, c.now)(0)).toEqual({ perSecond: null, etaSeconds: null });
  });

  it('gives units per second and the time left at that rate', () => {
    const c = clock();
    const track = createRateTracker(100, c.now);
    track(0);
    c.advance(2000);
    expect(track(20)).toEqual({ perSecond: 10, etaSeconds: 8 });
    c.advance(3000);
    expect(track(50)).toEqual({ perSecond: 10, etaSeconds: 5 });
  });

  it('counts from the first reading, so a resumed epoch does not look instant', () => {
    const c = clock();
    const track = createRateTracker(1000, c.now);
    track(900);
    c.advance(1000);
    expect(track(910)).toEqual({ perSecond: 10, etaSeconds: 9 });
  });

  it('has a rate but no ETA when the total is unknown', () => {
    const c = clock();
    const track = createRateTracker(0, c.now);
    track(0);
    c.advance(500);
    expect(track(1000)).toEqual({ perSecond: 2000, etaSeconds: null });
  });
});

describe('formatCount', () => {
  it.each([
    [950, '950'],
    [12_345, '12.3k'],
    [204_000, '204k'],
    [4_560_000, '4.56M'],
    [2.5e9, '2.50G'],
  ])('formatCount(%s) = %s', (x, text) => expect(formatCount(x)).toBe(text));
});
