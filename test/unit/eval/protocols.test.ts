import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  drawSampledNegatives,
  evalFileName,
  negativesPathFor,
  parseProtocol,
  readCandidatesFile,
  readNegativesFile,
  resolveCandidates,
  writeNegativesFile,
} from '../../../src/eval/protocols.js';
import { DataError, UsageError } from '../../../src/util/errors.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rec-protocols-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('parseProtocol', () => {
  it('parses the three protocols and names their eval files', () => {
    expect(parseProtocol('full')).toEqual({ name: 'full' });
    expect(parseProtocol('sampled:100')).toEqual({ name: 'sampled', n: 100 });
    expect(parseProtocol('candidates:data/test.negative')).toEqual({ name: 'candidates', file: 'data/test.negative' });
    expect(parseProtocol('candidates:C:\\x.tsv')).toEqual({ name: 'candidates', file: 'C:\\x.tsv' });
    expect(evalFileName('test', parseProtocol('full'))).toBe('eval-test-full.json');
    expect(evalFileName('test', parseProtocol('sampled:100'))).toBe('eval-test-sampled100.json');
    expect(evalFileName('valid', parseProtocol('candidates:x'))).toBe('eval-valid-candidates.json');
    expect(negativesPathFor('/ck/eval-test-sampled100.json')).toBe('/ck/eval-test-sampled100.negatives.tsv');
  });

  it('rejects bad specs with a usage error naming --protocol', () => {
    for (const bad of ['sampled', 'sampled:0', 'sampled:1e2', 'sampled:-5', 'candidates:', 'ful', 'popular:10']) {
      expect(() => parseProtocol(bad)).toThrow(UsageError);
      expect(() => parseProtocol(bad)).toThrow(/^--protocol: /);
    }
    expect(() => parseProtocol('ful')).toThrow(/unknown protocol "ful"\. Expected full, sampled:N .* or candidates:FILE/);
  });
});

describe('sampled negatives', () => {
  // 5 users over 50 items; every split's items count as interacted.
  const numItems = 50;
  const train = [[0, 1, 2], [3, 4], [5], [], Array.from({ length: 45 }, (_, i) => i)];
  const valid = [[10], [], [6], [7], [45]];
  const test = [[11, 12], [13], [], [8], [46]];
  const interacted = (u: number) => [...train[u], ...valid[u], ...test[u]];
  const draw = (users: number[], seed = 2020, n = 10) => drawSampledNegatives({ users, interacted, numItems, n, seed });

  it('draws n distinct items the user never interacted with in any split', () => {
    const s = draw([0, 1, 2, 3]);
    expect(s.negatives).toHaveLength(4);
    s.negatives.forEach((neg, j) => {
      const u = s.users[j];
      expect(neg).toHaveLength(10);
      expect(new Set(neg).size).toBe(10);
      for (const i of neg) {
        expect(i).toBeGreaterThanOrEqual(0);
        expect(i).toBeLessThan(numItems);
        expect(interacted(u)).not.toContain(i);
      }
    });
  });

  it('is deterministic for a seed, differs for another, and per user independent of the others', () => {
    const a = draw([0, 1, 2, 3]);
    expect(draw([0, 1, 2, 3])).toEqual(a);
    expect(draw([0, 1, 2, 3], 2021).negatives[0]).not.toEqual(a.negatives[0]);
    expect(draw([3, 1]).negatives).toEqual([a.negatives[3], a.negatives[1]]);
  });

  it('gives a user with fewer than n free items all of them', () => {
    // user 4 interacted with 47 of 50 items: only 47, 48, 49 are free
    const s = draw([4]);
    expect([...s.negatives[0]].sort((x, y) => x - y)).toEqual([47, 48, 49]);
  });

  it('saves beside the eval file as raw ids and reloads the identical draw', async () => {
    const s = draw([0, 1, 2, 3]);
    const path = negativesPathFor(join(dir, 'eval-test-sampled10.json'));
    await writeNegativesFile(path, s, { user: (u) => `user${u}`, item: (i) => `item${i}` });
    const lookup = {
      user: (raw: string) => (raw.startsWith('user') ? Number(raw.slice(4)) : undefined),
      item: (raw: string) => (raw.startsWith('item') ? Number(raw.slice(4)) : undefined),
    };
    expect(await readNegativesFile(path, { n: 10, seed: 2020 }, lookup)).toEqual(s);
    // drawn with another n or seed: not reused
    expect(await readNegativesFile(path, { n: 10, seed: 1 }, lookup)).toBeNull();
    expect(await readNegativesFile(path, { n: 20, seed: 2020 }, lookup)).toBeNull();
    // the saved file is itself a valid candidates file
    const asCandidates = await readCandidatesFile(path);
    expect(asCandidates.lists[0]).toEqual({ user: 'user0', items: [...s.negatives[0]].map((i) => `item${i}`), line: 2 });
    // an id the vocabulary no longer has is a data error naming file:line
    const gone = `item${s.negatives[1][0]}`;
    const without = { ...lookup, item: (raw: string) => (raw === gone ? undefined : lookup.item(raw)) };
    await expect(readNegativesFile(path, { n: 10, seed: 2020 }, without)).rejects.toThrow(
      new RegExp(`eval-test-sampled10\\.negatives\\.tsv:3: unknown item "${gone}"`),
    );
  });
});

