import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { DataError, UsageError } from '../../../../src/util/errors.js';
import { decodeChunks, parseEncoding, singleByteToUtf8, type DecodeStats } from '../../../../src/data/prep/encoding.js';
import { prep, rejects, rows, tempRoot } from './helpers.js';

// Issue 22 item 6: --encoding for logs and --items files; a byte-order mark names its encoding.
const out = tempRoot();
const dir = mkdtempSync(join(tmpdir(), 'rec-encoding-option-'));
const COLS = { columns: 'user=0,item=1,rating=2' };

function file(name: string, bytes: Buffer): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

/** `u,ITEM,r` lines whose items carry `°`, `®`, `€` in the given encoding. */
const lines = ['u1,caf\u00e9 50\u00b0,5', 'u2,brand\u00ae,4', 'u3,euro \u20ac,3', 'u4,plain,2'];
const latin1Bytes = Buffer.from(`${lines.slice(0, 2).join('\n')}\n${lines[3]}\n`, 'latin1');
const cp1252Bytes = Buffer.concat([Buffer.from(`${lines[0]}\n${lines[1]}\n`, 'latin1'), Buffer.from([0x75, 0x33, 0x2c, 0x65, 0x75, 0x72, 0x6f, 0x20, 0x80, 0x2c, 0x33, 0x0a]), Buffer.from(`${lines[3]}\n`)]);

async function itemIds(path: string, overrides: Record<string, unknown>): Promise<string[]> {
  const p = await prep(out(), [path], { ...COLS, split: 'none', ...overrides });
  return rows(p.out, 'items.arrow').map((r) => String(r.id));
}

