import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { anonymizeId, keyFingerprint } from '../../../../src/data/anonymize.js';
import { expectAccounting, fixture, prep, rows, table, tempRoot } from './helpers.js';

const out = tempRoot();
const check = (cond: boolean, what: string): void => expect(cond, what).toBe(true);

describe('dedupe', () => {
  // ts are unix seconds. u,a: 3@100 (seq 0), 5@50 (seq 1), 4@200 (seq 2); u,b: 2@10; v,a: 1@300 twice (seq 4, 5).
  const cases: [string, number, number, number, number][] = [
    // rule, kept value for (u,a), its ts, kept seq for (v,a), value for (v,a)
    ['first', 5, 50_000, 4, 1],
    ['last', 4, 200_000, 5, 1],
    ['max', 5, 50_000, 5, 1],
    ['sum', 12, 200_000, 5, 2],
  ];
  for (const [rule, value, ts, vSeq, vValue] of cases) {
    it(`keeps the ${rule} row of repeated (user, item)`, async () => {
      const p = await prep(out(), [fixture('dedupe.csv')], { dedupe: rule, split: 'none' });
      expect(p.result.rows).toMatchObject({ read: 6, accepted: 6, deduplicated: 3, train: 3 });
      expect(p.manifest.dedupe).toBe(rule);
      const train = rows(p.out, 'train.arrow');
      const ua = train.find((r) => r.user === 0 && r.item === 0);
      expect(ua).toMatchObject({ value, ts });
      const va = train.find((r) => r.user === 1);
      expect(va).toMatchObject({ value: vValue, seq: vSeq });
      expectAccounting(p.manifest, check);
    });
  }

  it('defaults to last for explicit and max for implicit feedback, and keeps all with none', async () => {
    expect((await prep(out(), [fixture('dedupe.csv')], { split: 'none' })).manifest.dedupe).toBe('last');
    expect((await prep(out(), [fixture('dedupe.csv')], { split: 'none', feedback: 'implicit' })).manifest.dedupe).toBe('max');
    const none = await prep(out(), [fixture('dedupe.csv')], { split: 'none', dedupe: 'none' });
    expect(none.result.rows).toMatchObject({ deduplicated: 0, train: 6 });
  });
});

describe('k-core', () => {
  it('removes rows iteratively until every user and item has enough', async () => {
    const p = await prep(out(), [fixture('kcore.txt')], { min_user: 2, min_item: 2, split: 'none' });
    expect(p.result.rows).toMatchObject({ read: 9, filtered: 5, train: 4 });
    expect(p.result.users).toBe(2);
    expect(p.result.items).toBe(2);
    expect(rows(p.out, 'users.arrow').map((r) => [r.id, r.count])).toEqual([['u1', 2], ['u2', 2]]);
    expect(rows(p.out, 'items.arrow').map((r) => [r.id, r.count])).toEqual([['i1', 2], ['i2', 2]]);
    expect(p.manifest.kcore).toMatchObject({ min_user: 2, min_item: 2 });
    expectAccounting(p.manifest, check);
  });
});

