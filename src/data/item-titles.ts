/**
 * The catalogue's display titles (docs/datasets.md, `item_titles.arrow`): one text feature kept verbatim (trimmed,
 * capped at TITLE_MAX_CHARS characters) beside its hashed buckets, so `rec search` and `rec recommend` can print what
 * an item is, not only its id. Row i is item i of items.arrow; a checkpoint keeps a copy in vocab/, so serving reads
 * it without the dataset.
 */
import { Field, makeData, RecordBatch, Schema, Struct, tableFromIPC, Utf8 } from 'apache-arrow';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DataError } from '../util/errors.js';
import { verifyFileHash } from './dataset-check.js';
import { TITLE_FILES } from './manifest.js';
import { writeBatches, type WrittenHashes } from './prep/arrow-write.js';

export const ITEM_TITLES_FILE = TITLE_FILES.item_titles;
export const TITLE_COLUMN = 'title';
/** Characters (code points) a title keeps: enough for any product name, not a whole description. */
export const TITLE_MAX_CHARS = 200;
const BATCH_ROWS = 1 << 16;

/**
 * The display feature: the text feature named `title`, else the first text feature (in the order declared or
 * guessed), else none. `preferred` (an --append-to base's choice) wins when it is still a text feature.
 */
export function pickTitleFeature(features: readonly { name: string; kind: string }[], preferred: string | null = null): string | null {
  const text = features.filter((f) => f.kind === 'text');
  if (preferred !== null && text.some((f) => f.name === preferred)) return preferred;
  return (text.find((f) => f.name === 'title') ?? text[0])?.name ?? null;
}

/** A raw value as shown: trimmed, list elements joined by a space, capped at TITLE_MAX_CHARS code points; null when empty. */
export function displayTitle(v: string | readonly string[] | null | undefined): string | null {
  if (v === null || v === undefined) return null;
  const s = (typeof v === 'string' ? v : v.join(' ')).trim();
  if (s === '') return null;
  if (s.length <= TITLE_MAX_CHARS) return s;
  // By code points, so a cut never splits a surrogate pair.
  const cut = Array.from(s).slice(0, TITLE_MAX_CHARS).join('');
  return cut.trimEnd();
}

/** Titles by item as UTF-8 bytes (prep/title-bytes.ts): item i's byteLength, −1 for none, and its bytes. */
export interface TitleSource {
  readonly size: number;
  byteLength(i: number): number;
  copyTo(i: number, out: Uint8Array, at: number): void;
}

/** Titles given as strings, as a TitleSource (each encoded as Buffer.from would). */
export function stringTitles(titles: readonly (string | null)[]): TitleSource {
  return {
    size: titles.length,
    byteLength: (i) => {
      const t = titles[i];
      return t === null ? -1 : Buffer.byteLength(t, 'utf8');
    },
    copyTo: (i, out, at) => {
      const t = titles[i];
      if (t !== null) Buffer.from(out.buffer, out.byteOffset, out.byteLength).write(t, at, 'utf8');
    },
  };
}

function batch(titles: TitleSource, from: number, to: number): RecordBatch {
  const n = to - from;
  const offsets = new Int32Array(n + 1);
  const bitmap = new Uint8Array((n + 7) >> 3);
  let nulls = 0;
  let total = 0;
  for (let i = 0; i < n; i++) {
    const len = titles.byteLength(from + i);
    if (len < 0) nulls++;
    else {
      bitmap[i >> 3] |= 1 << (i & 7);
      total += len;
    }
    offsets[i + 1] = total;
  }
  const bytes = new Uint8Array(total);
  for (let i = 0; i < n; i++) if (offsets[i + 1] > offsets[i]) titles.copyTo(from + i, bytes, offsets[i]);
  const field = new Field(TITLE_COLUMN, new Utf8(), true);
  const data = makeData({ type: new Utf8(), length: n, nullCount: nulls, nullBitmap: bitmap, valueOffsets: offsets, data: bytes });
  const struct = makeData({ type: new Struct([field]), length: n, nullCount: 0, children: [data] });
  return new RecordBatch(new Schema([field]), struct);
}

/** Writes the titles (one per item, none where absent) as an Arrow IPC file at `path`; `hashes` records its SHA-256 (writeBatches). */
export async function writeItemTitles(path: string, source: TitleSource | readonly (string | null)[], hashes?: WrittenHashes): Promise<void> {
  const titles = 'copyTo' in source ? source : stringTitles(source);
  function* batches(): Generator<RecordBatch> {
    if (titles.size === 0) yield batch(titles, 0, 0);
    for (let at = 0; at < titles.size; at += BATCH_ROWS) yield batch(titles, at, Math.min(titles.size, at + BATCH_ROWS));
  }
  await writeBatches(path, batches(), { hashes, hashThread: titles.size > BATCH_ROWS });
}

/**
 * The titles in `dir` (a dataset folder, or a checkpoint's vocab/), or null when it has none (a dataset prepped
 * without a catalogue or before titles were kept). `sha256`: the hash the dataset's manifest records.
 */
export async function readItemTitles(dir: string, sha256?: string): Promise<(string | null)[] | null> {
  const path = join(dir, ITEM_TITLES_FILE);
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new DataError(`Cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}.`, { cause: error });
  }
  if (sha256 !== undefined) verifyFileHash(dir, ITEM_TITLES_FILE, bytes, sha256);
  let column;
  try {
    column = tableFromIPC(bytes).getChild(TITLE_COLUMN);
  } catch (error) {
    throw new DataError(`${path} is not a readable Arrow IPC file (${(error as Error).message}). Re-run rec prep.`, { cause: error });
  }
  if (column === null) throw new DataError(`${path} has no column "${TITLE_COLUMN}". Re-run rec prep.`);
  // Straight from each chunk's offsets and bytes: Vector.get decodes row by row, several times slower.
  const out = new Array<string | null>(column.length);
  let k = 0;
  for (const d of column.data) {
    const offsets = d.valueOffsets as Int32Array;
    const bytes = d.values as Uint8Array;
    const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let i = 0; i < d.length; i++) out[k++] = d.getValid(i) ? buf.toString('utf8', offsets[d.offset + i], offsets[d.offset + i + 1]) : null;
  }
  return out;
}
