import { afterEach, describe, expect, it } from 'vitest';
import { envCount } from '../../../src/util/numbers.js';

const NAME = 'REC_TEST_ENV_COUNT';
afterEach(() => {
  delete process.env[NAME];
});

describe('envCount', () => {
  it('reads a whole number of 0 or more, and falls back when the variable is unset or anything else', () => {
    expect(envCount(NAME, 6)).toBe(6);
    for (const [text, want] of [
      ['0', 0],
      ['2', 2],
      [' 12 ', 12],
      ['', 6],
      ['-1', 6],
      ['1.5', 6],
      ['0x10', 6],
      ['two', 6],
    ] as const) {
      process.env[NAME] = text;
      expect(envCount(NAME, 6)).toBe(want);
    }
  });
});
