import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readItemTitles, stringTitles, writeItemTitles } from '../../../../src/data/item-titles.js';
import { TitleBytes } from '../../../../src/data/prep/title-bytes.js';

const dir = mkdtempSync(join(tmpdir(), 'rec-title-bytes-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('TitleBytes', () => {
  it('keeps each title as its UTF-8 bytes, none as -1, and replaces a title in place of its index', () => {
    const t = new TitleBytes();
    const titles = ['Nike Air Max', null, '苹果手机壳 透明', '', 'caf\u00e9 \ud83d\ude00', 'lone \ud83d surrogate'];
    for (const s of titles) t.push(s);
    expect(t.size).toBe(titles.length);
    titles.forEach((s, k) => {
      expect(t.byteLength(k)).toBe(s === null ? -1 : Buffer.byteLength(s, 'utf8'));
      const out = new Uint8Array(t.byteLength(k) + 2);
      t.copyTo(k, out, 1);
      expect(Buffer.from(out.subarray(1, out.length - 1)).equals(Buffer.from(s ?? '', 'utf8'))).toBe(true);
    });
    expect(t.get(0)).toBe('Nike Air Max');
    expect(t.get(1)).toBeNull();
    // A lone surrogate is stored as U+FFFD, as Buffer.from writes it (and as item_titles.arrow held it before).
    expect(t.get(5)).toBe('lone \ufffd surrogate');
    t.set(0, 'Nike Air Max 2024');
    t.set(2, null);
    t.set(1, 'now titled');
    expect([0, 1, 2, 3].map((k) => t.get(k))).toEqual(['Nike Air Max 2024', 'now titled', null, '']);
  });

  it('spans many chunks and grows past its first index arrays without losing a title', () => {
    const t = new TitleBytes();
    const n = 30_000;
    // 30,000 titles of up to ~300 bytes: a few 4 MiB chunks, and a title far longer than the cap for good measure.
    const title = (i: number): string => `${i} ${'x\u00e9\u624b'.repeat(i % 50)}`;
    for (let i = 0; i < n; i++) t.push(title(i));
    t.push('y'.repeat(3 << 20));
    for (let i = 0; i < n; i += 997) expect(t.get(i)).toBe(title(i));
    expect(t.get(n)?.length).toBe(3 << 20);
  });

  it('writes the same item_titles.arrow as the titles given as strings', async () => {
    const titles = ['a', null, '手机', '', 'b'.repeat(300)];
    const t = new TitleBytes();
    for (const s of titles) t.push(s);
    await writeItemTitles(join(dir, 'from-bytes.arrow'), t);
    await writeItemTitles(join(dir, 'from-strings.arrow'), stringTitles(titles));
    expect(readFileSync(join(dir, 'from-bytes.arrow')).equals(readFileSync(join(dir, 'from-strings.arrow')))).toBe(true);
    // readItemTitles reads a folder's item_titles.arrow.
    await writeItemTitles(join(dir, 'item_titles.arrow'), t);
    expect(existsSync(join(dir, 'item_titles.arrow'))).toBe(true);
    expect(await readItemTitles(dir)).toEqual(titles);
  });
});
