/**
 * `rec synth --search` (src/data/synth/search.ts, issue 22): seeded search sessions whose queries come from the
 * catalogue's titles and whose clicks follow each user's taste, leaving the log and the catalogue byte-identical.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSynth, type SynthRequest } from '../../../../src/data/synth.js';
import { UsageError } from '../../../../src/util/errors.js';
import { silentLogger } from '../../../../src/util/log.js';
import { noProgress } from '../../../../src/util/progress.js';

const io = { log: silentLogger, progress: noProgress };
let dir: string;
const shop: Omit<SynthRequest, 'out'> = { users: 400, items: 300, categories: 10, events: 16000, days: 10, seed: 13 };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rec-synth-search-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function synth(name: string, search: boolean, seed = 13): Promise<{ log: string; items: string; search: string | null }> {
  const sub = join(dir, name);
  const out = join(sub, 'shop.csv');
  await runSynth({ ...shop, seed, out, catalogue: true, ...(search ? { search: true } : {}) }, io);
  return {
    log: await readFile(out, 'utf8'),
    items: await readFile(join(sub, 'items.jsonl'), 'utf8'),
    search: search ? await readFile(join(sub, 'searches.csv'), 'utf8') : null,
  };
}

function csvRows(text: string): string[][] {
  return text
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => l.split(','));
}

describe('rec synth --search', () => {
  it('leaves the log and the catalogue byte-identical, and is seeded', async () => {
    const plain = await synth('plain', false);
    const a = await synth('a', true);
    const b = await synth('b', true);
    const c = await synth('c', true, 14);
    expect(a.log).toBe(plain.log);
    expect(a.items).toBe(plain.items);
    expect(a.search).toBe(b.search);
    expect(c.search).not.toBe(a.search);
    expect(a.search?.split('\n')[0]).toBe('user,query,item,ts,event');
  });

  it('queries are words of the titles; clicks follow the user\'s taste (the category they buy most in the log)', async () => {
    const s = await synth('taste', true);
    const title = new Map<string, string[]>();
    const category = new Map<string, string>();
    for (const line of s.items.trim().split('\n')) {
      const o = JSON.parse(line) as { item: string; title: string; categories: string[] };
      title.set(o.item, o.title.toLowerCase().split(' '));
      category.set(o.item, o.categories[0].toLowerCase());
    }
    const favourite = new Map<string, Map<string, number>>();
    for (const [user, item] of csvRows(s.log)) {
      const m = favourite.get(user) ?? new Map<string, number>();
      const c = category.get(item) ?? '';
      m.set(c, (m.get(c) ?? 0) + 1);
      favourite.set(user, m);
    }
    const top = (user: string): string => [...(favourite.get(user) ?? new Map<string, number>()).entries()].sort((x, y) => y[1] - x[1])[0]?.[0] ?? '';
    const clicks = csvRows(s.search ?? '').filter((r) => r[4] === 'click');
    expect(clicks.length).toBeGreaterThan(500);
    const sharesWord = clicks.filter(([, q, item]) => q.split(' ').some((w) => (title.get(item) ?? []).includes(w))).length;
    expect(sharesWord / clicks.length).toBeGreaterThan(0.8);
    const inFavourite = clicks.filter(([user, , item]) => category.get(item) === top(user)).length;
    // 10 categories: about 0.1 if clicks ignored the user.
    expect(inFavourite / clicks.length).toBeGreaterThan(0.3);
  });

  it('needs --catalogue, and a .csv path', async () => {
    await expect(runSynth({ ...shop, out: join(dir, 'x', 'shop.csv'), search: true }, io)).rejects.toThrow(UsageError);
    await expect(runSynth({ ...shop, out: join(dir, 'y', 'shop.csv'), catalogue: true, search: join(dir, 'y', 's.jsonl') }, io)).rejects.toThrow('--search must end in .csv or .csv.gz');
  });
});
