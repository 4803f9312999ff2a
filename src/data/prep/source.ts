/**
 * Streams one input file's (decompressed) bytes, hashing the bytes on disk (`sha256`, recorded in
 * the manifest's sources) and the bytes read from them (`content_sha256`: the same for a plain
 * file, the decompressed text for a .gz), and reporting them to the progress bar as they are read.
 * gzip stores a timestamp and the compressor's settings, so the same night compressed twice has
 * two file hashes but one content hash: --append-to tells a night it already holds by the latter.
 */
import { createHash, webcrypto } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { Readable, pipeline } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { DataError, UsageError } from '../../util/errors.js';
import { sniffWideEncoding, wideEncodingMessage } from '../../util/lines.js';

export interface SourceDigest {
  bytes: number;
  sha256: string;
  content_sha256: string;
}

/** Size of an input file; UsageError (exit 2) naming the path when it is missing or not a file. */
export async function inputSize(path: string, what: string): Promise<number> {
  try {
    const s = await stat(path);
    if (!s.isFile()) throw new UsageError(`${what} ${path} is not a file.`);
    return s.size;
  } catch (error) {
    if (error instanceof UsageError) throw error;
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new UsageError(`${what} ${path} cannot be read (${code}). Expected an existing CSV, TSV or JSONL file (optionally .gz), a Parquet or Arrow IPC file, or a folder of them.`);
  }
}

const READ_CHUNK = 1 << 20;

/**
 * Yields the file's content chunks (gunzipped when `gzip`). `digest` is filled once the stream has
 * been read to the end. `onBytes` receives the count of raw bytes read after every chunk.
 */
export async function* readChunks(path: string, gzip: boolean, digest: SourceDigest, onBytes: (n: number) => void): AsyncGenerator<Buffer> {
  const hash = createHash('sha256');
  const raw = createReadStream(path, { highWaterMark: READ_CHUNK });
  async function* rawChunks(): AsyncGenerator<Buffer> {
    for await (const chunk of raw) {
      const b = chunk as Buffer;
      hash.update(b);
      digest.bytes += b.length;
      onBytes(b.length);
      yield b;
    }
  }
  const content = gzip ? createHash('sha256') : null;
  let gunzip: ReturnType<typeof createGunzip> | null = null;
  try {
    if (!gzip) {
      yield* rawChunks();
    } else {
      gunzip = createGunzip({ chunkSize: 1 << 18 });
      pipeline(Readable.from(rawChunks()), gunzip, () => undefined);
      for await (const chunk of gunzip) {
        content?.update(chunk as Buffer);
        yield chunk as Buffer;
      }
    }
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (gzip && typeof code === 'string' && code.startsWith('Z_')) {
      throw new DataError(`${path}: not a valid gzip stream (${(error as Error).message}).`, { cause: error });
    }
    throw new DataError(`${path}: read failed (${code ?? (error as Error).message}).`, { cause: error });
  } finally {
    raw.destroy();
    gunzip?.destroy();
  }
  digest.sha256 = hash.digest('hex');
  digest.content_sha256 = content !== null ? content.digest('hex') : digest.sha256;
}

/** Files up to this size are hashed whole off the main thread (fileDigest); larger ones stream through it. */
const WHOLE_FILE_DIGEST = 32 << 20;

/**
 * sourceDigest of an input that is not gzipped (Parquet, Arrow IPC), read and hashed on libuv's
 * threads (WebCrypto) when it is at most WHOLE_FILE_DIGEST bytes, so that prep's main thread reads
 * the file's rows meanwhile instead of hashing it afterwards.
 */
export async function fileDigest(path: string): Promise<SourceDigest> {
  let bytes: Buffer;
  try {
    if ((await stat(path)).size > WHOLE_FILE_DIGEST) return await sourceDigest(path, false);
    bytes = await readFile(path);
  } catch (error) {
    if (error instanceof DataError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    throw new DataError(`${path}: read failed (${code ?? (error as Error).message}).`, { cause: error });
  }
  const sha256 = Buffer.from(await webcrypto.subtle.digest('SHA-256', bytes)).toString('hex');
  return { bytes: bytes.length, sha256, content_sha256: sha256 };
}

/** Both hashes of an input (as recorded in manifest sources), without parsing it. */
export async function sourceDigest(path: string, gzip: boolean): Promise<SourceDigest> {
  const digest: SourceDigest = { bytes: 0, sha256: '', content_sha256: '' };
  for await (const chunk of readChunks(path, gzip, digest, () => undefined)) void chunk;
  return digest;
}

/**
 * DataError (exit 1) for a log still in UTF-16/32 after decoding (encoding.ts): read as UTF-8 its ids would
 * carry NUL bytes and its numbers fail to parse, so no row of it can be trusted.
 */
export function refuseWideEncoding(head: Buffer, path: string, gzip: boolean): void {
  const found = sniffWideEncoding(head);
  if (found === null) return;
  const utf16 = found.encoding.startsWith('UTF-16') ? ` Or pass --encoding ${found.encoding === 'UTF-16BE' ? 'utf-16be' : 'utf-16'} (config prep.encoding) to read it as it is.` : '';
  throw new DataError(`${wideEncodingMessage(path, found, gzip)}${utf16} rec prep reads UTF-8 (with or without a BOM), UTF-16, latin1 and cp1252 (--encoding).`);
}
