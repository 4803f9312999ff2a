/**
 * `rec prep` of search logs from the CLI (issue 22 items 1 and 6): flags, the Home Depot file with --encoding, and
 * a (user, item) model refused on a search log without users.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO, rec, tempDir } from './helpers.js';

const dir = tempDir('rec-search-prep-');
const HOME_DEPOT = resolve(REPO, '../shared/datasets/homedepot-search-relevance/train.csv.zip');

function manifest(ds: string): Record<string, unknown> & { rows: Record<string, number>; search: Record<string, unknown>; items: number } {
  return JSON.parse(readFileSync(join(ds, 'manifest.json'), 'utf8')) as Record<string, unknown> & { rows: Record<string, number>; search: Record<string, unknown>; items: number };
}

describe('rec prep (search logs)', () => {
  it('preps a small anonymous log with --relevance-range; rec train --model mf on it is refused (exit 2) naming the missing users', async () => {
    const log = join(dir, 'log.csv');
    const lines = ['search_term,product_uid,relevance'];
    for (let q = 0; q < 30; q++) lines.push(`"angle bracket ${q}",${100 + (q % 9)},${1 + (q % 3)}`);
    lines.push('"",101,2', 'x,102,7');
    writeFileSync(log, `${lines.join('\n')}\n`);
    const ds = join(dir, 'ds');
    const prep = await rec(['prep', log, '--out', ds, '--columns', 'query=search_term,item=product_uid,relevance=relevance', '--relevance-range', '1,3', '--max-rejects', '2', '--json']);
    expect(prep.code, prep.stderr).toBe(0);
    const m = manifest(ds);
    expect(m.rows).toMatchObject({ read: 32, rejected: 2 });
    expect(m.search).toMatchObject({ queries: 30, anonymous: true });
    expect(prep.stderr).toContain('search log: 30 queries');
    const train = await rec(['train', '--data', ds, '--model', 'mf', '--epochs', '1', '--backend', 'cpu', '--out', join(dir, 'ck')]);
    expect(train.code).toBe(2);
    expect(train.stderr).toContain('has no users: it is a search log prepped without a user column');
  }, 60_000);

  it('refuses --split leave-last for a search log (exit 2)', async () => {
    const log = join(dir, 'll.csv');
    writeFileSync(log, 'q,item\na,1\nb,2\n');
    const r = await rec(['prep', log, '--out', join(dir, 'll'), '--columns', 'query=q,item=item', '--split', 'leave-last']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--split leave-last (config prep.split) holds out each user');
  });

  it.skipIf(!existsSync(HOME_DEPOT))('the Home Depot file preps whole with --encoding latin1, as log and catalogue', async () => {
    const csv = join(dir, 'train.csv');
    writeFileSync(csv, execFileSync('unzip', ['-p', HOME_DEPOT], { maxBuffer: 1 << 26 }));
    const cols = ['--columns', 'query=search_term,item=product_uid,relevance=relevance', '--items', csv, '--item-key', 'product_uid', '--item-features', 'product_title:text'];
    const ds = join(dir, 'hd');
    const r = await rec(['prep', csv, '--out', ds, ...cols, '--encoding', 'latin1'], { timeoutMs: 120_000 });
    expect(r.code, r.stderr).toBe(0);
    const m = manifest(ds);
    expect(m.rows).toMatchObject({ read: 74067, rejected: 0, deduplicated: 0 });
    expect(m.rows.train + m.rows.valid + m.rows.test).toBe(74067);
    expect(m.items).toBe(54667);
    expect(m.search).toMatchObject({ queries: 11795, anonymous: true, relevance: { min: 1, max: 3 }, items_without_catalogue_row: 0 });
    // As UTF-8 its 278 Latin-1 lines are rejected, with the reason, in the log and in the catalogue.
    const u = join(dir, 'hd-utf8');
    expect((await rec(['prep', csv, '--out', u, ...cols], { timeoutMs: 120_000 })).code).toBe(0);
    expect(manifest(u).rejected_by_reason).toEqual({ invalid_utf8: 278 });
  }, 240_000);
});
