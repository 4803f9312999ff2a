/**
 * An event-file reader for tests, written apart from src/io/tensorboard.ts so that a shared
 * mistake cannot pass unseen: bitwise CRC32C (no table), strict TFRecord checks (a bad CRC or a
 * torn record fails the test), and a protobuf decode of Event / Summary / Summary.Value.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

export function refCrc32c(bytes: Uint8Array): number {
  let crc = ~0 >>> 0;
  for (const b of bytes) {
    crc ^= b;
    for (let k = 0; k < 8; k++) crc = (crc >>> 1) ^ (0x82f63b78 & -(crc & 1));
  }
  return ~crc >>> 0;
}

function unmask(masked: number): number {
  const rot = (masked - 0xa282ead8) >>> 0;
  return ((rot >>> 17) | (rot << 15)) >>> 0;
}

export interface ReadEvent {
  wallTime: number;
  step: number;
  fileVersion: string | null;
  values: { tag: string; value: number }[];
}

function decode(buf: Buffer): Map<number, (bigint | Buffer)[]> {
  const out = new Map<number, (bigint | Buffer)[]>();
  let i = 0;
  const varint = (): bigint => {
    let v = 0n;
    let shift = 0n;
    for (;;) {
      if (i >= buf.length) throw new Error('truncated varint');
      const b = buf[i++];
      v |= BigInt(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
      shift += 7n;
    }
  };
  while (i < buf.length) {
    const key = Number(varint());
    const [field, wire] = [key >> 3, key & 7];
    let value: bigint | Buffer;
    if (wire === 0) value = varint();
    else if (wire === 1) value = buf.subarray(i, (i += 8));
    else if (wire === 5) value = buf.subarray(i, (i += 4));
    else if (wire === 2) {
      const len = Number(varint());
      value = buf.subarray(i, (i += len));
    } else throw new Error(`wire type ${wire}`);
    if (i > buf.length) throw new Error('truncated field');
    out.set(field, [...(out.get(field) ?? []), value]);
  }
  return out;
}

function asBuf(v: bigint | Buffer | undefined): Buffer {
  if (!Buffer.isBuffer(v)) throw new Error('expected bytes');
  return v;
}

export async function readEventFile(path: string): Promise<ReadEvent[]> {
  const buf = await readFile(path);
  const events: ReadEvent[] = [];
  let i = 0;
  while (i < buf.length) {
    const len = Number(buf.readBigUInt64LE(i));
    if (unmask(buf.readUInt32LE(i + 8)) !== refCrc32c(buf.subarray(i, i + 8))) throw new Error(`${path}@${i}: bad length crc`);
    const data = buf.subarray(i + 12, i + 12 + len);
    if (data.length !== len) throw new Error(`${path}@${i}: torn record`);
    if (unmask(buf.readUInt32LE(i + 12 + len)) !== refCrc32c(data)) throw new Error(`${path}@${i}: bad data crc`);
    i += 16 + len;
    const e = decode(data);
    const values = (e.get(5) ?? []).flatMap((s) =>
      (decode(asBuf(s)).get(1) ?? []).map((v) => {
        const fields = decode(asBuf(v));
        return { tag: asBuf(fields.get(1)?.[0]).toString('utf8'), value: asBuf(fields.get(2)?.[0]).readFloatLE(0) };
      }),
    );
    const step = e.get(2)?.[0];
    const version = e.get(3)?.[0];
    events.push({
      wallTime: asBuf(e.get(1)?.[0]).readDoubleLE(0),
      step: typeof step === 'bigint' ? Number(step) : 0,
      fileVersion: version === undefined ? null : asBuf(version).toString('utf8'),
      values,
    });
  }
  return events;
}

/** Every event of every events.out.tfevents.* file of a folder, files in name order. */
export async function readEventDir(dir: string): Promise<ReadEvent[]> {
  const names = (await readdir(dir)).filter((n) => n.startsWith('events.out.tfevents.')).sort();
  const all: ReadEvent[] = [];
  for (const n of names) all.push(...(await readEventFile(join(dir, n))));
  return all;
}
