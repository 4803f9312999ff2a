import { describe, expect, it } from 'vitest';
import { formatDuration, formatNumber } from '../../../src/util/format.js';

describe('formatNumber', () => {
  it('plain: 4 significant figures, integers whole', () => {
    expect(formatNumber(0.123456)).toBe('0.1235');
    expect(formatNumber(12)).toBe('12');
    expect(formatNumber(1234.5678)).toBe('1235');
    expect(formatNumber(387214)).toBe('387214');
  });
  it('compact: 4 significant digits, no trailing zeros, exponent outside [1e-3, 1e5)', () => {
    expect(formatNumber(0.066652873, 'compact')).toBe('0.06665');
    expect(formatNumber(2, 'compact')).toBe('2');
    expect(formatNumber(387214, 'compact')).toBe('3.87e+5');
    expect(formatNumber(0.0001, 'compact')).toBe('1e-4');
    expect(formatNumber(0, 'compact')).toBe('0');
  });
});

describe('formatDuration', () => {
  it.each([
    [0, '0s'],
    [42.4, '42s'],
    [59.6, '1m00s'],
    [185, '3m05s'],
    [7620, '2h07m'],
  ])('coarse %s = %s', (s, text) => expect(formatDuration(s)).toBe(text));
  it.each([
    [14.84, '14.8s'],
    [142.3, '2m22s'],
    [3723, '1h02m03s'],
  ])('fine %s = %s', (s, text) => expect(formatDuration(s, 'fine')).toBe(text));
});
