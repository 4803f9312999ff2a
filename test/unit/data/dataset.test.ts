import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadDataset } from '../../../src/data/dataset.js';
import { DataError } from '../../../src/util/errors.js';
import { fixture, prep, rows, tempRoot } from './prep/helpers.js';

const out = tempRoot();

describe('loadDataset', () => {
  it('reads the splits, vocabularies and events back as typed arrays', async () => {
    const p = await prep(out(), [fixture('events.jsonl')], { event_weights: 'view=1,cart=3,buy=5,like=2', split: 'none', dedupe: 'none', max_rejects: '100%' });
    const ds = await loadDataset(p.out);
    expect(ds.manifest.rows).toEqual(p.manifest.rows);
    expect(ds.train.length).toBe(5);
    expect(ds.train.users).toBeInstanceOf(Int32Array);
    expect(ds.train.values).toBeInstanceOf(Float32Array);
    expect(ds.train.ts).toBeInstanceOf(Float64Array);
    const arrow = rows(p.out, 'train.arrow');
    expect([...ds.train.users]).toEqual(arrow.map((r) => r.user));
    expect([...ds.train.items]).toEqual(arrow.map((r) => r.item));
    expect([...ds.train.values]).toEqual(arrow.map((r) => r.value));
    expect([...(ds.train.ts ?? [])]).toEqual(arrow.map((r) => r.ts));
    expect([...ds.train.seq]).toEqual(arrow.map((r) => r.seq));
    expect([...(ds.train.events ?? [])].map((c) => ds.eventNames?.[c])).toEqual(arrow.map((r) => r.event));
    expect(ds.valid.length).toBe(0);
    expect(ds.users.ids).toEqual(['a', 'b', '7']);
    expect(ds.users.lookup('b')).toBe(1);
    expect(ds.users.lookup('zzz')).toBe(-1);
    expect([...ds.users.counts]).toEqual([2, 2, 1]);
    expect(ds.users.firstTs[0]).toBe(Date.UTC(2020, 0, 1));
    expect(ds.items.index.get('x')).toBe(0);
  });

  it('gives null ts and events when the log has neither', async () => {
    const p = await prep(out(), [fixture('kcore.txt')], { split: 'none' });
    const ds = await loadDataset(p.out);
    expect(ds.train.ts).toBeNull();
    expect(ds.train.events).toBeNull();
    expect(Number.isNaN(ds.items.firstTs[0])).toBe(true);
  });

  it('reads large timestamps and negative ones exactly', async () => {
    const dir = out();
    const file = `${dir}-ts.csv`;
    writeFileSync(file, 'user,item,ts\n1,1,253402300799999\n2,2,-86400\n');
    const p = await prep(dir, [file], { split: 'none', ts_unit: 'ms' });
    const ds = await loadDataset(p.out);
    expect([...(ds.train.ts ?? [])]).toEqual([253402300799999, -86400]);
  });

  it('names the dataset folders inside a folder that is not one (--data data where data/ holds data/ml100k)', async () => {
    const parent = out();
    await prep(join(parent, 'ml100k'), [fixture('basic.tsv')]);
    await prep(join(parent, 'shop'), [fixture('basic.tsv')]);
    mkdirSync(join(parent, 'logs'));
    writeFileSync(join(parent, 'notes.txt'), 'x');
    const err = (await loadDataset(parent).catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(DataError);
    expect(err.message).toContain(`${parent} is not a dataset folder: manifest.json is missing. It holds the dataset folders ${join(parent, 'ml100k')}, ${join(parent, 'shop')}: did you mean one of them?`);
    rmSync(join(parent, 'shop'), { recursive: true });
    await expect(loadDataset(parent)).rejects.toThrow(`It holds the dataset folder ${join(parent, 'ml100k')}: did you mean ${join(parent, 'ml100k')}?`);
  });

  it('fails clearly on a missing folder, a missing manifest or another format_version', async () => {
    await expect(loadDataset(out())).rejects.toThrow(/is not a dataset folder: manifest\.json is missing/);
    const p = await prep(out(), [fixture('basic.tsv')]);
    const m = JSON.parse(readFileSync(join(p.out, 'manifest.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(p.out, 'manifest.json'), JSON.stringify({ ...m, format_version: 99 }));
    const err = await loadDataset(p.out).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataError);
    expect((err as Error).message).toMatch(/format_version 99; this rec reads format_version 1/);
    writeFileSync(join(p.out, 'manifest.json'), JSON.stringify(m));
    rmSync(join(p.out, 'test.arrow'));
    await expect(loadDataset(p.out)).rejects.toThrow(/incomplete: cannot read test\.arrow/);
    const empty = out();
    mkdirSync(empty);
    writeFileSync(join(empty, 'manifest.json'), '{not json');
    await expect(loadDataset(empty)).rejects.toThrow(/is not valid JSON/);
  });
});
