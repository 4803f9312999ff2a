import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { anonymizeId, keyFingerprint } from '../../../src/data/anonymize.js';
import { allUsers, anonymizationKey, readUserIdsFile, resolveItems, resolveUsers, untrainedItemsMessage, userIdNotes, type DatasetFacts, type UserIdsFile } from '../../../src/recommend/source.js';
import { UsageError } from '../../../src/util/errors.js';
import { memoryLogger } from '../../../src/util/log.js';
import { vocabOf } from './helpers.js';

const KEY = Buffer.from('a-secret-key-of-some-length');
const facts = (anonymize: DatasetFacts['anonymize']): DatasetFacts => ({
  dir: '/data/shop',
  seen: { offsets: new Int32Array(1), items: new Int32Array(0) },
  trained: new Uint8Array(0),
  anonymize,
});
const anonymized = facts({ algorithm: 'hmac-sha256', key_fingerprint: keyFingerprint(KEY) });

describe('resolveUsers', () => {
  it('looks ids up as typed, drops duplicates and keeps the given order', () => {
    const q = resolveUsers(['b', 'zz', 'a', 'b'], vocabOf(['a', 'b']), null);
    expect(q.labels).toEqual(['b', 'zz', 'a']);
    expect([...q.indices]).toEqual([1, -1, 0]);
  });

  it('hashes ids with the key but reports them as typed', () => {
    const users = vocabOf([anonymizeId(KEY, 'alice'), anonymizeId(KEY, 'bob')]);
    const q = resolveUsers(['bob', 'carol'], users, KEY);
    expect(q.labels).toEqual(['bob', 'carol']);
    expect([...q.indices]).toEqual([1, -1]);
  });

  it('--all names users by their vocabulary ids, in index order', () => {
    const q = allUsers(vocabOf(['x', 'y', 'z']));
    expect(q.labels).toEqual(['x', 'y', 'z']);
    expect([...q.indices]).toEqual([0, 1, 2]);
  });
});

describe('anonymizationKey', () => {
  it('returns the key when its fingerprint matches the dataset', () => {
    expect(anonymizationKey(anonymized, KEY, true, memoryLogger())).toBe(KEY);
  });

  it('a wrong key is a usage error naming both fingerprints', () => {
    const wrong = Buffer.from('another-key-entirely');
    const call = () => anonymizationKey(anonymized, wrong, true, memoryLogger());
    expect(call).toThrow(UsageError);
    expect(call).toThrow(new RegExp(`${keyFingerprint(wrong)}.*${keyFingerprint(KEY)}`));
    // Also with --all: a wrong key is never silently accepted.
    expect(() => anonymizationKey(anonymized, wrong, false, memoryLogger())).toThrow(UsageError);
  });

  it('ids for an anonymized dataset need the key; --all does not', () => {
    expect(() => anonymizationKey(anonymized, null, true, memoryLogger())).toThrow(/--anonymize-key-file FILE or REC_ANON_KEY/);
    expect(anonymizationKey(anonymized, null, false, memoryLogger())).toBeNull();
  });

  it('a key for a dataset that was not anonymized is not used', () => {
    const log = memoryLogger();
    expect(anonymizationKey(facts(null), KEY, true, log)).toBeNull();
    expect(log.lines.join('\n')).toMatch(/not anonymized/);
  });

  it('without the dataset the key is used unchecked, with a warning', () => {
    const log = memoryLogger();
    expect(anonymizationKey(null, KEY, true, log)).toBe(KEY);
    expect(log.lines.join('\n')).toMatch(/warning: .*cannot be checked/);
    expect(anonymizationKey(null, null, true, memoryLogger())).toBeNull();
  });
});

