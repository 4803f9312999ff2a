import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { openSequential } from '../../../src/io/sequential-file.js';
import { Prng } from '../../../src/util/prng.js';

const root = mkdtempSync(join(tmpdir(), 'rec-seq-test-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
afterEach(() => {
  delete process.env.REC_DIRECT_IO;
});

/** Chunks of random sizes (a few bytes to 3 MB, crossing the 4 MB staging blocks) holding random bytes. */
function chunks(seed: number, total: number): Uint8Array[] {
  const rng = Prng.fromSeed(seed);
  const rand = (): number => rng.nextUint32() / 2 ** 32;
  const out: Uint8Array[] = [];
  let left = total;
  while (left > 0) {
    const n = Math.min(left, rand() < 0.3 ? 1 + Math.floor(rand() * 100) : 1 + Math.floor(rand() * 3_000_000));
    const c = new Uint8Array(n);
    for (let i = 0; i < n; i++) c[i] = Math.floor(rand() * 256);
    out.push(c);
    left -= n;
  }
  return out;
}

/** Writes the chunks a few at a time, as writeBatches does, and returns what the file must hold. */
async function writeAll(path: string, parts: Uint8Array[], directFrom?: number): Promise<{ want: Buffer; direct: boolean }> {
  const file = await openSequential(path, directFrom === undefined ? {} : { directFrom });
  for (let i = 0; i < parts.length; i += 3) await file.write(parts.slice(i, i + 3));
  await file.close();
  return { want: Buffer.concat(parts), direct: file.direct };
}

describe('openSequential', () => {
  it('writes the bytes in order, the part past directFrom around the page cache (Linux), and truncates the padded last block', async () => {
    for (const [seed, total] of [
      [1, 11_000_001],
      [2, 8192 + 4096 * 1024],
      [3, 9000],
    ] as const) {
      const path = join(root, `direct-${seed}`);
      const { want, direct } = await writeAll(path, chunks(seed, total), 8192);
      expect(statSync(path).size).toBe(total);
      expect(readFileSync(path).equals(want)).toBe(true);
      // The test folder's file system (ext4, xfs, btrfs, tmpfs since Linux 6.6) takes O_DIRECT.
      if (process.platform === 'linux') expect(direct).toBe(true);
    }
  });

  it('writes a file smaller than directFrom, and any file under REC_DIRECT_IO=0, through the page cache', async () => {
    const small = await writeAll(join(root, 'small'), chunks(4, 5000), 8192);
    expect(small.direct).toBe(false);
    expect(readFileSync(join(root, 'small')).equals(small.want)).toBe(true);
    process.env.REC_DIRECT_IO = '0';
    const off = await writeAll(join(root, 'off'), chunks(5, 3_000_000), 8192);
    expect(off.direct).toBe(false);
    expect(readFileSync(join(root, 'off')).equals(off.want)).toBe(true);
  });

  it('refuses a directFrom that is not a multiple of 4096', async () => {
    await expect(openSequential(join(root, 'odd'), { directFrom: 1000 })).rejects.toThrow(/multiple of 4096/);
  });

  it('closes after a failure without writing more', async () => {
    const path = join(root, 'aborted');
    const file = await openSequential(path, { directFrom: 8192 });
    await file.write(chunks(6, 20_000));
    await file.abort();
    // What was written stays (the caller removes its temporary); nothing past it.
    expect(statSync(path).size).toBeLessThanOrEqual(20_000);
  });
});
