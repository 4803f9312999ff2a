import { describe, expect, it } from 'vitest';
import { anonymizeId } from '../../../src/data/anonymize.js';
import { createSuggester, looksLikeHeader, normalizeId, unknownUsers, unknownUsersMessage } from '../../../src/recommend/unknown.js';
import { vocabOf } from './helpers.js';

const queries = (labels: string[], indices: number[]) => ({ labels, indices: Int32Array.from(indices) });

describe('normalizeId', () => {
  it.each([
    ['001', '1'],
    ['1.0', '1'],
    ['00', '0'],
    ['  42 ', '42'],
    ['"7"', '7'],
    ["'0012.00'", '12'],
    ['-03', '-3'],
    ['007a', '007a'],
    ['1.5', '1.5'],
    ['u1', 'u1'],
  ])('%j → %j', (typed, expected) => {
    expect(normalizeId(typed)).toBe(expected);
  });
});

describe('unknownUsers', () => {
  it('counts unknown ids, names the first five, and suggests the vocabulary id they normalise to', () => {
    const vocab = vocabOf(['1', '2', '0042', 'alice']);
    const labels = ['1', '001', '1.0', 'x1', '"2"', '42', 'x2', 'x3'];
    const report = unknownUsers(queries(labels, labels.map((l) => vocab.lookup(l))), vocab, null);
    expect(report.count).toBe(7);
    expect(report.first).toEqual(['001', '1.0', 'x1', '"2"', '42']);
    expect(report.did_you_mean).toEqual({ '001': '1', '1.0': '1', '"2"': '2', '42': '0042' });
    const message = unknownUsersMessage(report, labels.length, vocab.ids.length) ?? '';
    expect(message).toMatch(/^7 of 8 user ids are not in the checkpoint's vocabulary \(4 users\)/);
    expect(message).toContain('"001" (did you mean "1"?), "1.0" (did you mean "1"?), "x1", "\\"2\\"" (did you mean "2"?)');
    expect(message).toMatch(/and 2 more\. Ids are matched exactly as typed/);
  });

  it('every id known: count 0 and no message', () => {
    const vocab = vocabOf(['a']);
    const report = unknownUsers(queries(['a'], [0]), vocab, null);
    expect(report).toEqual({ count: 0, first: [], did_you_mean: {} });
    expect(unknownUsersMessage(report, 1, 1)).toBeNull();
  });

  it('under anonymisation suggests the normalised raw id, never a hash', () => {
    const key = Buffer.from('some-key-for-the-test');
    const vocab = vocabOf([anonymizeId(key, '1'), anonymizeId(key, 'bob')]);
    const report = unknownUsers(queries(['001', 'carol'], [-1, -1]), vocab, key);
    expect(report.did_you_mean).toEqual({ '001': '1' });
    expect(createSuggester(vocab, key)('1')).toBeNull();
  });
});

describe('looksLikeHeader', () => {
  it.each([['user_id', true], ['userId', true], ['"User"', true], ['customer', true], ['u1', false], ['42', false], ['alice', false], ['david', false], ['User ID', true]])('%j → %s', (id, expected) => {
    expect(looksLikeHeader(id)).toBe(expected);
  });
});
