import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { duckdb, q } from '../unit/data/prep/duckdb.js';
import { REPO, rec, tempDir } from './helpers.js';

const DOC = readFileSync(join(REPO, 'docs/warehouse.md'), 'utf8');
const example = DOC.slice(DOC.indexOf('## Example: DuckDB'));
const blocks = (lang: string): string[] => [...example.matchAll(new RegExp('```' + lang + '\\n([\\s\\S]*?)```', 'g'))].map((m) => m[1]);

/** DuckDB statements run in `dir` (relative paths in the SQL resolve there). */
async function sqlIn(dir: string, ...statements: string[]): Promise<Record<string, unknown>[]> {
  return duckdb(`SET file_search_path = ${q(dir)}`, ...statements.map((s) => s.replace(/'(events|recs\.parquet)'/g, (_m, p: string) => q(join(dir, p)))));
}

describe('docs/warehouse.md: DuckDB → rec prep → rec train → rec recommend --format parquet → DuckDB', () => {
  it('runs the example as written and DuckDB reads the recommendations back', async () => {
    const dir = tempDir('rec-warehouse-');
    const [table, exportSql, readBack] = blocks('sql');
    await sqlIn(dir, table, exportSql);
    expect(existsSync(join(dir, 'events', 'dt=2024-06-01'))).toBe(true);
    const commands = blocks('sh')[0].trim().split('\n');
    expect(commands.map((c) => c.split(' ')[1])).toEqual(['prep', 'train', 'recommend']);
    for (const line of commands) {
      const r = await rec(line.split(' ').slice(1), { cwd: dir, timeoutMs: 120_000 });
      expect(r.code, `${line}\n${r.stderr}`).toBe(0);
    }
    const manifest = JSON.parse(readFileSync(join(dir, 'data/events/manifest.json'), 'utf8')) as { rows: { read: number }; users: number; sources: { format: string }[] };
    expect(manifest.rows.read).toBe(20000);
    expect(manifest.sources.every((s) => s.format === 'parquet')).toBe(true);
    const [back] = await sqlIn(dir, readBack);
    expect(back).toEqual({ users: BigInt(manifest.users), rows: BigInt(manifest.users * 10), first_rank: 1, last_rank: 10 });
    const types = await sqlIn(dir, `DESCRIBE SELECT * FROM 'recs.parquet'`);
    expect(types.map((t) => `${String(t.column_name)}:${String(t.column_type)}`)).toEqual(['user:VARCHAR', 'rank:INTEGER', 'item:VARCHAR', 'score:FLOAT', 'cold:BOOLEAN']);
    // Similar items by the .parquet extension alone; a binary format needs --out.
    const similar = await rec(['recommend', 'ckpt/mf', '--similar-to', 'sku-1', '--k', '3', '--out', 'similar.parquet'], { cwd: dir });
    expect(similar.code, similar.stderr).toBe(0);
    const sim = await duckdb(`SELECT item, rank, "similar", score FROM ${q(join(dir, 'similar.parquet'))} ORDER BY rank`);
    expect(sim.map((r) => [r.item, r.rank])).toEqual([['sku-1', 1], ['sku-1', 2], ['sku-1', 3]]);
    const noOut = await rec(['recommend', 'ckpt/mf', '--all', '--format', 'parquet'], { cwd: dir });
    expect(noOut.code).toBe(2);
    expect(noOut.stderr).toMatch(/--format parquet needs --out FILE/);
  }, 240_000);

  it('a new day partition appends with --append-to, rec drift reads Parquet, and a broken file is exit 1 naming it', async () => {
    const dir = tempDir('rec-warehouse-');
    await duckdb(
      `COPY (SELECT 'u' || (i % 50) AS user_id, 'i' || (hash(i) % 80) AS item_id, DATE '2024-06-01' + (i // 1000)::INT AS dt FROM range(3000) t(i))
        TO ${q(join(dir, 'events'))} (FORMAT parquet, PARTITION_BY (dt))`,
    );
    const base = await rec(['prep', join(dir, 'events/dt=2024-06-01'), join(dir, 'events/dt=2024-06-02'), '--out', join(dir, 'data'), '--columns', 'user=user_id,item=item_id,ts=dt', '--split', 'days:0,1', '--json']);
    expect(base.code, base.stderr).toBe(0);
    const night = await rec(['prep', join(dir, 'events/dt=2024-06-03'), '--append-to', join(dir, 'data'), '--out', join(dir, 'data2'), '--json']);
    expect(night.code, night.stderr).toBe(0);
    const doc = JSON.parse(night.stdout) as { rows: { read: number }; append: { rows: { read_from_logs: number } } };
    expect(doc.append.rows.read_from_logs).toBe(1000);
    const drift = await rec(['drift', join(dir, 'data'), join(dir, 'events/dt=2024-06-03'), '--json']);
    expect(drift.code, drift.stderr).toBe(0);
    expect((JSON.parse(drift.stdout) as { metrics: Record<string, number> }).metrics).toHaveProperty('new_items');
    const broken = join(dir, 'broken.parquet');
    writeFileSync(broken, readFileSync(join(dir, 'events/dt=2024-06-01/data_0.parquet')).subarray(0, 300));
    const bad = await rec(['prep', broken, '--out', join(dir, 'bad')]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/broken\.parquet: not a readable Parquet file/);
    expect(existsSync(join(dir, 'bad'))).toBe(false);
  }, 120_000);
});
