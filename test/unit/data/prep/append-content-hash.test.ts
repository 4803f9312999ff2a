/**
 * --append-to knows a night it already holds by the sha256 of what was read from the log, not of
 * the file: gzip stores a timestamp, so the same night compressed twice has two file hashes.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { DatasetManifest } from '../../../../src/data/manifest.js';
import { fileDigest, sourceDigest } from '../../../../src/data/prep/source.js';
import { expectAccounting, prep, tempRoot } from './helpers.js';

const out = tempRoot();
const logDir = mkdtempSync(join(tmpdir(), 'rec-append-gz-'));
const T0 = 1_700_000_000;
const sha = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');
const check = (cond: boolean, what: string): void => expect(cond, what).toBe(true);

/** `text` gzipped with `mtime` (seconds) in the header, as gzip(1) stores the file's mtime. */
function gzipWithMtime(text: string, mtime: number): Buffer {
  const gz = gzipSync(text);
  gz.writeUInt32LE(mtime, 4);
  return gz;
}

function write(name: string, data: string | Buffer): string {
  const path = join(logDir, name);
  writeFileSync(path, data);
  return path;
}

const history = write('history.csv', `user,item,ts\n${['a,x', 'a,y', 'b,y', 'b,z'].map((p, i) => `${p},${T0 + i}`).join('\n')}\n`);
const nightText = `user,item,ts\n${['a,z', 'c,x', 'c,w'].map((p, i) => `${p},${T0 + 86_400 + i}`).join('\n')}\n`;

describe('--append-to: the already-appended check hashes the content read', () => {
  it('records both hashes for each source: the file on disk and the decompressed content', async () => {
    const gz = write('night-1.csv.gz', gzipWithMtime(nightText, 1_000));
    const d = await prep(out(), [gz], { split: 'none' });
    expect(d.manifest.sources[0]).toMatchObject({ sha256: sha(readFileSync(gz)), content_sha256: sha(nightText), gzip: true });
    const plain = await prep(out(), [history], { split: 'none' });
    expect(plain.manifest.sources[0]).toMatchObject({ sha256: sha(readFileSync(history)), content_sha256: sha(readFileSync(history)) });
    expect(await sourceDigest(gz, true)).toEqual({ bytes: readFileSync(gz).length, sha256: sha(readFileSync(gz)), content_sha256: sha(nightText) });
    // A columnar input's, hashed whole off the main thread: the same record.
    expect(await fileDigest(history)).toEqual(await sourceDigest(history, false));
    await expect(fileDigest(join(logDir, 'missing.parquet'))).rejects.toThrow(/missing\.parquet: read failed \(ENOENT\)/);
  });

  it('the same night gzipped again (another header mtime) is already present: no row is added twice', async () => {
    const first = write('night-a.csv.gz', gzipWithMtime(nightText, 1_700_000_100));
    const again = write('night-b.csv.gz', gzipWithMtime(nightText, 1_700_000_200));
    expect(sha(readFileSync(first))).not.toBe(sha(readFileSync(again)));
    const base = await prep(out(), [history], { split: 'none', dedupe: 'none' });
    const once = await prep(out(), [first], {}, { appendTo: base.out });
    expect(once.manifest.append?.rows).toMatchObject({ base: 4, added: 3 });
    const twice = await prep(out(), [again], {}, { appendTo: once.out });
    expect(twice.manifest.append).toMatchObject({
      sources_added: [],
      sources_already_present: [{ path: again, sha256: sha(readFileSync(again)), content_sha256: sha(nightText), rows_read: 3 }],
      rows: { base: 7, read_from_logs: 0, added: 0 },
    });
    expect(twice.manifest.rows).toMatchObject({ read: 7, train: 7, deduplicated: 0 });
    expect(twice.logs.join('\n')).toMatch(/night-b\.csv\.gz is already in the base dataset \(as .*night-a\.csv\.gz\) \(same content, compressed differently\)/);
    expectAccounting(twice.manifest, check);
    // The uncompressed night is the same content too, and so is a copy given twice in one run.
    const plain = write('night.csv', nightText);
    const three = await prep(out(), [plain], {}, { appendTo: once.out });
    expect(three.manifest.append?.sources_already_present.map((s) => s.path)).toEqual([plain]);
    const both = await prep(out(), [first, again], {}, { appendTo: base.out });
    expect(both.manifest.append).toMatchObject({ sources_added: [first], rows: { added: 3 } });
    expect(both.manifest.append?.sources_already_present.map((s) => s.path)).toEqual([again]);
  });

  it('a base from an older rec (sources without content_sha256) still knows its logs by their file hash', async () => {
    const gz = write('night-old.csv.gz', gzipWithMtime(nightText, 5));
    const base = await prep(out(), [history, gz], { split: 'none', dedupe: 'none' });
    const path = join(base.out, 'manifest.json');
    const m = JSON.parse(readFileSync(path, 'utf8')) as DatasetManifest;
    for (const s of m.sources) delete s.content_sha256;
    writeFileSync(path, JSON.stringify(m));
    // The same files: known by sha256; the plain log's content hash is its file hash.
    const same = await prep(out(), [gz, write('history-copy.csv', readFileSync(history))], {}, { appendTo: base.out });
    expect(same.manifest.append).toMatchObject({ sources_added: [], rows: { added: 0 } });
    expect(same.manifest.rows.train).toBe(7);
  });
});
