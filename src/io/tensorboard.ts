/**
 * TensorBoard event files written by rec itself, so `tensorboard --logdir checkpoints/` works on
 * every engine (tfjs-node's summary writer is absent on most installs). A file is a sequence of
 * TFRecords (tensorflow/core/lib/io/record_writer.cc):
 *
 *   uint64 length (LE) | uint32 masked_crc32c(length bytes) | data | uint32 masked_crc32c(data)
 *
 * and each record's data is an `Event` (tensorflow/core/util/event.proto): the first carries
 * `file_version: "brain.Event:2"`, the others `wall_time`, `step` and a `Summary` of
 * `{tag, simple_value}` values (tensorflow/core/framework/summary.proto).
 *
 * Why no library (npm checked 2026-11): protobufjs (8.8.1, well kept, Node >= 12) would need the
 * .proto schemas vendored or a reflection definition plus its `long` dependency, for three messages
 * of a double, a varint, a string, a float and two nested fields, about 40 lines by hand. For
 * CRC32C, @node-rs/crc32 ships per-platform native binaries and sse4_crc32 builds with node-gyp at
 * install; fast-crc32c (2.0.0) has a pure-JS fallback but pulls sse4_crc32 as an optional native
 * build; crc-32 is plain CRC-32, which TensorBoard rejects. The table-driven CRC32C below is
 * checked against crc32c("123456789") = 0xE3069283, RFC 3720's vector and a bitwise reference.
 *
 * Event files are append-only logs that TensorBoard tails while they grow, so they are appended to
 * rather than written atomically; a record torn by a kill is ignored by readLoggedPoints, a resumed
 * run cuts it off (repairEventFiles) and writes to a new file. TensorBoard merges every file of a
 * folder into one run, so a (tag, step) already in the folder is never written again: the writer
 * starts from the (tag, step)s found in the existing files' complete records, and a point lost
 * with a torn record can be written again (src/train/run.ts re-emits them on resume).
 */
import { appendFile, readdir, readFile, truncate } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { ensureDir, isPidAlive } from './atomic.js';
import { outputFsError } from './output-dir.js';
import { DataError } from '../util/errors.js';

/** The folder inside a checkpoint (one TensorBoard run per checkpoint). */
export const TB_DIR = 'tb';
const FILE_PREFIX = 'events.out.tfevents.';
const FILE_VERSION = 'brain.Event:2';

// ---------------------------------------------------------------------------------------------
// CRC32C (Castagnoli, reflected polynomial 0x82F63B78), as TFRecord uses.

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

