import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSynth, type SynthRequest } from '../../../src/data/synth.js';
import { UsageError } from '../../../src/util/errors.js';
import { silentLogger } from '../../../src/util/log.js';
import { noProgress } from '../../../src/util/progress.js';

const io = { log: silentLogger, progress: noProgress };
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rec-synth-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const small: Omit<SynthRequest, 'out'> = { users: 200, items: 120, categories: 8, events: 6000, days: 14, seed: 7 };

async function synthText(name: string, extra: Partial<SynthRequest> = {}): Promise<string> {
  const out = join(dir, name);
  await runSynth({ ...small, ...extra, out }, io);
  return readFile(out, 'utf8');
}

function csvRows(text: string): string[][] {
  return text
    .trimEnd()
    .split('\n')
    .slice(1)
    .map((l) => l.split(','));
}

describe('runSynth', () => {
  it('is deterministic: the same seed gives a byte-identical file, another seed a different one', async () => {
    const a = await synthText('a.csv');
    const b = await synthText('b.csv');
    const c = await synthText('c.csv', { seed: 8 });
    expect(b).toBe(a);
    expect(c).not.toBe(a);
  });

  it('writes exactly `events` rows with the documented columns and reports them', async () => {
    const out = join(dir, 'r.csv');
    const result = await runSynth({ ...small, out }, io);
    const text = await readFile(out, 'utf8');
    expect(text.split('\n')[0]).toBe('user_id,item_id,category,event,ts');
    const rows = csvRows(text);
    expect(rows).toHaveLength(6000);
    expect(result.rows).toBe(6000);
    expect(result.path).toBe(out);
    const byType = { view: 0, click: 0, cart: 0, buy: 0 };
    for (const r of rows) byType[r[3] as keyof typeof byType]++;
    expect(result.events_by_type).toEqual(byType);
    expect(result.users).toBe(new Set(rows.map((r) => r[0])).size);
    expect(result.items).toBe(new Set(rows.map((r) => r[1])).size);
    expect(result.users).toBe(200);
    // No temporary file is left beside the output.
    expect((await readdir(dir)).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });

  it('keeps the funnel nested: each click/cart/buy directly follows the previous stage of the same item', async () => {
    const rows = csvRows(await synthText('f.csv'));
    const stage = { view: 0, click: 1, cart: 2, buy: 3 } as const;
    for (let j = 0; j < rows.length; j++) {
      const s = stage[rows[j][3] as keyof typeof stage];
      expect(s).toBeDefined();
      if (s === 0) continue;
      const prev = rows[j - 1];
      expect([prev[0], prev[1], stage[prev[3] as keyof typeof stage]]).toEqual([rows[j][0], rows[j][1], s - 1]);
      expect(Number(prev[4])).toBeLessThanOrEqual(Number(rows[j][4]));
    }
    const counts = [0, 0, 0, 0];
    for (const r of rows) counts[stage[r[3] as keyof typeof stage]]++;
    // Realistic, decreasing conversion at every stage.
    expect(counts[1] / counts[0]).toBeGreaterThan(0.1);
    expect(counts[1] / counts[0]).toBeLessThan(0.6);
    expect(counts[2] / counts[1]).toBeLessThan(0.6);
    expect(counts[3] / counts[2]).toBeLessThan(0.9);
    expect(counts[3]).toBeGreaterThan(0);
  });

  it('keeps timestamps inside the window, in time order per user, and every item in one category', async () => {
    const rows = csvRows(await synthText('t.csv', { start: '2024-03-01' }));
    const start = Date.UTC(2024, 2, 1) / 1000;
    const end = start + 14 * 86400;
    const category = new Map<string, string>();
    let prev: string[] | undefined;
    for (const r of rows) {
      const ts = Number(r[4]);
      expect(Number.isInteger(ts)).toBe(true);
      expect(ts).toBeGreaterThanOrEqual(start);
      expect(ts).toBeLessThan(end);
      if (prev && prev[0] === r[0]) expect(ts).toBeGreaterThanOrEqual(Number(prev[4]));
      expect(category.get(r[1]) ?? r[2]).toBe(r[2]);
      category.set(r[1], r[2]);
      prev = r;
    }
  });

  it('has a skewed item popularity (Zipf-like)', async () => {
    const rows = csvRows(await synthText('p.csv'));
    const counts = new Map<string, number>();
    for (const r of rows) counts.set(r[1], (counts.get(r[1]) ?? 0) + 1);
    const sorted = [...counts.values()].sort((a, b) => b - a);
    const top = sorted.slice(0, Math.ceil(sorted.length / 10)).reduce((s, x) => s + x, 0);
    expect(top / rows.length).toBeGreaterThan(0.25);
  });

  it('--explicit adds a 1–5 rating column and changes nothing else', async () => {
    const plain = csvRows(await synthText('e0.csv'));
    const text = await synthText('e1.csv', { explicit: true });
    expect(text.split('\n')[0]).toBe('user_id,item_id,category,event,ts,rating');
    const rated = csvRows(text);
    expect(rated.map((r) => r.slice(0, 5))).toEqual(plain);
    const ratings = new Set(rated.map((r) => r[5]));
    expect([...ratings].sort()).toEqual(['1', '2', '3', '4', '5']);
  });

  it('writes the same rows as TSV, JSONL and gzip', async () => {
    const csv = await synthText('s.csv', { explicit: true });
    const tsv = await synthText('s.tsv', { explicit: true });
    expect(tsv).toBe(csv.replaceAll(',', '\t'));
    await runSynth({ ...small, explicit: true, out: join(dir, 's.csv.gz') }, io);
    const gz = gunzipSync(await readFile(join(dir, 's.csv.gz')));
    expect(gz.toString('utf8')).toBe(csv);
    const jsonl = await synthText('s.jsonl', { explicit: true });
    const objs = jsonl
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const rows = csvRows(csv);
    expect(objs).toHaveLength(rows.length);
    expect(objs[0]).toEqual({
      user_id: rows[0][0],
      item_id: rows[0][1],
      category: rows[0][2],
      event: rows[0][3],
      ts: Number(rows[0][4]),
      rating: Number(rows[0][5]),
    });
  });

  it('accepts events per user instead of a total', async () => {
    const result = await runSynth({ ...small, events: undefined, eventsPerUser: 5, out: join(dir, 'epu.csv') }, io);
    expect(result.rows).toBe(1000);
  });

  it('stops on abort and leaves neither the output nor a temporary file', async () => {
    const sub = await mkdtemp(join(dir, 'abort-'));
    const controller = new AbortController();
    controller.abort(new Error('interrupted'));
    await expect(runSynth({ ...small, out: join(sub, 'x.csv') }, { ...io, signal: controller.signal })).rejects.toThrow(
      'interrupted',
    );
    expect(await readdir(sub)).toEqual([]);
  });

  it('refuses to replace an existing file unless forced, and never writes into a folder', async () => {
    const sub = await mkdtemp(join(dir, 'exists-'));
    const out = join(sub, 'mine.csv');
    await writeFile(out, 'my own data\n');
    await expect(runSynth({ ...small, out }, io)).rejects.toThrow(/--out .*mine\.csv already exists\. Nothing was written.*--force/);
    expect(await readFile(out, 'utf8')).toBe('my own data\n');
    const result = await runSynth({ ...small, out, force: true }, io);
    expect(result.rows).toBe(6000);
    expect((await readFile(out, 'utf8')).startsWith('user_id,')).toBe(true);
    await mkdir(join(sub, 'folder.csv'));
    await expect(runSynth({ ...small, out: join(sub, 'folder.csv'), force: true }, io)).rejects.toThrow(/is a folder/);
    await expect(runSynth({ ...small, out: join(out, 'x.csv') }, io)).rejects.toThrow(/Cannot write .*ENOTDIR/);
    expect((await readdir(sub)).sort()).toEqual(['folder.csv', 'mine.csv']);
  });

  it('rejects bad requests with a usage error naming the flag', async () => {
    const bad: [Partial<SynthRequest>, RegExp][] = [
      [{ out: join(dir, 'x.xlsx') }, /--out must end in \.csv, \.tsv or \.jsonl.*x\.xlsx/],
      [{ users: 0 }, /--users must be an integer.*Received: 0/],
      [{ items: 2.5 }, /--items must be an integer.*Received: 2\.5/],
      [{ categories: 500 }, /--categories must not exceed --items/],
      [{ eventsPerUser: 3 }, /either --events or --events-per-user/],
      [{ start: 'yesterday' }, /--start must be an ISO date.*"yesterday"/],
      [{ start: '99999999999999999999' }, /--start as unix seconds must be at most 8640000000000.*"99999999999999999999"/],
    ];
    for (const [extra, message] of bad) {
      const req = { ...small, out: join(dir, 'bad.csv'), ...extra };
      await expect(runSynth(req, io)).rejects.toThrow(UsageError);
      await expect(runSynth(req, io)).rejects.toThrow(message);
    }
  });
});

describe('runSynth --drift', () => {
  const drifting: Omit<SynthRequest, 'out'> = { users: 600, items: 400, categories: 8, events: 30000, days: 8, seed: 5 };
  const DAY_S = 86_400;
  const START = Date.parse('2024-01-01T00:00:00Z') / 1000;

  /** Rows per item on each day, from a synth CSV. */
  function itemsByDay(text: string, days: number): Map<string, number>[] {
    const out = Array.from({ length: days }, () => new Map<string, number>());
    for (const r of csvRows(text)) {
      const m = out[Math.floor((Number(r[4]) - START) / DAY_S)];
      m.set(r[1], (m.get(r[1]) ?? 0) + 1);
    }
    return out;
  }

  it('is seeded, and --drift 0 writes the same bytes as no --drift', async () => {
    const none = await synthText('d-none.csv', drifting);
    const zero = await synthText('d-zero.csv', { ...drifting, drift: 0 });
    expect(zero).toBe(none);
    const a = await synthText('d-a.csv', { ...drifting, drift: 0.8 });
    const b = await synthText('d-b.csv', { ...drifting, drift: 0.8 });
    const c = await synthText('d-c.csv', { ...drifting, drift: 0.8, seed: 6 });
    expect(b).toBe(a);
    expect(a).not.toBe(none);
    expect(c).not.toBe(a);
    expect(csvRows(a)).toHaveLength(30000);
  });

  it('shifts item popularity day by day and launches new items, where the stationary log does not', async () => {
    const { jsDivergence } = await import('../../../src/drift/metrics.js');
    const measure = (text: string) => {
      const byDay = itemsByDay(text, 8);
      const seen = new Set(byDay[0].keys());
      let lastRows = 0;
      let lastNew = 0;
      for (const [id, n] of byDay[7]) {
        lastRows += n;
        if (!seen.has(id)) lastNew += n;
      }
      return { js1: jsDivergence(byDay[0], byDay[1]) ?? 1, js7: jsDivergence(byDay[0], byDay[7]) ?? 1, newShare: lastNew / lastRows };
    };
    const still = measure(await synthText('s-still.csv', drifting));
    const moving = measure(await synthText('s-moving.csv', { ...drifting, drift: 1 }));
    // Stationary: the last day differs from the first only by sampling noise, as much as day 2 does.
    expect(Math.abs(still.js7 - still.js1)).toBeLessThan(0.05);
    // Drifting: the gap grows with time, and well past the noise.
    expect(moving.js7).toBeGreaterThan(moving.js1 + 0.15);
    expect(moving.js7).toBeGreaterThan(still.js7 + 0.2);
    // Items unseen on day 1 take a much larger share of the last day's rows.
    expect(moving.newShare).toBeGreaterThan(3 * still.newShare);
    expect(moving.newShare).toBeGreaterThan(0.2);
  });

  it('keeps rows in time order per user and inside the window under drift', async () => {
    const text = await synthText('s-order.csv', { ...drifting, drift: 1 });
    const last = new Map<string, number>();
    for (const r of csvRows(text)) {
      const t = Number(r[4]);
      expect(t).toBeGreaterThanOrEqual(START);
      expect(t).toBeLessThan(START + 8 * DAY_S);
      expect(t).toBeGreaterThanOrEqual(last.get(r[0]) ?? 0);
      last.set(r[0], t);
    }
  });

  it('refuses a drift outside [0, 1] and a drift over a single day', async () => {
    await expect(runSynth({ ...drifting, drift: 1.5, out: join(dir, 'x.csv') }, io)).rejects.toThrow(/--drift must be a number in \[0, 1\]/);
    await expect(runSynth({ ...drifting, days: 1, drift: 0.5, out: join(dir, 'x.csv') }, io)).rejects.toThrow(/--drift 0.5 needs at least 2 days/);
  });
});
