import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSynth } from '../../../src/data/synth.js';
import { UsageError } from '../../../src/util/errors.js';
import { silentLogger } from '../../../src/util/log.js';
import { noProgress } from '../../../src/util/progress.js';
import { duckdb, q } from './prep/duckdb.js';

const io = { log: silentLogger, progress: noProgress };
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rec-synth-pq-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('rec synth --format parquet', () => {
  it('writes the same rows as the CSV log, one dt= partition per day', async () => {
    const req = { users: 150, items: 90, categories: 6, events: 5000, days: 4, seed: 3, explicit: true };
    await runSynth({ ...req, out: join(dir, 'log.csv') }, io);
    await runSynth({ ...req, out: join(dir, 'events'), format: 'parquet' }, io);
    expect(await readdir(join(dir, 'events'))).toEqual(['dt=2024-01-01', 'dt=2024-01-02', 'dt=2024-01-03', 'dt=2024-01-04']);
    const csv = (await readFile(join(dir, 'log.csv'), 'utf8')).trim().split('\n').slice(1).sort();
    const rows = await duckdb(
      `SELECT user_id, item_id, category, event, epoch(ts)::BIGINT AS ts, rating, dt::VARCHAR AS dt, epoch(ts)::BIGINT // 86400 = epoch(dt::DATE)::BIGINT // 86400 AS same_day
       FROM read_parquet(${q(join(dir, 'events', '**', '*.parquet'))}, hive_partitioning = true)`,
    );
    expect(rows.every((r) => r.same_day === true)).toBe(true);
    expect(rows.map((r) => [r.user_id, r.item_id, r.category, r.event, String(r.ts), r.rating].join(',')).sort()).toEqual(csv);
  });

  it('refuses an existing --out folder without --force', async () => {
    await expect(runSynth({ users: 10, items: 10, categories: 2, events: 50, days: 2, out: join(dir, 'events'), format: 'parquet' }, io)).rejects.toThrow(UsageError);
  });
});