describe('resolveItems', () => {
  const items = vocabOf(['i1', 'i2', 'i3']);
  it('maps raw item ids to indices', () => {
    expect(resolveItems(['i3', 'i1', 'i3'], items)).toEqual([2, 0]);
  });
  it('names every unknown item in one usage error', () => {
    const call = () => resolveItems(['i1', 'nope', 'gone'], items);
    expect(call).toThrow(UsageError);
    expect(call).toThrow(/--similar-to: unknown items "nope", "gone"/);
  });
  it('suggests the item an unknown id normalises to', () => {
    expect(() => resolveItems(['007'], vocabOf(['7', '8']))).toThrow(/unknown item "007" \(did you mean "7"\?\)/);
  });
});

describe('readUserIdsFile', () => {
  it('reads one id per line, ignoring blank lines, surrounding spaces and CRLF', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rec-users-'));
    const file = join(dir, 'ids.txt');
    writeFileSync(file, 'u1\r\n  u 2 \n\n u3\n');
    expect(await readUserIdsFile(file)).toEqual({ path: file, ids: ['u1', 'u 2', 'u3'], lines: [1, 2, 4], blankLines: 1 });
  });
  it('a missing file is a usage error naming it', async () => {
    await expect(readUserIdsFile('/no/such/ids.txt')).rejects.toThrow(/--users file not found: \/no\/such\/ids\.txt/);
  });
  it('CR-only line ends and a BOM are read like LF; invalid UTF-8 is refused naming file:line, never merged', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rec-users-'));
    const file = join(dir, 'ids.txt');
    writeFileSync(file, '\uFEFFu1\ru2\r\ru3');
    expect(await readUserIdsFile(file)).toEqual({ path: file, ids: ['u1', 'u2', 'u3'], lines: [1, 2, 4], blankLines: 1 });
    writeFileSync(file, Buffer.concat([Buffer.from('u1\nu'), Buffer.from([0xff]), Buffer.from('\n')]));
    await expect(readUserIdsFile(file)).rejects.toThrow(/ids\.txt:2: .*UTF-8/);
  });
});

describe('userIdNotes', () => {
  const file = (ids: string[], blankLines = 0): UserIdsFile => ({ path: 'ids.txt', ids, lines: ids.map((_, i) => i + 1), blankLines });
  const known = (id: string) => /^u\d+$/.test(id);

  it('nothing to say about a clean list', () => {
    expect(userIdNotes(['u1', 'u2'], file(['u1', 'u2']), known)).toEqual([]);
  });

  it('repeated ids: how many were dropped and how many users the output has', () => {
    const notes = userIdNotes(['u1', 'u2', 'u1', 'u1'], null, known);
    expect(notes).toHaveLength(1);
    expect(notes[0]).toMatch(/^2 repeated user ids dropped \("u1" ×3\).*the output has 2 users, not 4\./);
  });

  it('blank lines, a header line and multi-field lines in a --users file', () => {
    const notes = userIdNotes(['user_id', 'u1', 'u2,5'], file(['user_id', 'u1', 'u2,5'], 2), known);
    expect(notes).toEqual([
      '--users ids.txt: 2 blank lines skipped.',
      expect.stringMatching(/line 1, "user_id", looks like a header/),
      expect.stringMatching(/line 3 is "u2,5", which looks like several fields/),
    ]);
  });

  it('a first line that is a known user is not a header', () => {
    expect(userIdNotes(['u1', 'u2'], file(['u1', 'u2']), () => true)).toEqual([]);
  });
});

describe('untrainedItemsMessage', () => {
  it('names the query items without training rows; none, or unknown training rows: null', () => {
    const items = vocabOf(['i1', 'i2', 'i3']);
    expect(untrainedItemsMessage([0, 2], Uint8Array.from([1, 1, 0]), items)).toMatch(/^--similar-to "i3": no training rows/);
    expect(untrainedItemsMessage([0, 1], Uint8Array.from([1, 1, 0]), items)).toBeNull();
    expect(untrainedItemsMessage([2], null, items)).toBeNull();
    // A new product the model scores from its features has a meaningful vector: no warning.
    expect(untrainedItemsMessage([0, 2], Uint8Array.from([1, 1, 0]), items, Uint8Array.from([1, 1, 1]))).toBeNull();
  });
});
