import { tableFromIPC } from 'apache-arrow';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { rec, tempDir } from './helpers.js';

// Issue 21 item 1: a log with a catalogue beside it, then today's models on the dataset it gives. The catalogue's
// items with no log row (p90..p93) get indices after the log's; they have no rows, so training ignores them, eval
// ranks only items with training rows, and recommend never serves them.
const dir = tempDir('rec-catalogue-');
const log = join(dir, 'log.csv');
const cat = join(dir, 'items.csv');
const LOG_ITEMS = ['p1', 'p2', 'p3', 'p4', 'p5', 'p6', 'p7', 'p8'];
writeFileSync(log, `user,item,ts\n${Array.from({ length: 96 }, (_, k) => `u${k % 12},${LOG_ITEMS[(k * 5 + Math.floor(k / 12)) % 8]},${1600000000 + k * 3600}`).join('\n')}\n`);
const TITLES = ['苹果手机壳 透明', '华为 Mate 60 Pro 手机', '小米 充电器 快充', 'Nike Air running shoe', '<b>USB-C</b> cable 2m', 'Kindle 电子书阅读器', '机械键盘 青轴', 'Wireless mouse 🖱️'];
writeFileSync(
  cat,
  [
    'sku,title,brand,tags,price',
    ...LOG_ITEMS.map((p, k) => `${p},"${TITLES[k]}",${k % 2 === 0 ? 'Acme' : '品牌'},${k % 3 === 0 ? 'a|b' : 'b'},"$${k + 1},299.00"`),
    'p90,新品 手机 支架,Acme,a,$5',
    'p91,New phone stand,Acme,,N/A',
    'p92,,,,',
    'p93,🎉,,b,$1 - $2',
    ',no key,Acme,a,1',
  ].join('\n'),
);
const data = join(dir, 'ds');

