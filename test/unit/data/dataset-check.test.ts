import { tableFromIPC } from 'apache-arrow';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadDataset } from '../../../src/data/dataset.js';
import type { DatasetManifest } from '../../../src/data/manifest.js';
import { DataError } from '../../../src/util/errors.js';
import { prep, tempRoot } from './prep/helpers.js';

const out = tempRoot();
const T0 = 1_700_000_000;

function logFile(dir: string, lines: string[]): string {
  const path = `${dir}-log.csv`;
  writeFileSync(path, `user,item,event,ts\n${lines.join('\n')}\n`);
  return path;
}

/** Three users, three items, six rows, all in train. */
async function small(): Promise<string> {
  const dir = out();
  const log = logFile(dir, [`a,x,view,${T0}`, `a,y,buy,${T0 + 10}`, `b,y,view,${T0 + 20}`, `b,z,view,${T0 + 30}`, `c,x,view,${T0 + 40}`, `c,z,buy,${T0 + 50}`]);
  await prep(dir, [log], { split: 'none', event_weights: 'view=1,buy=5' });
  return dir;
}

const sha = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');
const readManifest = (dir: string): DatasetManifest => JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as DatasetManifest;
const writeManifest = (dir: string, m: unknown): void => writeFileSync(join(dir, 'manifest.json'), JSON.stringify(m));

/** Rewrites one value buffer of an Arrow file in place (the file stays a valid Arrow file). */
function patchArrow(dir: string, file: string, column: string, patch: (values: Int32Array | BigInt64Array | Uint8Array) => void): void {
  const path = join(dir, file);
  const bytes = readFileSync(path);
  const vec = tableFromIPC(bytes).getChild(column);
  if (vec === null) throw new Error(`no column ${column}`);
  const values = vec.data[0].values as Int32Array | BigInt64Array | Uint8Array;
  // The vector is a view of `bytes`, so the patch lands in the file's bytes.
  expect(values.buffer).toBe(bytes.buffer);
  patch(values);
  writeFileSync(path, bytes);
}

/** As a dataset written before manifests recorded file hashes: only the structural checks apply. */
function dropHashes(dir: string): void {
  const m = readManifest(dir) as unknown as Record<string, unknown>;
  delete m.files_sha256;
  writeManifest(dir, m);
}

async function loadError(dir: string): Promise<Error> {
  const err = await loadDataset(dir).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DataError);
  return err as Error;
}

describe('manifest.files_sha256', () => {
  it('records the sha256 of every file prep wrote', async () => {
    const dir = await small();
    const m = readManifest(dir);
    expect(m.files_sha256).toBeDefined();
    for (const [key, file] of Object.entries(m.files)) expect(m.files_sha256?.[key as keyof typeof m.files], file).toBe(sha(join(dir, file)));
    await expect(loadDataset(dir)).resolves.toMatchObject({ users: { ids: ['a', 'b', 'c'] } });
  });

  it('refuses a split file edited after prep, naming it, both hashes and the fix', async () => {
    const dir = await small();
    const expected = readManifest(dir).files_sha256?.train;
    // User index 0 → 1: a valid index, so only the hash can tell.
    patchArrow(dir, 'train.arrow', 'user', (v) => (v[0] = 1));
    const err = await loadError(dir);
    expect(err.message).toContain(`${join(dir, 'train.arrow')} has sha256 ${sha(join(dir, 'train.arrow'))}, but ${join(dir, 'manifest.json')} records ${expected}`);
    expect(err.message).toMatch(/Re-run rec prep/);
  });

  it('refuses an id edited in users.arrow', async () => {
    const dir = await small();
    patchArrow(dir, 'users.arrow', 'id', (v) => (v[0] = 'q'.charCodeAt(0)));
    expect((await loadError(dir)).message).toMatch(/users\.arrow has sha256 [0-9a-f]{64}, but .* records [0-9a-f]{64}/);
  });
});