describe('splits', () => {
  it('leave-last: latest → test, second latest → valid, < 3 rows stay in train', async () => {
    const p = await prep(out(), [fixture('leave-last.tsv')], { split: 'leave-last' });
    expect(p.result.rows).toMatchObject({ train: 5, valid: 2, test: 2 });
    const items = rows(p.out, 'items.arrow').map((r) => r.id as string);
    const named = (file: string): string[] => rows(p.out, file).map((r) => `${r.user}:${items[r.item as number]}`);
    expect(named('train.arrow')).toEqual(['0:a', '0:b', '1:a', '1:b', '2:c']);
    expect(named('valid.arrow')).toEqual(['0:d', '2:b']);
    expect(named('test.arrow')).toEqual(['0:c', '2:a']);
  });

  it('temporal: a global cut at the time quantiles; equal timestamps stay together', async () => {
    const p = await prep(out(), [fixture('temporal.tsv')], { split: 'temporal:0.6,0.2,0.2' });
    expect(p.result.rows).toMatchObject({ train: 6, valid: 1, test: 3 });
    expect(p.manifest.split.cuts).toEqual({ valid_from_ts: 7000, test_from_ts: 8000 });
    const maxTrain = Math.max(...rows(p.out, 'train.arrow').map((r) => r.ts as number));
    const minTest = Math.min(...rows(p.out, 'test.arrow').map((r) => r.ts as number));
    expect(maxTrain).toBeLessThan(minTest);
    expect(p.result.splits.test.cold_users).toBe(3);
  });

  it('random: seeded per interaction, close to the ratios, reproducible', async () => {
    const dir = out();
    const file = `${dir}-big.tsv`;
    const lines: string[] = [];
    for (let i = 0; i < 20000; i++) lines.push(`${i % 300}\t${(i * 7) % 1000}\t${1 + (i % 5)}\t${1600000000 + i}`);
    writeFileSync(file, `${lines.join('\n')}\n`);
    const a = await prep(dir, [file], { split: 'random:0.7,0.2,0.1', dedupe: 'none' });
    expect(a.result.rows.train / 20000).toBeCloseTo(0.7, 1);
    expect(a.result.rows.valid / 20000).toBeCloseTo(0.2, 1);
    expect(a.result.rows.test / 20000).toBeCloseTo(0.1, 1);
    const b = await prep(out(), [file], { split: 'random:0.7,0.2,0.1', dedupe: 'none' });
    expect(readFileSync(join(b.out, 'test.arrow'))).toEqual(readFileSync(join(a.out, 'test.arrow')));
    const c = await prep(out(), [file], { split: 'random:0.7,0.2,0.1', dedupe: 'none' }, { seed: 7 });
    expect(readFileSync(join(c.out, 'test.arrow'))).not.toEqual(readFileSync(join(a.out, 'test.arrow')));
    // every split sorted by (user, ts, seq)
    const train = rows(a.out, 'train.arrow');
    for (let k = 1; k < train.length; k++) {
      const p = train[k - 1];
      const q = train[k];
      const ordered = (p.user as number) < (q.user as number) || (p.user === q.user && ((p.ts as number) < (q.ts as number) || (p.ts === q.ts && (p.seq as number) < (q.seq as number))));
      expect(ordered).toBe(true);
    }
  });

  it('predefined --test file: its rows go to test, cold ids are kept and counted', async () => {
    const p = await prep(out(), [fixture('predef-train.tsv')], { test: fixture('predef-test.tsv'), split: 'none' });
    expect(p.result.rows).toMatchObject({ read: 9, train: 5, valid: 0, test: 4 });
    expect(p.result.users).toBe(4);
    expect(p.result.items).toBe(4);
    expect(p.result.splits.test).toEqual({ rows: 4, users: 4, items: 4, cold_users: 1, cold_items: 1 });
    expect(p.manifest.sources.map((s) => [s.role, s.rows_read])).toEqual([['log', 5], ['test', 4]]);
    expect(rows(p.out, 'users.arrow').map((r) => r.id)).toEqual(['1', '2', '3', '9']);
    expectAccounting(p.manifest, check);
  });

  it('with --test, --split only divides the logs between train and valid', async () => {
    const p = await prep(out(), [fixture('predef-train.tsv')], { test: fixture('predef-test.tsv') });
    expect(p.result.rows.test).toBe(4);
    expect(p.result.rows.train + p.result.rows.valid).toBe(5);
    expect(p.manifest.split.ratios).toEqual([0.8 / 0.9, 0.1 / 0.9, 0]);
    expect(p.result.warnings.join('\n')).toMatch(/test share 0\.1 of --split is not used/);
    const ll = await prep(out(), [fixture('leave-last.tsv')], { valid: fixture('leave-last.tsv'), split: 'leave-last', dedupe: 'none' });
    // only test is left to fill: each user's latest row, users with 2+ rows
    expect(ll.result.rows).toMatchObject({ valid: 9, test: 3, train: 6 });
  });
});