describe('candidates file', () => {
  it('reads one line per user, skipping comments and blank lines, tolerating CRLF and gzip', async () => {
    const text = '# NCF-style negatives\r\nu1\ti9\ti8\r\n\r\nu2\ti7\r\n';
    const plain = join(dir, 'cands.tsv');
    await writeFile(plain, text);
    const gz = join(dir, 'cands.tsv.gz');
    await writeFile(gz, gzipSync(text));
    for (const p of [plain, gz]) {
      const file = await readCandidatesFile(p);
      expect(file.comments).toEqual(['# NCF-style negatives']);
      expect(file.lists).toEqual([
        { user: 'u1', items: ['i9', 'i8'], line: 2 },
        { user: 'u2', items: ['i7'], line: 4 },
      ]);
    }
  });

  it('reports malformed lines as data errors naming file:line', async () => {
    const cases: [string, RegExp][] = [
      ['u1\ti1\nu2\n', /bad\.tsv:2: expected a raw user id then at least one raw item id/],
      ['u1\ti1\t\ti2\n', /bad\.tsv:1: field 3 is empty/],
      ['u1\ti1\nu1\ti2\n', /bad\.tsv:2: user "u1" already has candidates on line 1/],
    ];
    const path = join(dir, 'bad.tsv');
    for (const [text, message] of cases) {
      await writeFile(path, text);
      await expect(readCandidatesFile(path)).rejects.toThrow(DataError);
      await expect(readCandidatesFile(path)).rejects.toThrow(message);
    }
  });

  it('reads LF, CRLF and CR-only files alike, dropping a BOM only before the first line', async () => {
    const path = join(dir, 'ends.tsv');
    for (const eol of ['\n', '\r\n', '\r']) {
      await writeFile(path, `\uFEFFu1\ti9${eol}u2\ti7\ti6${eol}`);
      const file = await readCandidatesFile(path);
      expect(file.lists).toEqual([
        { user: 'u1', items: ['i9'], line: 1 },
        { user: 'u2', items: ['i7', 'i6'], line: 2 },
      ]);
    }
    // A BOM later in the file is part of an id, not dropped: "\uFEFFu1" and "u1" stay distinct.
    await writeFile(path, 'u1\ti9\n\uFEFFu1\ti8\n');
    expect((await readCandidatesFile(path)).lists.map((l) => l.user)).toEqual(['u1', '\uFEFFu1']);
  });

  it('refuses a line that is not UTF-8, naming file:line, instead of merging ids through U+FFFD', async () => {
    const path = join(dir, 'latin1.tsv');
    // "caf\xe9" and "caf\xe8" (Latin-1) would both decode to "caf\uFFFD" and become one item.
    await writeFile(path, Buffer.concat([Buffer.from('u1\ti1\nu2\tcaf'), Buffer.from([0xe9]), Buffer.from('\tcaf'), Buffer.from([0xe8]), Buffer.from('\n')]));
    await expect(readCandidatesFile(path)).rejects.toThrow(DataError);
    await expect(readCandidatesFile(path)).rejects.toThrow(/latin1\.tsv:2: invalid UTF-8 at byte 7 of the line \(0xe9\)/);
    await writeFile(join(dir, 'latin1.tsv.gz'), gzipSync(Buffer.from([0x75, 0x31, 0x09, 0xff, 0x0d, 0x0a])));
    await expect(readCandidatesFile(join(dir, 'latin1.tsv.gz'))).rejects.toThrow(/latin1\.tsv\.gz:1: invalid UTF-8/);
  });

  it('a corrupt .gz is a data error', async () => {
    const path = join(dir, 'broken.tsv.gz');
    await writeFile(path, gzipSync('u1\ti1\n').subarray(0, 12));
    await expect(readCandidatesFile(path)).rejects.toThrow(DataError);
  });

  it('a missing file is a usage error', async () => {
    await expect(readCandidatesFile(join(dir, 'nope.tsv'))).rejects.toThrow(UsageError);
  });
});

describe('resolveCandidates', () => {
  const vocab = new Map([
    ['a', 0],
    ['b', 1],
    ['c', 2],
    ['d', 3],
  ]);
  const lookup = (raw: string) => vocab.get(raw);

  it('removes relevant items (dropped_positive) and items the model never saw (dropped_unknown)', () => {
    // relevant: a (known), zz (unknown). candidates: b ✓, a → positive, x → unknown, zz → positive, c ✓
    const r = resolveCandidates({ relevant: ['a', 'zz'], candidates: ['b', 'a', 'x', 'zz', 'c'] }, lookup);
    expect(r.skip).toBeNull();
    expect([...r.relevant]).toEqual([0]);
    expect([...r.candidates]).toEqual([1, 2]);
    expect(r.droppedPositive).toBe(2);
    expect(r.droppedUnknown).toBe(1);
  });

  it('skips a user whose relevant items are all unknown to the model (unknown_item)', () => {
    const r = resolveCandidates({ relevant: ['zz', 'yy'], candidates: ['a', 'b'] }, lookup);
    expect(r.skip).toBe('unknown_item');
    expect(r.relevant).toHaveLength(0);
  });
});