export function crc32c(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) crc = CRC_TABLE[(crc ^ bytes[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** TFRecord stores CRCs masked (crc32c.h: rotate right 15, add a constant), since CRCs of data that embeds CRCs are weak. */
export function maskedCrc32c(bytes: Uint8Array): number {
  const crc = crc32c(bytes);
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + 0xa282ead8) >>> 0;
}

export function tfRecord(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length + 4);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(data.length), true);
  view.setUint32(8, maskedCrc32c(out.subarray(0, 8)), true);
  out.set(data, 12);
  view.setUint32(12 + data.length, maskedCrc32c(data), true);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Protobuf encoding of Event / Summary / Summary.Value: wire types 0 (varint), 1 (64-bit),
// 2 (length-delimited) and 5 (32-bit).

function varint(value: number): number[] {
  const out: number[] = [];
  // Division rather than bit shifts: steps may pass 2^31; non-negative integers below 2^53 only.
  let v = value;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return out;
}

function lengthDelimited(field: number, payload: Uint8Array): number[] {
  return [...varint((field << 3) | 2), ...varint(payload.length), ...payload];
}

export interface Scalar {
  tag: string;
  value: number;
}

function encodeValue(s: Scalar): Uint8Array {
  const simple = new Uint8Array(4);
  new DataView(simple.buffer).setFloat32(0, s.value, true);
  return Uint8Array.from([...lengthDelimited(1, new TextEncoder().encode(s.tag)), (2 << 3) | 5, ...simple]);
}

export interface EventFields {
  wallTime: number;
  step?: number;
  fileVersion?: string;
  scalars?: readonly Scalar[];
}

export function encodeEvent(e: EventFields): Uint8Array {
  const wall = new Uint8Array(8);
  new DataView(wall.buffer).setFloat64(0, e.wallTime, true);
  const bytes: number[] = [(1 << 3) | 1, ...wall];
  if (e.step !== undefined) bytes.push((2 << 3) | 0, ...varint(e.step));
  if (e.fileVersion !== undefined) bytes.push(...lengthDelimited(3, new TextEncoder().encode(e.fileVersion)));
  if (e.scalars && e.scalars.length > 0) {
    const summary = e.scalars.flatMap((s) => lengthDelimited(1, encodeValue(s)));
    bytes.push(...lengthDelimited(5, Uint8Array.from(summary)));
  }
  return Uint8Array.from(bytes);
}

// ---------------------------------------------------------------------------------------------
// Reading back, only as far as the writer needs: the steps already logged per tag.

interface Field {
  field: number;
  wire: number;
  /** Varint value for wire type 0; otherwise the bytes. */
  varint: number;
  bytes: Uint8Array;
}

function readVarint(buf: Uint8Array, at: number): [number, number] {
  let value = 0;
  let scale = 1;
  let i = at;
  for (;;) {
    if (i >= buf.length) throw new RangeError('truncated varint');
    const b = buf[i++];
    value += (b & 0x7f) * scale;
    if ((b & 0x80) === 0) return [value, i];
    scale *= 0x80;
  }
}

function fields(buf: Uint8Array): Field[] {
  const out: Field[] = [];
  let i = 0;
  while (i < buf.length) {
    const [key, next] = readVarint(buf, i);
    i = next;
    const field = Math.floor(key / 8);
    const wire = key % 8;
    if (wire === 0) {
      const [v, after] = readVarint(buf, i);
      out.push({ field, wire, varint: v, bytes: new Uint8Array(0) });
      i = after;
    } else {
      let len: number;
      if (wire === 1) len = 8;
      else if (wire === 5) len = 4;
      else if (wire === 2) [len, i] = readVarint(buf, i);
      else throw new RangeError(`unsupported wire type ${wire}`);
      if (i + len > buf.length) throw new RangeError('truncated field');
      out.push({ field, wire, varint: 0, bytes: buf.subarray(i, i + len) });
      i += len;
    }
  }
  return out;
}

/**
 * The records of one event file, stopping at the first torn or corrupt one (a killed writer's
 * last), and the byte offset where the complete records end.
 */
function scanRecords(buf: Uint8Array): { records: Uint8Array[]; end: number } {
  const out: Uint8Array[] = [];
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let i = 0;
  while (i + 12 <= buf.length) {
    const len = Number(view.getBigUint64(i, true));
    if (view.getUint32(i + 8, true) !== maskedCrc32c(buf.subarray(i, i + 8))) break;
    if (i + 12 + len + 4 > buf.length) break;
    const data = buf.subarray(i + 12, i + 12 + len);
    if (view.getUint32(i + 12 + len, true) !== maskedCrc32c(data)) break;
    out.push(data);
    i += 12 + len + 4;
  }
  return { records: out, end: i };
}

async function eventFileNames(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).filter((n) => n.startsWith(FILE_PREFIX));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw outputFsError(dir, error);
  }
}

async function readEventBytes(dir: string, name: string): Promise<Uint8Array> {
  try {
    return await readFile(join(dir, name));
  } catch (error) {
    throw new DataError(`Cannot read TensorBoard event file ${join(dir, name)}: ${(error as NodeJS.ErrnoException).code ?? String(error)}. Expected a readable file written by rec; move it out of ${dir} to start a fresh curve.`, { cause: error });
  }
}

/** The (tag → steps) of one record; none for a record with a valid CRC that rec did not write. */
function recordPoints(data: Uint8Array): [string, number][] {
  try {
    const event = fields(data);
    const step = event.find((f) => f.field === 2 && f.wire === 0)?.varint ?? 0;
    const out: [string, number][] = [];
    for (const summary of event.filter((f) => f.field === 5 && f.wire === 2)) {
      for (const value of fields(summary.bytes).filter((f) => f.field === 1 && f.wire === 2)) {
        const tag = fields(value.bytes).find((f) => f.field === 1 && f.wire === 2);
        if (tag) out.push([new TextDecoder().decode(tag.bytes), step]);
      }
    }
    return out;
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    return [];
  }
}

/** Every step logged per tag in a folder's complete records; empty when the folder is absent. */
export async function readLoggedPoints(dir: string): Promise<Map<string, Set<number>>> {
  const points = new Map<string, Set<number>>();
  for (const name of await eventFileNames(dir)) {
    for (const data of scanRecords(await readEventBytes(dir, name)).records) {
      for (const [tag, step] of recordPoints(data)) {
        let steps = points.get(tag);
        if (steps === undefined) points.set(tag, (steps = new Set()));
        steps.add(step);
      }
    }
  }
  return points;
}

