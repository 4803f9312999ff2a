import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { readWeightFile } from '../../../src/io/model-files.js';
import { fileSha256, sha256Hex } from '../../../src/util/hash.js';
import { Prng } from '../../../src/util/prng.js';
import { tempRoot } from '../train/helpers.js';

const dir = tempRoot('rec-hash-test-');

function bytes(n: number): Uint8Array {
  const rng = Prng.fromSeed(3, 'hash');
  return Uint8Array.from({ length: n }, () => Math.floor(rng.next() * 256));
}

describe('sha256 and reads of weights in slices (files over 2 GiB go this way)', () => {
  it('hashes in slices to the one-shot hash, whatever the slice', () => {
    const b = bytes(10_001);
    const oneShot = createHash('sha256').update(b).digest('hex');
    for (const slice of [1, 7, 4096, 10_001, 1 << 30]) expect(sha256Hex(b, slice)).toBe(oneShot);
  });

  it('reads a file in slices to its bytes, and streams its hash', async () => {
    const b = bytes(9_999);
    const path = dir('weights.bin');
    writeFileSync(path, b);
    for (const slice of [1, 1000, 1 << 30]) expect(Buffer.compare(await readWeightFile(path, slice), Buffer.from(b))).toBe(0);
    expect(await fileSha256(path)).toBe(sha256Hex(b));
  });
});
