import { Field, Int32, makeData, RecordBatch, Schema, Struct, tableFromIPC } from 'apache-arrow';
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { writeBatches, type WrittenHashes } from '../../../../src/data/prep/arrow-write.js';
import { fileSha256 } from '../../../../src/util/hash.js';
import { tempRoot } from './helpers.js';

const out = tempRoot();
const schema = new Schema([new Field('x', new Int32(), false)]);

/** `batches` batches of `rows` rows, x = batch × rows + row, each filled into one of `buffers` arrays reused in turn. */
function* refilled(batches: number, rows: number, buffers: number): Generator<RecordBatch> {
  const arrays = Array.from({ length: buffers }, () => new Int32Array(rows));
  for (let b = 0; b < batches; b++) {
    const a = arrays[b % buffers];
    for (let i = 0; i < rows; i++) a[i] = b * rows + i;
    yield new RecordBatch(schema, makeData({ type: new Struct(schema.fields), length: rows, children: [makeData({ type: new Int32(), length: rows, data: a })] }));
  }
}

function column(path: string): number[] {
  return Array.from(tableFromIPC(readFileSync(path)).getChild('x')?.toArray() as Int32Array);
}

describe('writeBatches', () => {
  const rows = 50_000;
  const expected = Array.from({ length: 6 * rows }, (_, i) => i);

  it('records the SHA-256 of the bytes it wrote, the file hashed afterwards', async () => {
    const hashes: WrittenHashes = new Map();
    const path = `${out()}.arrow`;
    await writeBatches(path, refilled(6, rows, 1), { hashes });
    expect(column(path)).toEqual(expected);
    expect(hashes.get(path)).toBe(await fileSha256(path));
  });

  it('records the same SHA-256 with the hashing on the hash thread, several files at once, past its buffers', async () => {
    const hashes: WrittenHashes = new Map();
    // 6 batches of 200K int32 rows: 4.8 MB a file, more than the thread's buffers hold, so copies wait for them.
    const paths = [`${out()}.arrow`, `${out()}.arrow`, `${out()}.arrow`];
    await Promise.all(paths.map((path) => writeBatches(path, refilled(6, 200_000, 1), { hashes, hashThread: true })));
    for (const path of paths) expect(hashes.get(path)).toBe(await fileSha256(path));
    const empty = `${out()}.arrow`;
    await writeBatches(empty, refilled(0, 1, 1), { hashes, hashThread: true });
    expect(hashes.get(empty)).toBe(await fileSha256(empty));
  });

  it('with `digests`, records each digest once the caller awaits them, files written one after the other meanwhile', async () => {
    const hashes: WrittenHashes = new Map();
    const digests: Promise<void>[] = [];
    const paths = [`${out()}.arrow`, `${out()}.arrow`];
    for (const path of paths) await writeBatches(path, refilled(6, 200_000, 1), { hashes, hashThread: true, digests });
    expect(digests).toHaveLength(2);
    await Promise.all(digests);
    for (const path of paths) expect(hashes.get(path)).toBe(await fileSha256(path));
  });

  it('with lookahead, a generator refilling every other batch\'s arrays writes the same file', async () => {
    const hashes: WrittenHashes = new Map();
    const [plain, ahead] = [`${out()}.arrow`, `${out()}.arrow`];
    await writeBatches(plain, refilled(6, rows, 1), { hashes });
    await writeBatches(ahead, refilled(6, rows, 2), { hashes, lookahead: true });
    expect(column(ahead)).toEqual(expected);
    expect(readFileSync(ahead).equals(readFileSync(plain))).toBe(true);
    expect(hashes.get(ahead)).toBe(hashes.get(plain));
  });

  it('records no hash for a write that failed', async () => {
    const hashes: WrittenHashes = new Map();
    const path = `${out()}.arrow`;
    function* failing(): Generator<RecordBatch> {
      yield* refilled(1, 10, 1);
      throw new Error('gather failed');
    }
    await expect(writeBatches(path, failing(), { hashes, lookahead: true })).rejects.toThrow('gather failed');
    expect(hashes.has(path)).toBe(false);
  });

  // Writes of a batch are in flight together: a failed one must fail the call, not leave it waiting for the rest.
  it.skipIf(!existsSync('/dev/full'))('fails, with no hash, when the disk refuses a write (/dev/full), with or without lookahead', async () => {
    for (const lookahead of [false, true]) {
      const hashes: WrittenHashes = new Map();
      await expect(writeBatches('/dev/full', refilled(6, rows, 2), { hashes, lookahead })).rejects.toThrow(/ENOSPC/);
      expect(hashes.size).toBe(0);
    }
  });
});