/** The highest step logged per tag in a folder's event files; empty when the folder is absent. */
export async function readLoggedSteps(dir: string): Promise<Map<string, number>> {
  const points = await readLoggedPoints(dir);
  return new Map([...points].map(([tag, steps]) => [tag, Math.max(...steps)]));
}

export interface TornEventFile {
  file: string;
  /** Complete records kept (the file_version record included). */
  records: number;
  /** Bytes cut from the end: the torn record and anything after it. */
  bytes: number;
}

/** The writer's pid from `events.out.tfevents.<seconds>.<host>.<pid>[.<n>]` when it is this host's; else null. */
function localWriterPid(name: string, host: string): number | null {
  const rest = name.slice(FILE_PREFIX.length);
  const m = /^\d+\.(.+)$/.exec(rest);
  if (m === null || !m[1].startsWith(`${host}.`)) return null;
  const pid = /^(\d+)(?:\.\d+)?$/.exec(m[1].slice(host.length + 1));
  return pid === null ? null : Number(pid[1]);
}

/**
 * Cuts each event file of `dir` at its first torn or corrupt record. A writer killed mid-append
 * leaves a torn last record, which TensorBoard reads as the file's end, so whatever is appended
 * later (or stood after a damaged record) would never be shown; a file still being written by a
 * live process of this host is left alone. For a resumed run, which holds the checkpoint's lock.
 */
export async function repairEventFiles(dir: string, options: { host?: string } = {}): Promise<TornEventFile[]> {
  const host = sanitizeHost(options.host ?? hostname());
  const torn: TornEventFile[] = [];
  for (const name of await eventFileNames(dir)) {
    const pid = localWriterPid(name, host);
    if (pid !== null && pid !== process.pid && isPidAlive(pid)) continue;
    const bytes = await readEventBytes(dir, name);
    const { records, end } = scanRecords(bytes);
    if (end === bytes.length) continue;
    const file = join(dir, name);
    try {
      await truncate(file, end);
    } catch (error) {
      throw outputFsError(file, error);
    }
    torn.push({ file, records: records.length, bytes: bytes.length - end });
  }
  return torn;
}

function sanitizeHost(host: string): string {
  return host.replace(/[^A-Za-z0-9._-]/g, '_');
}

// ---------------------------------------------------------------------------------------------

export interface EventWriter {
  /** Appends the values at `step`, leaving out tags already logged at this very step (in any file of the folder). */
  scalars(step: number, values: Readonly<Record<string, number>>): Promise<void>;
  /** The file written to; null until the first value. */
  readonly file: string | null;
}

export interface EventWriterOptions {
  now?: () => number;
  host?: string;
}

/**
 * A writer for `dir` (created on the first value). Each writer opens its own file, named as
 * TensorBoard's writers name them (`events.out.tfevents.<seconds>.<host>.<pid>`, the pid and a
 * counter keeping two writers of one second apart).
 */
export async function openEventWriter(dir: string, options: EventWriterOptions = {}): Promise<EventWriter> {
  const now = options.now ?? (() => Date.now() / 1000);
  const host = sanitizeHost(options.host ?? hostname());
  const logged = await readLoggedPoints(dir);
  let file: string | null = null;
  const open = async (): Promise<string> => {
    try {
      await ensureDir(dir);
      const existing = new Set(await readdir(dir));
      const base = `${FILE_PREFIX}${Math.floor(now())}.${host}.${process.pid}`;
      let name = base;
      for (let n = 1; existing.has(name); n++) name = `${base}.${n}`;
      const path = join(dir, name);
      await appendFile(path, tfRecord(encodeEvent({ wallTime: now(), fileVersion: FILE_VERSION })), { flag: 'wx' });
      return path;
    } catch (error) {
      throw outputFsError(dir, error);
    }
  };
  return {
    get file() {
      return file;
    },
    async scalars(step, values) {
      const fresh = Object.entries(values).filter(([tag]) => logged.get(tag)?.has(step) !== true);
      if (fresh.length === 0) return;
      file ??= await open();
      try {
        await appendFile(file, tfRecord(encodeEvent({ wallTime: now(), step, scalars: fresh.map(([tag, value]) => ({ tag, value })) })));
      } catch (error) {
        throw outputFsError(file, error);
      }
      for (const [tag] of fresh) {
        let steps = logged.get(tag);
        if (steps === undefined) logged.set(tag, (steps = new Set()));
        steps.add(step);
      }
    },
  };
}
