import { appendFile, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { crc32c, encodeEvent, maskedCrc32c, openEventWriter, readLoggedSteps, repairEventFiles, tfRecord } from '../../../src/io/tensorboard.js';
import { readEventDir, readEventFile, refCrc32c } from './tb-reader.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rec-tb-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('crc32c', () => {
  it('matches the standard check value and the independent bitwise implementation', () => {
    expect(crc32c(new TextEncoder().encode('123456789'))).toBe(0xe3069283);
    // RFC 3720 B.4: 32 bytes of zeros.
    expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa);
    const bytes = Uint8Array.from({ length: 300 }, (_, i) => (i * 37 + 11) & 0xff);
    expect(crc32c(bytes)).toBe(refCrc32c(bytes));
  });

  it('masks as crc32c.h does: rotate right 15, add 0xa282ead8', () => {
    const crc = 0xe3069283;
    const expected = ((((crc >>> 15) | (crc << 17)) >>> 0) + 0xa282ead8) >>> 0;
    expect(maskedCrc32c(new TextEncoder().encode('123456789'))).toBe(expected);
  });
});

describe('tfRecord and encodeEvent', () => {
  it('frames one event that the independent reader decodes', async () => {
    const event = encodeEvent({ wallTime: 1234.5, step: 2 ** 33 + 7, scalars: [{ tag: 'train/loss', value: 0.25 }, { tag: 'valid/hr@10', value: 0.5 }] });
    await writeFile(join(dir, 'events.out.tfevents.1.h'), tfRecord(event));
    const events = await readEventDir(dir);
    expect(events).toEqual([{ wallTime: 1234.5, step: 2 ** 33 + 7, fileVersion: null, values: [{ tag: 'train/loss', value: 0.25 }, { tag: 'valid/hr@10', value: 0.5 }] }]);
  });
});

describe('openEventWriter', () => {
  it('writes file_version first, then the scalars with their steps and values', async () => {
    let t = 1700000000;
    const w = await openEventWriter(join(dir, 'tb'), { now: () => t++, host: 'box' });
    expect(w.file).toBeNull();
    await w.scalars(100, { 'train/loss': 0.75, 'train/lr': 0.001 });
    await w.scalars(1, { 'epoch/seconds': 3 });
    expect(await readdir(join(dir, 'tb'))).toEqual([`events.out.tfevents.1700000000.box.${process.pid}`]);
    const events = await readEventDir(join(dir, 'tb'));
    expect(events[0]).toMatchObject({ fileVersion: 'brain.Event:2', values: [] });
    expect(events.slice(1)).toEqual([
      { wallTime: 1700000002, step: 100, fileVersion: null, values: [{ tag: 'train/loss', value: 0.75 }, { tag: 'train/lr', value: Math.fround(0.001) }] },
      { wallTime: 1700000003, step: 1, fileVersion: null, values: [{ tag: 'epoch/seconds', value: 3 }] },
    ]);
  });

  it('never logs a (tag, step) twice across writers of one folder, and a second writer takes a new file', async () => {
    const tb = join(dir, 'tb');
    const first = await openEventWriter(tb, { now: () => 5, host: 'h' });
    await first.scalars(100, { 'train/loss': 1 });
    await first.scalars(200, { 'train/loss': 0.9 });
    const second = await openEventWriter(tb, { now: () => 5, host: 'h' });
    await second.scalars(200, { 'train/loss': 0.8, 'epoch/loss': 0.8 });
    await second.scalars(300, { 'train/loss': 0.7 });
    expect((await readdir(tb)).sort()).toEqual([`events.out.tfevents.5.h.${process.pid}`, `events.out.tfevents.5.h.${process.pid}.1`]);
    const pairs = (await readEventDir(tb)).flatMap((e) => e.values.map((v) => `${v.tag}@${e.step}=${v.value}`));
    expect(pairs.sort()).toEqual(['epoch/loss@200=0.800000011920929', 'train/loss@100=1', 'train/loss@200=0.8999999761581421', 'train/loss@300=0.699999988079071']);
  });

  it('ignores a torn last record (a killed writer) when reading the logged steps', async () => {
    const tb = join(dir, 'tb');
    const w = await openEventWriter(tb, { now: () => 1, host: 'h' });
    await w.scalars(10, { a: 1 });
    const torn = tfRecord(encodeEvent({ wallTime: 2, step: 20, scalars: [{ tag: 'a', value: 2 }] }));
    await appendFile(w.file as string, torn.subarray(0, torn.length - 3));
    expect(await readLoggedSteps(tb)).toEqual(new Map([['a', 10]]));
    const corrupt = await readFile(w.file as string);
    corrupt[corrupt.length - torn.length + 3] ^= 0xff;
    expect(await readLoggedSteps(tb)).toEqual(new Map([['a', 10]]));
  });

  it('reads an absent folder as nothing logged', async () => {
    expect(await readLoggedSteps(join(dir, 'none'))).toEqual(new Map());
  });
});