describe('anonymize', () => {
  const key = Buffer.from('a-secret-key-0123456789');
  it('replaces user ids by HMAC-SHA256 and records only the key fingerprint', async () => {
    const a = await prep(out(), [fixture('basic.tsv')], { anonymize: true, split: 'none' }, { anonKey: key });
    const ids = rows(a.out, 'users.arrow').map((r) => r.id);
    expect(ids).toEqual(['u1', 'u2', 'u3'].map((u) => anonymizeId(key, u)));
    expect(ids[0]).toMatch(/^[0-9a-f]{64}$/);
    expect(rows(a.out, 'items.arrow').map((r) => r.id)).toEqual(['i1', 'i2', 'i3']);
    expect(a.manifest.anonymize).toEqual({ algorithm: 'hmac-sha256', key_fingerprint: keyFingerprint(key) });
    const text = readFileSync(join(a.out, 'manifest.json'), 'utf8');
    expect(text).not.toContain(key.toString());
    expect(text).not.toContain(key.toString('hex'));
    const b = await prep(out(), [fixture('basic.tsv')], { anonymize: true, split: 'none' }, { anonKey: key });
    expect(rows(b.out, 'users.arrow').map((r) => r.id)).toEqual(ids);
    const c = await prep(out(), [fixture('basic.tsv')], { anonymize: true, split: 'none' }, { anonKey: Buffer.from('another-key-xxxxxxxx') });
    expect(rows(c.out, 'users.arrow').map((r) => r.id)).not.toEqual(ids);
  });
});

describe('output files', () => {
  it('writes Arrow IPC files with the exact schema of docs/design.md#the-dataset-folder', async () => {
    const p = await prep(out(), [fixture('events.jsonl')], { event_weights: 'view=1,cart=3,buy=5,like=1', max_rejects: '100%', dedupe: 'none' });
    for (const f of ['train.arrow', 'valid.arrow', 'test.arrow']) {
      const t = table(p.out, f);
      expect(t.schema.fields.map((x) => `${x.name}:${String(x.type)}:${x.nullable}`)).toEqual([
        'user:Int32:false',
        'item:Int32:false',
        'value:Float32:false',
        'ts:Int64:true',
        'seq:Int64:false',
        'event:Dictionary<Int32, Utf8>:false',
      ]);
      expect(t.batches.length).toBeGreaterThanOrEqual(1);
    }
    for (const f of ['users.arrow', 'items.arrow']) {
      const t = table(p.out, f);
      expect(t.schema.fields.map((x) => `${x.name}:${String(x.type)}:${x.nullable}`)).toEqual([
        'index:Int32:false',
        'id:Utf8:false',
        'count:Int32:false',
        'first_ts:Int64:true',
        'last_ts:Int64:true',
      ]);
    }
    const users = rows(p.out, 'users.arrow');
    expect(users[0]).toMatchObject({ index: 0, id: 'a', count: 2, first_ts: Date.UTC(2020, 0, 1), last_ts: Date.UTC(2020, 0, 1, 0, 5, 0, 500) });
  });

  it('writes no event column and null ts when the log has neither; vocab ts null', async () => {
    const p = await prep(out(), [fixture('kcore.txt')]);
    expect(table(p.out, 'train.arrow').schema.fields.map((x) => x.name)).toEqual(['user', 'item', 'value', 'ts', 'seq']);
    expect(rows(p.out, 'users.arrow')[0]).toMatchObject({ first_ts: null, last_ts: null });
    expect(p.manifest.time).toEqual({ has_ts: false, min_ts: null, max_ts: null, min_iso: null, max_iso: null });
  });

  it('writes a manifest whose accounting adds up and records sources, config and versions', async () => {
    const p = await prep(out(), [fixture('rejects.csv'), fixture('basic.tsv')], { max_rejects: '100%', columns: 'user=0,item=1,rating=2,ts=3' }, { resolvedConfig: { seed: 2020 } });
    expectAccounting(p.manifest, check);
    expect(p.manifest.format_version).toBe(1);
    expect(p.manifest.rec_version).toBe('test');
    expect(p.manifest.config).toEqual({ seed: 2020 });
    expect(p.manifest.sources.map((s) => [s.rows_read, s.rejected])).toEqual([[11, 9], [5, 0]]);
    expect(p.manifest.sources[1].sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(p.manifest.split).toMatchObject({ kind: 'random', spec: 'random:0.8,0.1,0.1' });
    expect(p.manifest.time.min_iso).toBe('1970-01-01T00:16:40.000Z');
    expect(p.result).toMatchObject({ dataset: p.out, users: p.manifest.users, items: p.manifest.items, rows: p.manifest.rows, rejected_by_reason: p.manifest.rejected_by_reason });
    expect(p.logs.some((l) => /^prep: 16 rows read from 2 files, 9 rejected/.test(l))).toBe(true);
  });
});
