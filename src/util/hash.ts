/**
 * SHA-256 of bytes of any size. Node's Hash.update takes at most 2^31 − 1 bytes a call
 * ("data is too long"), and model weights pass that: EASE on a 23,715-item catalogue saves
 * 2.25 GB, so the bytes go in slices.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';

const SLICE = 1 << 30;

/** `slice`: bytes per update (tests pass a small one). */
export function sha256Hex(bytes: Uint8Array, slice = SLICE): string {
  const hash = createHash('sha256');
  for (let at = 0; at < bytes.length; at += slice) hash.update(bytes.subarray(at, Math.min(bytes.length, at + slice)));
  return hash.digest('hex');
}

/** SHA-256 of a file, streamed (a file over 2 GiB cannot be read into one buffer by fs.readFile). */
export async function fileSha256(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
