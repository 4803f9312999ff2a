import { describe, expect, it } from 'vitest';
import { parseCatalogueNumber } from '../../../src/data/price.js';

describe('parseCatalogueNumber', () => {
  it.each([
    ['12.5', 12.5],
    ['  12.5  ', 12.5],
    ['0', 0],
    ['-0', 0],
    ['$1,299.00', 1299],
    ['1.299,00 €', 1299],
    ['1,299', 1299],
    ['1,299,000', 1299000],
    ['1.299.000', 1299000],
    ['1.299', 1.299],
    ['1,5', 1.5],
    ['12,99', 12.99],
    ['0,125', 0.125],
    ['1234,567', 1234.567],
    ['1,2345', 1.2345],
    ['1 299,00 €', 1299],
    ['1\u00a0299,00\u00a0€', 1299],
    ["CHF 1'299.50", 1299.5],
    ['1e3', 1000],
    ['2.5E-2', 0.025],
    ['.5', 0.5],
    ['12.', 12],
    ['US$ 5', 5],
    ['R$ 10,50', 10.5],
    ['EUR 12', 12],
    ['12EUR', 12],
    ['£3.99', 3.99],
    ['¥1,000', 1000],
    ['-$5.25', -5.25],
    ['$-5.25', -5.25],
    ['+7', 7],
    ['−3', -3],
    ['１２３．４', 123.4],
    ['"19.99"', 19.99],
  ])('reads %j as %d', (raw, expected) => {
    expect(parseCatalogueNumber(raw)).toEqual({ ok: true, value: expected });
  });

  it.each(['', '   ', '""', 'N/A', 'n/a', 'NA', 'n.a.', 'NaN', 'null', 'None', '-', '—', '?'])(
    'reads %j as empty',
    (raw) => {
      expect(parseCatalogueNumber(raw)).toEqual({ ok: false, reason: 'empty' });
    },
  );

  it('reads null and undefined as empty', () => {
    expect(parseCatalogueNumber(null)).toEqual({ ok: false, reason: 'empty' });
    expect(parseCatalogueNumber(undefined)).toEqual({ ok: false, reason: 'empty' });
  });

  it.each(['abc', '$', '12 kg', '10-20', '1,29,9', '1.2.3,4,5', '1,299.00.00', 'Infinity', '(5)', '1e', '--5', '1,2,3', '1e400'])(
    'refuses %j as not_a_number',
    (raw) => {
      expect(parseCatalogueNumber(raw)).toEqual({ ok: false, reason: 'not_a_number' });
    },
  );

  it('refuses a non-string with a RangeError', () => {
    expect(() => parseCatalogueNumber(5 as unknown as string)).toThrow(/raw must be a string; got number/);
  });
});

describe('parseCatalogueNumber plain decimals', () => {
  it('reads `12.99` and friends as the general rule does (a leading space takes the general path)', () => {
    for (const v of ['12.99', '007', '1299', '0.5', '0', '1.000', '123456789012345.123456789012345', '999999999999999']) {
      expect(parseCatalogueNumber(v)).toEqual(parseCatalogueNumber(` ${v}`));
    }
  });
});
