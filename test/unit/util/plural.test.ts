import { describe, expect, it } from 'vitest';
import { plural } from '../../../src/util/plural.js';

describe('plural', () => {
  it('one is singular; zero and many are plural; an irregular plural can be given', () => {
    expect(plural(1, 'epoch')).toBe('1 epoch');
    expect(plural(0, 'epoch')).toBe('0 epochs');
    expect(plural(20, 'epoch')).toBe('20 epochs');
    expect(plural(2, 'entry', 'entries')).toBe('2 entries');
    expect(plural(1, 'entry', 'entries')).toBe('1 entry');
  });
});