describe('structural checks (also for datasets without file hashes)', () => {
  it('refuses an out-of-range or negative user index, and an out-of-range item or event', async () => {
    for (const [column, value, what] of [
      ['user', 3, /train\.arrow row \d has user index 3, outside 0\.\.2 \(users\.arrow holds 3 ids\)/],
      ['user', -1, /train\.arrow row \d has user index -1, outside 0\.\.2/],
      ['item', 7, /train\.arrow row \d has item index 7, outside 0\.\.2 \(items\.arrow holds 3 ids\)/],
    ] as const) {
      const dir = await small();
      dropHashes(dir);
      patchArrow(dir, 'train.arrow', column, (v) => (v[1] = value));
      const err = await loadError(dir);
      expect(err.message).toMatch(what);
      expect(err.message).toMatch(/is damaged: .* Re-run rec prep/);
    }
    const dir = await small();
    dropHashes(dir);
    patchArrow(dir, 'train.arrow', 'event', (v) => (v[0] = 9));
    expect((await loadError(dir)).message).toMatch(/train\.arrow row 1 has event index 9, outside 0\.\.1/);
  });

  it('refuses a duplicate or negative seq', async () => {
    const dup = await small();
    dropHashes(dup);
    patchArrow(dup, 'train.arrow', 'seq', (v) => (v[1] = (v as BigInt64Array)[0]));
    expect((await loadError(dup)).message).toMatch(/seq \d is on two rows \(one of them train\.arrow row 2\); every row's seq is unique/);
    const neg = await small();
    dropHashes(neg);
    patchArrow(neg, 'train.arrow', 'seq', (v) => (v[2] = -5n));
    expect((await loadError(neg)).message).toMatch(/train\.arrow row 3 has seq -5, expected a non-negative integer/);
  });

  it('refuses a duplicate id, and counts that do not match the rows', async () => {
    const dup = await small();
    dropHashes(dup);
    patchArrow(dup, 'users.arrow', 'id', (v) => (v[1] = 'a'.charCodeAt(0)));
    expect((await loadError(dup)).message).toMatch(/users\.arrow holds the id "a" twice \(at indices 0 and 1\)/);
    const counts = await small();
    dropHashes(counts);
    patchArrow(counts, 'items.arrow', 'count', (v) => (v[0] = 5));
    expect((await loadError(counts)).message).toMatch(/items\.arrow says id "x" \(index 0\) has 5 rows, but the split files hold 2/);
  });
});

describe('manifest shape', () => {
  it('names the missing or invalid key instead of failing with a TypeError', async () => {
    const dir = await small();
    const good = readManifest(dir) as unknown as Record<string, unknown>;
    for (const key of ['time', 'feedback', 'split', 'rows', 'sources', 'users']) {
      const m = { ...good };
      delete m[key];
      writeManifest(dir, m);
      const err = await loadError(dir);
      expect(err.message, key).toContain(`${join(dir, 'manifest.json')} has no "${key}"`);
      expect(err.message).toMatch(/re-run rec prep/);
    }
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ time: { ...(good.time as object), has_ts: 'yes' } }, /has an invalid "time\.has_ts": "yes"/],
      [{ rows: { ...(good.rows as object), train: -1 } }, /has an invalid "rows\.train": -1/],
      [{ feedback: null }, /has an invalid "feedback": null/],
      [{ files_sha256: { ...(good.files_sha256 as object), train: 'abc' } }, /has an invalid "files_sha256\.train": "abc" \(expected 64 lowercase hex digits\)/],
      [{ sources: [{}] }, /has no "sources\[0\]\.path"/],
    ];
    for (const [patch, message] of cases) {
      writeManifest(dir, { ...good, ...patch });
      expect((await loadError(dir)).message).toMatch(message);
    }
    writeManifest(dir, good);
    await expect(loadDataset(dir)).resolves.toBeDefined();
  });
});

describe('rec prep --append-to a damaged base', () => {
  const night = (dir: string): string => logFile(`${dir}-night`, [`d,x,view,${T0 + 100}`, `a,z,view,${T0 + 110}`]);

  it('refuses a base whose files changed, and writes nothing', async () => {
    const base = await small();
    patchArrow(base, 'users.arrow', 'id', (v) => (v[0] = 'q'.charCodeAt(0)));
    const next = out();
    await expect(prep(next, [night(next)], {}, { appendTo: base })).rejects.toThrow(/users\.arrow has sha256 .* Re-run rec prep/);
    expect(existsSync(next)).toBe(false);
  });

  it('refuses an out-of-range index or a duplicate seq in a base without hashes, instead of moving or dropping a row', async () => {
    const range = await small();
    dropHashes(range);
    patchArrow(range, 'train.arrow', 'user', (v) => (v[0] = 3));
    const a = out();
    await expect(prep(a, [night(a)], {}, { appendTo: range })).rejects.toThrow(/has user index 3, outside 0\.\.2/);
    const dup = await small();
    dropHashes(dup);
    patchArrow(dup, 'train.arrow', 'seq', (v) => (v[1] = (v as BigInt64Array)[0]));
    const b = out();
    await expect(prep(b, [night(b)], {}, { appendTo: dup })).rejects.toThrow(/every row's seq is unique/);
    expect(existsSync(a) || existsSync(b)).toBe(false);
  });

  it('names the key a base manifest lacks (no TypeError)', async () => {
    const base = await small();
    const m = readManifest(base) as unknown as Record<string, unknown>;
    delete m.feedback;
    writeManifest(base, m);
    const next = out();
    await expect(prep(next, [night(next)], {}, { appendTo: base })).rejects.toThrow(/manifest\.json has no "feedback"/);
  });
});
