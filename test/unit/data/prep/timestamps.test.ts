import { describe, expect, it } from 'vitest';
import { describeTsMs, parseIsoTs, patternTsParser, plausibleTsMs, unitTsParser } from '../../../../src/data/prep/timestamps.js';
import { Prng } from '../../../../src/util/prng.js';
import { canonicalIntBytes, parseNumberBytes, parseNumberString } from '../../../../src/data/prep/numbers.js';

describe('timestamps', () => {
  it('reads ISO-8601 as UTC unless an offset is given, with fractional seconds', () => {
    expect(parseIsoTs('2020-01-02')).toBe(Date.UTC(2020, 0, 2));
    expect(parseIsoTs('2020-01-02T03:04:05')).toBe(Date.UTC(2020, 0, 2, 3, 4, 5));
    expect(parseIsoTs('2020-01-02 03:04:05.123456')).toBe(Date.UTC(2020, 0, 2, 3, 4, 5, 123));
    expect(parseIsoTs('2020-01-02T03:04:05.5Z')).toBe(Date.UTC(2020, 0, 2, 3, 4, 5, 500));
    expect(parseIsoTs('2020-01-02T03:04:05+02:00')).toBe(Date.UTC(2020, 0, 2, 1, 4, 5));
    expect(parseIsoTs('2020-01-02T03:04-0130')).toBe(Date.UTC(2020, 0, 2, 4, 34));
    for (const bad of ['2020-02-30', '2020-13-01', '2020-01-02T25:00', 'yesterday', '', '2020-1-2']) expect(parseIsoTs(bad)).toBeNaN();
  });

  it('reads unix seconds and milliseconds by unit or magnitude', () => {
    const auto = unitTsParser('auto');
    expect(auto('1700000000')).toBe(1700000000000);
    expect(auto('1700000000123')).toBe(1700000000123);
    expect(auto('1396437466.94')).toBe(1396437466940);
    expect(auto('0')).toBe(0);
    expect(auto('2023-11-14T22:13:20Z')).toBe(1700000000000);
    expect(unitTsParser('s')('1700000000123')).toBe(1700000000123000);
    expect(unitTsParser('ms')('1700000000')).toBe(1700000000);
    expect(unitTsParser('s')('2023-11-14')).toBeNaN();
    expect(unitTsParser('iso')('1700000000')).toBeNaN();
    expect(auto('Infinity')).toBeNaN();
  });

  it('reads strftime-like patterns', () => {
    expect(patternTsParser('%m-%d', 2014)('6-4')).toBe(Date.UTC(2014, 5, 4));
    expect(patternTsParser('%m-%d', 2014)('06-04')).toBe(Date.UTC(2014, 5, 4));
    expect(patternTsParser('%m-%d', 2014)('2-30')).toBeNaN();
    expect(patternTsParser('%d/%m/%Y %H:%M:%S', null)('31/12/2019 23:59:58')).toBe(Date.UTC(2019, 11, 31, 23, 59, 58));
    expect(patternTsParser('%Y%m%d', null)('20160509')).toBe(Date.UTC(2016, 4, 9));
    expect(patternTsParser('%d %b %Y', null)('4 June 2014')).toBe(Date.UTC(2014, 5, 4));
    expect(patternTsParser('%Y-%j', null)('2016-060')).toBe(Date.UTC(2016, 1, 29));
    expect(patternTsParser('%s.%f', null)('1700000000.25')).toBe(1700000000250);
    expect(patternTsParser('%Y-%m-%dT%H:%M%z', null)('2020-01-02T03:04+0100')).toBe(Date.UTC(2020, 0, 2, 2, 4));
    expect(patternTsParser('%m-%d', 2014)('6-4x')).toBeNaN();
    // 15 digits of seconds are beyond 2^53 ms: unreadable rather than rounded.
    expect(patternTsParser('%s', null)('999999999999999')).toBeNaN();
    expect(unitTsParser('auto')('0x5f5e1000')).toBeNaN();
    expect(unitTsParser('auto')('1e400')).toBeNaN();
  });
});

describe('number parsing', () => {
  it('reads bytes exactly like Number() reads the text', () => {
    const samples = ['0', '5', '-3', '4.5', '0.1', '3.14159', '.5', '5.', '-0.0001', '123456789012345', '1234567890123456789', '1e3', ' 4 ', '+2', '0x1A', 'abc', '', '-', '.', 'NaN', 'Infinity', '1.2.3', '99999.999999999999'];
    for (const s of samples) {
      const b = Buffer.from(`#${s}#`);
      const got = parseNumberBytes(b, 1, b.length - 1);
      expect(Object.is(got, parseNumberString(s)), s).toBe(true);
    }
    const rng = Prng.fromSeed(7, 'numbers');
    for (let k = 0; k < 2000; k++) {
      const s = (rng.next() * 10 ** rng.int(8)).toFixed(rng.int(7));
      const b = Buffer.from(s);
      expect(parseNumberBytes(b, 0, b.length)).toBe(Number(s));
    }
  });

  it('keys only canonical integers by number', () => {
    const f = (s: string): number => canonicalIntBytes(Buffer.from(s), 0, s.length);
    expect(f('0')).toBe(0);
    expect(f('42')).toBe(42);
    expect(f('007')).toBe(-1);
    expect(f('-1')).toBe(-1);
    expect(f('1e3')).toBe(-1);
    expect(f('1234567890123456')).toBe(-1);
  });
});

describe('plausible times', () => {
  it('span 1995 to a day after now, and print as ISO without zero milliseconds', () => {
    const now = Date.UTC(2026, 0, 1);
    expect(plausibleTsMs(Date.UTC(1995, 0, 1), now)).toBe(true);
    expect(plausibleTsMs(Date.UTC(1994, 11, 31), now)).toBe(false);
    expect(plausibleTsMs(now + 86_400_000, now)).toBe(true);
    expect(plausibleTsMs(now + 86_400_001, now)).toBe(false);
    expect(describeTsMs(881250949000)).toBe('1997-12-04T15:55:49Z');
    expect(describeTsMs(5)).toBe('1970-01-01T00:00:00.005Z');
    expect(describeTsMs(9e15)).toBe('9000000000000000 ms');
  });
});