describe('--encoding', () => {
  it('parses the names and the utf-8,X fallback; anything else is a usage error naming the flag', () => {
    expect(parseEncoding(null)).toEqual({ primary: 'utf-8', fallback: null, given: false });
    expect(parseEncoding('Latin-1')).toEqual({ primary: 'latin1', fallback: null, given: true });
    expect(parseEncoding('windows-1252').primary).toBe('cp1252');
    expect(parseEncoding('utf-8,cp1252')).toEqual({ primary: 'utf-8', fallback: 'cp1252', given: true });
    expect(() => parseEncoding('ebcdic')).toThrow(UsageError);
    expect(() => parseEncoding('cp1252,utf-8')).toThrow('--encoding (config prep.encoding) is invalid');
  });

  it('cp1252 maps 0x80-0x9F as Windows does and marks its undefined bytes invalid (0xFF)', () => {
    expect(singleByteToUtf8(Buffer.from([0x80, 0x99, 0xb0, 0x41]), true).toString('utf8')).toBe('\u20ac\u2122\u00b0A');
    expect(singleByteToUtf8(Buffer.from([0x80]), false).toString('utf8')).toBe('\u0080');
    expect([...singleByteToUtf8(Buffer.from([0x81]), true)]).toEqual([0xff]);
  });

  it('utf-8 (the default) rejects the Latin-1 lines as invalid_utf8; latin1 reads them whole', async () => {
    const path = file('latin1.csv', latin1Bytes);
    await expect(prep(out(), [path], { ...COLS, split: 'none' })).rejects.toThrow('pass --encoding latin1, cp1252, utf-16 or utf-8,cp1252');
    const p = await prep(out(), [path], { ...COLS, split: 'none', max_rejects: 5 });
    expect(p.result.rows.rejected).toBe(2);
    expect(rejects(p.out).map((r) => r.reason)).toEqual(['invalid_utf8', 'invalid_utf8']);
    expect(await itemIds(path, { encoding: 'latin1' })).toEqual(['caf\u00e9 50\u00b0', 'brand\u00ae', 'plain']);
    const m = (await prep(out(), [path], { ...COLS, split: 'none', encoding: 'latin1' })).manifest;
    expect(m.sources[0].encoding).toBe('latin1');
  });

  it('cp1252 reads € from 0x80; a byte cp1252 leaves undefined rejects its line as invalid_encoding naming cp1252', async () => {
    expect(await itemIds(file('cp1252.csv', cp1252Bytes), { encoding: 'cp1252' })).toEqual(['caf\u00e9 50\u00b0', 'brand\u00ae', 'euro \u20ac', 'plain']);
    const bad = file('cp1252-bad.csv', Buffer.concat([Buffer.from('u1,a,5\nu2,b'), Buffer.from([0x81]), Buffer.from(',4\n')]));
    const p = await prep(out(), [bad], { ...COLS, split: 'none', encoding: 'cp1252', max_rejects: 1 });
    expect(p.result.rows.accepted).toBe(1);
    const r = rejects(p.out);
    expect(r).toHaveLength(1);
    expect(r[0]).toMatchObject({ line: 2, reason: 'invalid_encoding' });
    expect(r[0].detail).toContain('cp1252');
  });

  it('utf-8,cp1252 keeps UTF-8 lines as UTF-8 and reads only the invalid ones as cp1252, counted per source', async () => {
    const mixed = Buffer.concat([Buffer.from('u0,na\u00efve \u00b0C,1\n', 'utf8'), cp1252Bytes]);
    const path = file('mixed.csv', mixed);
    const p = await prep(out(), [path], { ...COLS, split: 'none', encoding: 'utf-8,cp1252' });
    expect(rows(p.out, 'items.arrow').map((r) => r.id)).toEqual(['na\u00efve \u00b0C', 'caf\u00e9 50\u00b0', 'brand\u00ae', 'euro \u20ac', 'plain']);
    expect(p.manifest.sources[0]).toMatchObject({ encoding: 'utf-8,cp1252', fallback_lines: 3 });
    // The same file as cp1252 throughout turns the UTF-8 line's two-byte characters into two characters each.
    const ids = await itemIds(path, { encoding: 'cp1252' });
    expect(ids[0]).toBe('na\u00c3\u00afve \u00c2\u00b0C');
  });

  it('reads a gzipped latin1 log', async () => {
    const path = file('latin1.csv.gz', gzipSync(latin1Bytes));
    expect(await itemIds(path, { encoding: 'latin1' })).toEqual(['caf\u00e9 50\u00b0', 'brand\u00ae', 'plain']);
  });

  it('UTF-16 with a byte-order mark is read without --encoding (LE and BE); without one, --encoding utf-16 reads it', async () => {
    const text = lines.join('\n') + '\n';
    const le = Buffer.from(text, 'utf16le');
    const be = Buffer.from(le).swap16();
    const want = ['caf\u00e9 50\u00b0', 'brand\u00ae', 'euro \u20ac', 'plain'];
    expect(await itemIds(file('le-bom.csv', Buffer.concat([Buffer.from([0xff, 0xfe]), le])), {})).toEqual(want);
    expect(await itemIds(file('be-bom.csv', Buffer.concat([Buffer.from([0xfe, 0xff]), be])), {})).toEqual(want);
    expect(await itemIds(file('le.csv', le), { encoding: 'utf-16' })).toEqual(want);
    expect(await itemIds(file('be.csv', be), { encoding: 'utf-16' })).toEqual(want);
  });

  it('a byte-order mark contradicting a declared encoding is a DataError naming the file; nothing is written', async () => {
    const path = file('bom-utf8.csv', Buffer.from('\ufeffu1,a,5\n', 'utf8'));
    const run = prep(out(), [path], { ...COLS, encoding: 'latin1' });
    await expect(run).rejects.toThrow(DataError);
    await expect(run).rejects.toThrow(`${path} starts with a UTF-8 byte-order mark, but --encoding (config prep.encoding) declares latin1`);
    const le = file('bom-16.csv', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('u1,a,5\n', 'utf16le')]));
    await expect(prep(out(), [le], { ...COLS, encoding: 'utf-8' })).rejects.toThrow('UTF-16LE byte-order mark');
  });

  it('an unpaired UTF-16 surrogate rejects its line as invalid_encoding; a surrogate pair cut between chunks decodes whole', async () => {
    const text = Buffer.from('u1,\u{1f600}x,5\nu2,', 'utf16le');
    const lone = Buffer.from([0x00, 0xd8]);
    const path = file('lone.csv', Buffer.concat([Buffer.from([0xff, 0xfe]), text, lone, Buffer.from(',4\n', 'utf16le')]));
    const p = await prep(out(), [path], { ...COLS, split: 'none', max_rejects: 1 });
    expect(rows(p.out, 'items.arrow').map((r) => r.id)).toEqual(['\u{1f600}x']);
    expect(rejects(p.out)[0]).toMatchObject({ line: 2, reason: 'invalid_encoding' });
    // Chunks of 1..7 bytes: every cut position of the pair and of the odd byte.
    const whole = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('a\u{1f600}b\n', 'utf16le')]);
    for (let size = 1; size <= 7; size++) {
      async function* chunks(): AsyncGenerator<Buffer> {
        for (let i = 0; i < whole.length; i += size) yield whole.subarray(i, i + size);
      }
      const stats: DecodeStats = { encoding: '', bom: false, fallback_lines: 0 };
      const parts: Buffer[] = [];
      for await (const c of decodeChunks(chunks(), parseEncoding(null), 'x', stats)) parts.push(c);
      expect(Buffer.concat(parts).toString('utf8')).toBe('a\u{1f600}b\n');
      expect(stats).toMatchObject({ encoding: 'utf-16le', bom: true });
    }
  });

  it('a latin1 catalogue (--items) is decoded with the log, its titles featurised from the right characters', async () => {
    const log = file('cat-log.csv', Buffer.from('u1,i1,5\nu2,i2,4\n'));
    const cat = file('cat.csv', Buffer.from('item,title\ni1,50\u00b0 angle\ni2,Brand\u00ae drill\n', 'latin1'));
    const p = await prep(out(), [log], { ...COLS, split: 'none', encoding: 'latin1', items: [cat], item_features: 'title:text' });
    expect(p.manifest.catalogue?.rows.rejected).toBe(0);
    expect(p.manifest.catalogue?.files[0]).toMatchObject({ encoding: 'latin1' });
    const utf8 = await prep(out(), [log], { ...COLS, split: 'none', items: [cat], item_features: 'title:text', max_rejects: 10 });
    expect(utf8.manifest.catalogue?.rejected_by_reason).toEqual({ invalid_utf8: 2 });
  });
});
