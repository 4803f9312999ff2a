import { describe, expect, it } from 'vitest';
import { FLOAT32_MAX, isFiniteFloat32, parseNumberBytes, parseNumberString } from '../../../../src/data/prep/numbers.js';

describe('parseNumberString / parseNumberBytes', () => {
  const good: [string, number][] = [
    ['4', 4],
    [' 4.5 ', 4.5],
    ['-3', -3],
    ['+2', 2],
    ['.5', 0.5],
    ['5.', 5],
    ['1e3', 1000],
    ['2.5E-1', 0.25],
    ['1e39', 1e39],
  ];
  for (const [text, value] of good) {
    it(`reads ${JSON.stringify(text)} as ${value} on both paths`, () => {
      expect(parseNumberString(text)).toBe(value);
      const b = Buffer.from(text);
      expect(parseNumberBytes(b, 0, b.length)).toBe(value);
    });
  }

  const bad = ['0x10', '0X1f', '0b11', '0o7', 'Infinity', '-Infinity', 'NaN', '', ' ', '.', '-', '+', '1e', '1_000', '١٢', '1,5', '5 5'];
  for (const text of bad) {
    it(`rejects ${JSON.stringify(text)} (only plain decimal numbers) on both paths`, () => {
      expect(parseNumberString(text)).toBeNaN();
      const b = Buffer.from(text);
      expect(parseNumberBytes(b, 0, b.length)).toBeNaN();
    });
  }
});

describe('isFiniteFloat32', () => {
  it('is false for values that become ±Inf as float32', () => {
    expect(isFiniteFloat32(1e39)).toBe(false);
    expect(isFiniteFloat32(-1e39)).toBe(false);
    expect(isFiniteFloat32(Number.NaN)).toBe(false);
    expect(isFiniteFloat32(FLOAT32_MAX)).toBe(true);
    expect(isFiniteFloat32(-FLOAT32_MAX)).toBe(true);
    expect(isFiniteFloat32(5)).toBe(true);
  });
});
