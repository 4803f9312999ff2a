import { tableFromIPC } from 'apache-arrow';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SIMILAR_LAYOUT, USER_LAYOUT, csvField, formatText, openRowFile, similarLayout, userLayout, type UserRecord } from '../../../src/io/recommendations.js';

const RECORDS: UserRecord[] = [
  { user: 'u1', cold: false, items: [{ item: 'i9', score: 0.5 }, { item: 'a,"b"', score: -1.25 }] },
  { user: 'nobody', cold: true, items: [{ item: 'i1', score: 42 }] },
  { user: 'u3', cold: false, items: [] },
];

const dir = () => mkdtempSync(join(tmpdir(), 'rec-recs-'));
const noTemps = (d: string) => expect(readdirSync(d).filter((f) => f.includes('.tmp-'))).toEqual([]);

describe('recommendation writers', () => {
  it('csv quotes only fields that need it (RFC 4180)', () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField('a,"b"')).toBe('"a,""b"""');
    expect(csvField('two\nlines')).toBe('"two\nlines"');
  });

  it('jsonl has one object per user, with users that have nothing left', () => {
    const lines = formatText(USER_LAYOUT, 'jsonl', RECORDS).trimEnd().split('\n');
    expect(lines.map((l) => JSON.parse(l) as unknown)).toEqual([
      { user: 'u1', items: [{ item: 'i9', score: 0.5 }, { item: 'a,"b"', score: -1.25 }], cold: false },
      { user: 'nobody', items: [{ item: 'i1', score: 42 }], cold: true },
      { user: 'u3', items: [], cold: false },
    ]);
  });

  it('--new-items: from_features on the items scored from features (jsonl), a from_features column (csv, arrow)', async () => {
    const recs: UserRecord[] = [{ user: 'u1', cold: false, items: [{ item: 'new', score: 2, from_features: true }, { item: 'i9', score: 0.5 }] }];
    expect(JSON.parse(formatText(userLayout(true), 'jsonl', recs))).toEqual({ user: 'u1', items: [{ item: 'new', score: 2, from_features: true }, { item: 'i9', score: 0.5 }], cold: false });
    const layout = userLayout(true);
    expect(`${layout.csvHeader}\n${formatText(layout, 'csv', recs)}`).toBe('user,rank,item,score,cold,from_features\nu1,1,new,2,false,true\nu1,2,i9,0.5,false,false\n');
    // Without the switch the layout is today's: no column.
    expect(userLayout(false).csvHeader).toBe('user,rank,item,score,cold');
    const d = dir();
    const path = join(d, 'recs.arrow');
    const sink = await openRowFile(path, 'arrow', layout, false);
    await sink.write(recs);
    await sink.commit();
    const table = tableFromIPC(readFileSync(path));
    expect(table.schema.fields.map((f) => `${f.name}:${String(f.type)}`)).toEqual(['user:Utf8', 'rank:Int32', 'item:Utf8', 'score:Float32', 'cold:Bool', 'from_features:Bool']);
    expect(table.toArray().map((r) => (r.toJSON() as { from_features: boolean }).from_features)).toEqual([true, false]);
    const similar = similarLayout(true);
    const srec = [{ item: 'new', from_features: true, items: [{ item: 'n2', score: 0.9, from_features: true }, { item: 'a', score: 0.5 }] }];
    expect(JSON.parse(similar.jsonl(srec[0]))).toEqual({ item: 'new', from_features: true, items: [{ item: 'n2', score: 0.9, from_features: true }, { item: 'a', score: 0.5 }] });
    expect(formatText(similar, 'csv', srec)).toBe('new,1,n2,0.9,true\nnew,2,a,0.5,false\n');
    expect(similar.csvHeader).toBe('item,rank,similar,score,from_features');
  });

  it('csv file: header, then one row per ranked item, written atomically', async () => {
    const d = dir();
    const path = join(d, 'recs.csv');
    const sink = await openRowFile(path, 'csv', USER_LAYOUT, false);
    await sink.write(RECORDS.slice(0, 1));
    expect(existsSync(path)).toBe(false);
    await sink.write(RECORDS.slice(1));
    await sink.commit();
    expect(readFileSync(path, 'utf8')).toBe('user,rank,item,score,cold\nu1,1,i9,0.5,false\nu1,2,"a,""b""",-1.25,false\nnobody,1,i1,42,true\n');
    noTemps(d);
  });

  it('arrow file: user utf8, rank int32, item utf8, score float32, cold bool, across batches', async () => {
    const d = dir();
    const path = join(d, 'recs.arrow');
    const sink = await openRowFile(path, 'arrow', USER_LAYOUT, false);
    await sink.write(RECORDS.slice(0, 1));
    await sink.write(RECORDS.slice(1));
    await sink.commit();
    const table = tableFromIPC(readFileSync(path));
    expect(table.schema.fields.map((f) => `${f.name}:${String(f.type)}`)).toEqual(['user:Utf8', 'rank:Int32', 'item:Utf8', 'score:Float32', 'cold:Bool']);
    expect(table.toArray().map((r) => r.toJSON() as unknown)).toEqual([
      { user: 'u1', rank: 1, item: 'i9', score: 0.5, cold: false },
      { user: 'u1', rank: 2, item: 'a,"b"', score: -1.25, cold: false },
      { user: 'nobody', rank: 1, item: 'i1', score: 42, cold: true },
    ]);
    noTemps(d);
  });

  it('an arrow file with no rows still carries the schema', async () => {
    const d = dir();
    const path = join(d, 'empty.arrow');
    const sink = await openRowFile(path, 'arrow', SIMILAR_LAYOUT, false);
    await sink.commit();
    const table = tableFromIPC(readFileSync(path));
    expect(table.numRows).toBe(0);
    expect(table.schema.fields.map((f) => f.name)).toEqual(['item', 'rank', 'similar', 'score']);
  });

  it('similar items: jsonl {item, items} and csv item,rank,similar,score', async () => {
    const rec = { item: 'a', items: [{ item: 'b', score: 0.75 }] };
    expect(JSON.parse(formatText(SIMILAR_LAYOUT, 'jsonl', [rec])) as unknown).toEqual(rec);
    const d = dir();
    const sink = await openRowFile(join(d, 's.csv'), 'csv', SIMILAR_LAYOUT, false);
    await sink.write([rec]);
    await sink.commit();
    expect(readFileSync(join(d, 's.csv'), 'utf8')).toBe('item,rank,similar,score\na,1,b,0.75\n');
  });

  it('abort leaves the previous file untouched and no temporary behind', async () => {
    const d = dir();
    const path = join(d, 'recs.jsonl');
    writeFileSync(path, 'old\n');
    const sink = await openRowFile(path, 'jsonl', USER_LAYOUT, true);
    await sink.write(RECORDS);
    await sink.abort();
    expect(readFileSync(path, 'utf8')).toBe('old\n');
    noTemps(d);
  });

  it('an existing file is replaced only with force, and a folder never', async () => {
    const d = dir();
    const path = join(d, 'recs.jsonl');
    writeFileSync(path, 'mine\n');
    await expect(openRowFile(path, 'jsonl', USER_LAYOUT, false)).rejects.toThrow(/already exists.*--force/);
    expect(readFileSync(path, 'utf8')).toBe('mine\n');
    await expect(openRowFile(d, 'jsonl', USER_LAYOUT, true)).rejects.toThrow(/is a folder/);
    const sink = await openRowFile(path, 'jsonl', USER_LAYOUT, true);
    await sink.write(RECORDS.slice(0, 1));
    await sink.commit();
    expect(readFileSync(path, 'utf8')).toMatch(/^\{"cold":false|^\{"user"/);
    noTemps(d);
  });
});