describe('rec prep --items, then train, eval and recommend', () => {
  it('preps the log with its catalogue (--json carries the catalogue block)', async () => {
    const r = await rec(['prep', log, '--out', data, '--items', cat, '--item-key', 'sku', '--item-features', 'title:text,brand:category,tags:multi,price:number', '--split', 'temporal:0.7,0.15,0.15', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { items: number; catalogue: { rows: Record<string, number>; catalogue_only_items: number; catalogue_only_from: number; log_items_without_row: number } };
    expect(out.items).toBe(12);
    expect(out.catalogue.rows).toMatchObject({ read: 13, rejected: 1, items: 12 });
    expect(out.catalogue).toMatchObject({ catalogue_only_items: 4, catalogue_only_from: 8, log_items_without_row: 0 });
    expect(r.stderr).toMatch(/catalogue: 13 rows read, 1 rejected, 0 duplicates; 12 items, 0 log items without a catalogue row, 4 catalogue-only items \(indices from 8\)/);
    expect(existsSync(join(data, 'item_features.arrow'))).toBe(true);
  });

  it('trains mf on ids only (--features none), evaluates it and recommends only items with training rows', async () => {
    const ck = join(dir, 'mf');
    const t = await rec(['train', '--data', data, '--model', 'mf', '--epochs', '2', '--dim', '8', '--backend', 'cpu', '--features', 'none', '--out', ck]);
    expect(t.code, t.stderr).toBe(0);
    const e = await rec(['eval', ck, '--backend', 'cpu', '--json']);
    expect(e.code, e.stderr).toBe(0);
    const metrics = (JSON.parse(e.stdout) as { metrics: Record<string, number> }).metrics;
    expect(Number.isFinite(metrics['ndcg@10'])).toBe(true);
    const r = await rec(['recommend', ck, '--all', '-k', '10', '--backend', 'cpu']);
    expect(r.code, r.stderr).toBe(0);
    const served = new Set<string>();
    for (const line of r.stdout.trim().split('\n')) {
      for (const it of (JSON.parse(line) as { items: { item: string; title: string | null }[] }).items) {
        served.add(it.item);
        // The catalogue's titles come with each item, verbatim.
        expect(it.title).toBe(TITLES[LOG_ITEMS.indexOf(it.item)]);
      }
    }
    expect([...served].every((id) => LOG_ITEMS.includes(id))).toBe(true);
    const csv = await rec(['recommend', ck, '--user', 'u1', '-k', '3', '--include-seen', '--format', 'csv', '--backend', 'cpu']);
    expect(csv.stdout.split('\n')[0]).toBe('user,rank,item,score,cold,title');
    const arrow = join(dir, 'recs.arrow');
    expect((await rec(['recommend', ck, '--user', 'u1', '-k', '3', '--include-seen', '--out', arrow, '--backend', 'cpu'])).code).toBe(0);
    const table = tableFromIPC(readFileSync(arrow));
    expect(table.schema.fields.map((f) => f.name)).toEqual(['user', 'rank', 'item', 'score', 'cold', 'title']);
    expect(table.getChild('title')?.get(0)).toBe(TITLES[LOG_ITEMS.indexOf(String(table.getChild('item')?.get(0)))]);
    // A catalogue-only item has an index but no trained vector: --similar-to answers, with the untrained warning.
    const s = await rec(['recommend', ck, '--similar-to', 'p90', '--backend', 'cpu']);
    expect(s.code, s.stderr).toBe(0);
    expect(s.stderr).toMatch(/p90/);
    const near = (JSON.parse(s.stdout) as { items: { item: string; title: string | null }[] }).items;
    expect(near.length).toBeGreaterThan(0);
    for (const it of near) expect(it.title).toBe(TITLES[LOG_ITEMS.indexOf(it.item)]);
    // A checkpoint without titles (trained before prep kept them) prints none.
    rmSync(join(ck, 'vocab', 'item_titles.arrow'));
    const plain = await rec(['recommend', ck, '--user', 'u1', '-k', '3', '--include-seen', '--backend', 'cpu']);
    expect((JSON.parse(plain.stdout) as { items: object[] }).items.every((it) => !('title' in it))).toBe(true);
  });

  it('exit 2 for an unknown declared column (naming it, listing the columns); --append-to merges a newer catalogue', async () => {
    const r = await rec(['prep', log, '--out', join(dir, 'bad'), '--items', cat, '--item-key', 'sku', '--item-features', 'title:text,colour:category']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('"colour", not a column of');
    expect(r.stderr).toContain('Its columns: "sku,title,brand,tags,price"');
    expect(existsSync(join(dir, 'bad'))).toBe(false);
    const day2 = join(dir, 'day2.csv');
    writeFileSync(day2, 'user,item,ts\nu1,p9,1700000000\nu2,p90,1700000100\n');
    const newer = join(dir, 'newer.csv');
    writeFileSync(newer, 'sku,title,brand,tags,price\np9,全新 耳机,Acme,b,$30\np94,Tomorrow\'s launch,Acme,a,$9\n');
    const a = await rec(['prep', day2, '--out', join(dir, 'next'), '--append-to', data, '--items', newer, '--json']);
    expect(a.code, a.stderr).toBe(0);
    const next = JSON.parse(a.stdout) as { items: number; catalogue: { append: unknown; catalogue_only_items: number } };
    // p90..p93 keep their indices; p9 joins from the log, p94 from the catalogue; p90 now has a row.
    expect(next.items).toBe(14);
    expect(next.catalogue.append).toEqual({ base_items: 12, carried: 12, replaced: 0 });
    expect(next.catalogue.catalogue_only_items).toBe(4);
    const h = await rec(['prep', '--help']);
    expect(h.stdout).toMatch(/--items <file>/);
    expect(h.stdout).toMatch(/--item-features <spec>/);
    expect(readFileSync(join(data, 'rejects.jsonl'), 'utf8')).toContain('"source":"catalogue"');
  });

  it('reads quoted titles over lines, and counts quotes left open (past --max-quoted-bytes, at the end) in the catalogue block', async () => {
    const multi = join(dir, 'multi.csv');
    const long = 'x'.repeat(120);
    writeFileSync(multi, ['sku,title,brand,tags,price', 'p1,"Nike Air', 'running shoe",Acme,a,1', 'p2,plain,Acme,b,2', `p3,"${long}`, 'more",Acme,a,3', 'p4,"open to the end,Acme,a,4'].join('\n'));
    const out = join(dir, 'multi-ds');
    const r = await rec(['prep', log, '--out', out, '--items', multi, '--item-key', 'sku', '--item-features', 'title:text,brand:category,tags:multi,price:number', '--max-quoted-bytes', '100', '--split', 'none', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const cat = (JSON.parse(r.stdout) as { catalogue: { rows: Record<string, number>; rejected_by_reason: Record<string, number> } }).catalogue;
    expect(cat.rows).toMatchObject({ read: 5, rejected: 3, items: 2 });
    expect(cat.rejected_by_reason).toEqual({ unclosed_quote: 2, wrong_column_count: 1 });
    const rejected = readFileSync(join(out, 'rejects.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { source: string; line: number; reason: string });
    expect(rejected.map((x) => [x.source, x.line, x.reason])).toEqual([
      ['catalogue', 5, 'unclosed_quote'],
      ['catalogue', 6, 'wrong_column_count'],
      ['catalogue', 7, 'unclosed_quote'],
    ]);
  });
});

// Issue 21's synthetic data: rec synth writes the catalogue beside its log, and rec prep reads it as it is.
describe('rec synth --catalogue --new-items, then rec prep --items', () => {
  const sdir = tempDir('rec-synth-catalogue-');
  const FEATURES = 'title:text,brand:category,categories:multi,price:number';

  it('writes items.jsonl beside the log (--json reports it), with the flags in --help', async () => {
    const s = await rec(['synth', '--out', join(sdir, 'shop.csv'), '--users', '200', '--items', '150', '--categories', '6', '--events', '5000', '--days', '6', '--seed', '3', '--catalogue', '--new-items', '0.3', '--json']);
    expect(s.code, s.stderr).toBe(0);
    const out = JSON.parse(s.stdout) as { items: number; catalogue: { path: string; items: number; launched_later: number; not_in_log: number } };
    expect(out.catalogue).toMatchObject({ path: join(sdir, 'items.jsonl'), items: 150 });
    expect(out.catalogue.launched_later).toBeGreaterThan(20);
    expect(out.catalogue.not_in_log).toBe(150 - out.items);
    expect(out.catalogue.not_in_log).toBeGreaterThan(0);
    expect(s.stderr).toMatch(/catalogue of 150 items to .*items\.jsonl \(\d+ launched after the first day, \d+ with no row in the log\)/);
    const h = await rec(['synth', '--help']);
    expect(h.stdout).toMatch(/--catalogue \[file\]/);
    expect(h.stdout).toMatch(/--new-items <x>/);
    const bad = await rec(['synth', '--out', join(sdir, 'x.csv'), '--new-items', 'lots']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--new-items expects a number in \[0, 1\].*"lots"/);
  });

  it('preps with declared features, and with guessed ones (launched guessed as a category)', async () => {
    const items = join(sdir, 'items.jsonl');
    const declared = await rec(['prep', join(sdir, 'shop.csv'), '--out', join(sdir, 'ds'), '--items', items, '--item-features', FEATURES, '--json']);
    expect(declared.code, declared.stderr).toBe(0);
    const d = JSON.parse(declared.stdout) as { items: number; catalogue: { rows: Record<string, number>; log_items_without_row: number; catalogue_only_items: number; feature_stats: Record<string, { present: number; kind: string }> } };
    expect(d.items).toBe(150);
    expect(d.catalogue.rows).toMatchObject({ read: 150, rejected: 0, items: 150 });
    expect(d.catalogue.log_items_without_row).toBe(0);
    expect(d.catalogue.catalogue_only_items).toBeGreaterThan(0);
    expect(d.catalogue.feature_stats.title.present).toBe(150);
    expect(d.catalogue.feature_stats.categories.present).toBe(150);
    const guessed = await rec(['prep', join(sdir, 'shop.csv'), '--out', join(sdir, 'ds-guessed'), '--items', items, '--json']);
    expect(guessed.code, guessed.stderr).toBe(0);
    expect(guessed.stderr).toContain(`guessed --item-features ${FEATURES},launched:category`);
  });
});
