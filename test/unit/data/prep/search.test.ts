import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadDataset } from '../../../../src/data/dataset.js';
import { MAX_QUERY_CHARS } from '../../../../src/data/prep/ingest.js';
import { TextFeaturizer } from '../../../../src/data/text.js';
import { UsageError } from '../../../../src/util/errors.js';
import { prep, rejects, rows, table, tempRoot } from './helpers.js';

// Issue 22 items 1 and 6: search logs (query, item[, user][, ts][, relevance|event]) in rec prep.
const out = tempRoot();
const dir = mkdtempSync(join(tmpdir(), 'rec-search-'));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/** 40 queries × 3 judged items, relevance 1..3, anonymous. */
function judged(): string {
  const out = ['query,item,relevance'];
  for (let q = 0; q < 40; q++) for (let k = 0; k < 3; k++) out.push(`"red drill ${q}",p${(q * 7 + k) % 50},${1 + ((q + k) % 3)}`);
  return `${out.join('\n')}\n`;
}

const SEARCH = { columns: 'query=query,item=item,relevance=relevance' };

describe('search logs', () => {
  it('anonymous graded log: query column, null users, empty users.arrow, queries.arrow featurised, default held-out-query split', async () => {
    const p = await prep(out(), [file('judged.csv', judged())], SEARCH);
    const m = p.manifest;
    expect(m.split).toMatchObject({ kind: 'query', spec: 'query:0.8,0.1,0.1' });
    expect(m.users).toBe(0);
    expect(m.search).toMatchObject({ queries: 40, anonymous: true, relevance: { min: 1, max: 3 }, relevance_range: null, queries_cleaned: 0, max_query_chars: MAX_QUERY_CHARS });
    const per = m.search?.queries_per_split;
    expect((per?.train ?? 0) + (per?.valid ?? 0) + (per?.test ?? 0)).toBe(40);
    expect(m.files.queries).toBe('queries.arrow');
    expect(m.files_sha256?.queries).toMatch(/^[0-9a-f]{64}$/);
    const train = table(p.out, 'train.arrow');
    expect(train.schema.fields.map((f) => f.name)).toEqual(['user', 'item', 'value', 'ts', 'seq', 'query']);
    expect(train.getChild('user')?.nullCount).toBe(train.numRows);
    expect(rows(p.out, 'users.arrow')).toEqual([]);
    const q = table(p.out, 'queries.arrow');
    expect(q.schema.fields.map((f) => `${f.name}:${String(f.type)}`)).toEqual(['index:Int32', 'text:Utf8', 'count:Int32', 'buckets:List<Int32>', 'bucket_counts:List<Int32>']);
    const ds = await loadDataset(p.out);
    const queries = ds.queries;
    expect(queries?.texts[0]).toBe('red drill 0');
    expect(Array.from(queries?.counts ?? [])).toEqual(new Array(40).fill(3));
    // The same buckets as a title with the same words gets from the catalogue's featuriser.
    const f = new TextFeaturizer().featurize('red drill 0');
    const b = queries?.buckets;
    expect(Array.from(b?.values.subarray(b.offsets[0], b.offsets[1]) ?? [])).toEqual(Array.from(f.buckets));
    expect(Array.from(queries?.bucketCounts.subarray(b?.offsets[0], b?.offsets[1]) ?? [])).toEqual(Array.from(f.counts));
    expect(queries?.spec).toEqual(new TextFeaturizer().spec());
    expect(ds.train.users.every((u) => u === -1)).toBe(true);
    // Held-out queries: no query index in two splits.
    const seen = new Map<number, string>();
    for (const name of ['train', 'valid', 'test'] as const) {
      for (const qi of ds[name].queries ?? []) {
        expect(seen.get(qi) ?? name).toBe(name);
        seen.set(qi, name);
      }
    }
    expect(seen.size).toBe(40);
  });

  it('the query split is seeded: the same seed gives the same splits, another seed others', async () => {
    const path = file('seeded.csv', judged());
    const a = await prep(out(), [path], SEARCH);
    const b = await prep(out(), [path], SEARCH);
    const c = await prep(out(), [path], SEARCH, { seed: 7 });
    expect(rows(b.out, 'test.arrow')).toEqual(rows(a.out, 'test.arrow'));
    expect(rows(c.out, 'test.arrow')).not.toEqual(rows(a.out, 'test.arrow'));
  });

  it('bad queries: empty and whitespace-only → empty_query, over the cap → query_too_long, controls removed and counted, Chinese and emoji kept', async () => {
    const long = 'x'.repeat(MAX_QUERY_CHARS + 1);
    const text = ['query,item,relevance', 'drill,p1,3', ',p1,2', '"   ",p2,1', `${long},p3,1`, '"tab\there\u0007",p4,2', '电钻,p5,3', 'drill 🔨,p6,2', '"\u0001\u0002",p7,1'].join('\n');
    const p = await prep(out(), [file('bad.csv', `${text}\n`)], { ...SEARCH, split: 'none', max_rejects: 10 });
    expect(rejects(p.out).map((r) => [r.line, r.reason])).toEqual([
      [3, 'empty_query'],
      [4, 'empty_query'],
      [5, 'query_too_long'],
      [9, 'empty_query'],
    ]);
    expect(rows(p.out, 'queries.arrow').map((r) => r.text)).toEqual(['drill', 'tab here', '电钻', 'drill 🔨']);
    expect(p.manifest.search?.queries_cleaned).toBe(1);
    const ds = await loadDataset(p.out);
    expect(ds.queries?.buckets.offsets[3]).toBeLessThan(ds.queries?.buckets.offsets[4] ?? 0);
  });

  it('--relevance-range rejects labels outside it as relevance_out_of_range', async () => {
    const text = 'query,item,relevance\na,p1,1\nb,p2,3\nc,p3,4\nd,p4,0.5\n';
    const p = await prep(out(), [file('range.csv', text)], { ...SEARCH, split: 'none', relevance_range: '1,3', max_rejects: 5 });
    expect(rejects(p.out).map((r) => [r.line, r.reason])).toEqual([
      [4, 'relevance_out_of_range'],
      [5, 'relevance_out_of_range'],
    ]);
    expect(p.manifest.search?.relevance_range).toEqual([1, 3]);
    await expect(prep(out(), [file('range2.csv', text)], { ...SEARCH, relevance_range: '3,1' })).rejects.toThrow(UsageError);
  });

  it('with users and events: dedupe on (user, query, item), event weights as values, users.arrow filled', async () => {
    const text = ['user,query,item,ts,event', 'u1,drill,p1,100,click', 'u1,drill,p1,101,buy', 'u1,saw,p1,102,click', 'u2,drill,p1,103,click'].join('\n');
    const p = await prep(out(), [file('users.csv', `${text}\n`)], { columns: 'user=user,query=query,item=item,ts=ts,event=event', event_weights: 'click=1,buy=5', split: 'none' });
    expect(p.result.rows.deduplicated).toBe(1);
    expect(p.manifest.search).toMatchObject({ anonymous: false, relevance: null, queries: 2 });
    expect(p.manifest.users).toBe(2);
    const ds = await loadDataset(p.out);
    expect(Array.from(ds.train.values)).toEqual([5, 1, 1]);
    expect(Array.from(ds.train.queries ?? [])).toEqual([0, 1, 0]);
    expect(Array.from(ds.train.users)).toEqual([0, 0, 1]);
  });

  it('temporal and given-file splits work; leave-last is refused; query splits need a search log', async () => {
    const text = ['query,item,ts', 'a,p1,100', 'b,p2,200', 'c,p3,300', 'd,p4,400', 'e,p5,500'].join('\n');
    const path = file('ts.csv', `${text}\n`);
    const cols = { columns: 'query=query,item=item,ts=ts' };
    const t = await prep(out(), [path], { ...cols, split: 'temporal:0.6,0.2,0.2' });
    expect(rows(t.out, 'test.arrow').map((r) => r.query)).toEqual([4]);
    const given = await prep(out(), [path], { ...cols, split: 'none', test: file('ts-test.csv', 'query,item,ts\nf,p1,600\n') });
    expect(given.manifest.search?.queries_per_split).toEqual({ train: 5, valid: 0, test: 1 });
    await expect(prep(out(), [path], { ...cols, split: 'leave-last' })).rejects.toThrow('--split leave-last (config prep.split) holds out each user');
    await expect(prep(out(), [file('beh.csv', 'u1,i1,5\n')], { columns: 'user=0,item=1,rating=2', split: 'query:0.8,0.1,0.1' })).rejects.toThrow('no query column is mapped');
  });

  it('with a catalogue: queries share its featuriser; items absent from it are counted; duplicate catalogue rows count as duplicates', async () => {
    const log = file('cat-log.csv', 'query,item,relevance\nangle bracket,100001,3\nl bracket,100001,2.5\ndeck,100002,3\nmystery,999,1\n');
    const p = await prep(out(), [log], { ...SEARCH, columns: 'query=query,item=item,relevance=relevance', split: 'none', items: [log], item_key: 'item', item_features: 'query:text' });
    expect(p.manifest.search?.items_without_catalogue_row).toBe(0);
    expect(p.manifest.catalogue?.rows.duplicates).toBe(1);
    const cat = file('cat.csv', 'item,title\n100001,Simpson Strong-Tie Angle\n');
    const q = await prep(out(), [log], { ...SEARCH, split: 'none', items: [cat], item_features: 'title:text' });
    expect(q.manifest.search?.items_without_catalogue_row).toBe(2);
    expect(q.manifest.search?.text_featurizer).toMatchObject({ num_buckets: q.manifest.catalogue?.text_featurizer.num_buckets, seed: q.manifest.catalogue?.text_featurizer.seed });
  });

  it('the csv-parse reference reader gives the same search dataset as the fast path', async () => {
    const path = file('parity.csv', `${judged()}"",p1,2\n"\ttab",p2,3\n`);
    const fast = await prep(out(), [path], { ...SEARCH, max_rejects: 1 });
    const ref = await prep(out(), [path], { ...SEARCH, max_rejects: 1 }, { parser: 'csv-parse' });
    // Every file the same bytes (rejects.jsonl included).
    expect(ref.manifest.files_sha256).toEqual(fast.manifest.files_sha256);
    expect(ref.manifest.search).toEqual(fast.manifest.search);
    expect(fast.manifest.search?.queries_cleaned).toBe(1);
  });

  it('JSON Lines search logs read alike', async () => {
    const text = ['{"q":"drill","item":"p1","rel":3}', '{"q":"","item":"p2","rel":1}', '{"q":"电钻","item":"p2","rel":2}'].join('\n');
    const p = await prep(out(), [file('log.jsonl', `${text}\n`)], { columns: 'query=q,item=item,relevance=rel', split: 'none', max_rejects: 1 });
    expect(rows(p.out, 'queries.arrow').map((r) => r.text)).toEqual(['drill', '电钻']);
    expect(rejects(p.out).map((r) => r.reason)).toEqual(['empty_query']);
  });
});