describe('repairEventFiles and points lost with a torn record', () => {
  const record = (step: number, tag: string, value: number) => tfRecord(encodeEvent({ wallTime: step, step, scalars: [{ tag, value }] }));
  const pairs = async (tb: string) => (await readEventDir(tb)).flatMap((e) => e.values.map((v) => `${v.tag}@${e.step}`));

  it('cuts a file at its torn last record, and a later writer fills the point back in, once', async () => {
    const tb = join(dir, 'tb');
    const w = await openEventWriter(tb, { now: () => 1, host: 'h' });
    await w.scalars(1, { 'epoch/loss': 0.9 });
    const torn = record(2, 'epoch/loss', 0.8);
    await appendFile(w.file as string, torn.subarray(0, torn.length - 5));
    const before = (await readFile(w.file as string)).length;
    // A later run's file holds epoch 3: the highest step logged is past the lost one.
    const later = await openEventWriter(tb, { now: () => 2, host: 'h' });
    await later.scalars(3, { 'epoch/loss': 0.7 });

    expect(await repairEventFiles(tb, { host: 'h' })).toEqual([{ file: w.file, records: 2, bytes: torn.length - 5 }]);
    expect((await readFile(w.file as string)).length).toBe(before - (torn.length - 5));
    expect(await readEventFile(w.file as string)).toHaveLength(2);
    expect(await repairEventFiles(tb, { host: 'h' })).toEqual([]);

    const resumed = await openEventWriter(tb, { now: () => 3, host: 'h' });
    await resumed.scalars(2, { 'epoch/loss': 0.8 });
    await resumed.scalars(3, { 'epoch/loss': 0.7 });
    expect((await pairs(tb)).sort()).toEqual(['epoch/loss@1', 'epoch/loss@2', 'epoch/loss@3']);
  });

  it('cuts at the first corrupt record, whatever follows it', async () => {
    const tb = join(dir, 'tb');
    const w = await openEventWriter(tb, { now: () => 1, host: 'h' });
    await w.scalars(1, { a: 1 });
    await w.scalars(2, { a: 2 });
    await w.scalars(3, { a: 3 });
    const bytes = await readFile(w.file as string);
    const third = record(3, 'a', 3).length;
    bytes[bytes.length - 2 * third + 14] ^= 0xff;
    await writeFile(w.file as string, bytes);
    expect(await repairEventFiles(tb, { host: 'h' })).toEqual([{ file: w.file, records: 2, bytes: 2 * third }]);
    expect(await pairs(tb)).toEqual(['a@1']);
  });

  it('leaves alone a file whose writer is a live process of this host', async () => {
    const tb = join(dir, 'tb');
    await openEventWriter(tb, { now: () => 1, host: 'h' }).then((w) => w.scalars(1, { a: 1 }));
    const live = join(tb, `events.out.tfevents.1.h.${process.ppid}`);
    const torn = record(2, 'a', 2);
    await writeFile(live, torn.subarray(0, 10));
    expect(await repairEventFiles(tb, { host: 'h' })).toEqual([]);
    expect((await readFile(live)).length).toBe(10);
    expect(await repairEventFiles(tb, { host: 'other' })).toEqual([{ file: live, records: 0, bytes: 10 }]);
  });
});

describe('openEventWriter errors', () => {
  it('names the folder when a file is in its way', async () => {
    await writeFile(join(dir, 'tb'), 'not a folder');
    await expect(openEventWriter(join(dir, 'tb', 'x'))).rejects.toThrow(/Cannot write .*tb\/x: .*ENOTDIR/);
  });
});
