/**
 * `rec synth --catalogue` and `--new-items` (src/data/synth/catalogue.ts, synth/world.ts): the catalogue is
 * seeded and leaves the log's bytes alone, its words follow the latent clusters, and launched items have no
 * row before their launch day.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSynth, type SynthRequest } from '../../../../src/data/synth.js';
import { UsageError } from '../../../../src/util/errors.js';
import { silentLogger } from '../../../../src/util/log.js';
import { noProgress } from '../../../../src/util/progress.js';

const io = { log: silentLogger, progress: noProgress };
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rec-synth-cat-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const shop: Omit<SynthRequest, 'out'> = { users: 600, items: 400, categories: 10, events: 24000, days: 10, seed: 11 };
const START = Date.parse('2024-01-01T00:00:00Z') / 1000;
const DAY_S = 86_400;

interface Item {
  item: string;
  title: string;
  brand: string | null;
  categories: string[];
  price: number | null;
  launched?: string;
}

async function synthPair(name: string, extra: Partial<SynthRequest>): Promise<{ log: string; items: Item[]; text: string }> {
  const out = join(dir, `${name}.csv`);
  const catalogue = join(dir, `${name}.items.jsonl`);
  await runSynth({ ...shop, ...extra, out, catalogue }, io);
  const text = await readFile(catalogue, 'utf8');
  return { log: await readFile(out, 'utf8'), items: text.trimEnd().split('\n').map((l) => JSON.parse(l) as Item), text };
}

function rows(log: string): string[][] {
  return log
    .trimEnd()
    .split('\n')
    .slice(1)
    .map((l) => l.split(','));
}

describe('rec synth --catalogue', () => {
  it('is seeded, one line per item in id order, and leaves the log byte for byte as without it', async () => {
    const plain = join(dir, 'plain.csv');
    await runSynth({ ...shop, out: plain }, io);
    const a = await synthPair('a', {});
    const b = await synthPair('b', {});
    const c = await synthPair('c', { seed: 12 });
    expect(a.log).toBe(await readFile(plain, 'utf8'));
    expect(b.text).toBe(a.text);
    expect(c.text).not.toBe(a.text);
    expect(a.items.map((x) => x.item)).toEqual(Array.from({ length: 400 }, (_, i) => `i${i + 1}`));
    for (const x of a.items) {
      expect(Object.keys(x)).toEqual(['item', 'title', 'brand', 'categories', 'price']);
      expect(x.title.split(' ').length).toBeGreaterThanOrEqual(2);
      expect(x.categories.length === 2 || x.categories.length === 3).toBe(true);
      if (x.price !== null) expect(x.price).toBeGreaterThan(0);
    }
    // Some noise: missing brands and prices, but few.
    const noBrand = a.items.filter((x) => x.brand === null).length;
    expect(noBrand).toBeGreaterThan(0);
    expect(noBrand).toBeLessThan(60);
  });

  it('gives items of one latent cluster far more shared title words, brands and prices alike than items of different clusters', async () => {
    const { log, items } = await synthPair('words', {});
    // The log's category column is the world's cluster of each item.
    const cluster = new Map(rows(log).map((r) => [r[1], r[2]]));
    const words = new Map(items.map((x) => [x.item, new Set(x.title.split(' '))]));
    const ids = items.map((x) => x.item).filter((id) => cluster.has(id));
    const brand = new Map(items.map((x) => [x.item, x.brand]));
    const sum = { same: 0, other: 0, sameN: 0, otherN: 0, sameBrand: 0, otherBrand: 0 };
    for (let a = 0; a < ids.length; a++) {
      for (let b = a + 1; b < ids.length; b++) {
        const wa = words.get(ids[a]) ?? new Set<string>();
        const wb = words.get(ids[b]) ?? new Set<string>();
        let shared = 0;
        for (const w of wa) if (wb.has(w)) shared++;
        const sameBrand = brand.get(ids[a]) !== null && brand.get(ids[a]) === brand.get(ids[b]) ? 1 : 0;
        if (cluster.get(ids[a]) === cluster.get(ids[b])) {
          sum.same += shared;
          sum.sameN++;
          sum.sameBrand += sameBrand;
        } else {
          sum.other += shared;
          sum.otherN++;
          sum.otherBrand += sameBrand;
        }
      }
    }
    const sameWords = sum.same / sum.sameN;
    const otherWords = sum.other / sum.otherN;
    expect(sameWords).toBeGreaterThan(5 * otherWords);
    expect(sum.sameBrand / sum.sameN).toBeGreaterThan(5 * (sum.otherBrand / sum.otherN));
    // Not a lookup table: different clusters still share a word now and then (generic and borrowed words).
    expect(otherWords).toBeGreaterThan(0);
    // The department is the cluster's name for all but a few misfiled items.
    const filed = items.filter((x) => cluster.has(x.item) && x.categories[0].toLowerCase() === cluster.get(x.item)).length;
    expect(filed / ids.length).toBeGreaterThan(0.9);
    expect(filed).toBeLessThan(ids.length);
  });

  it('within a cluster, items that share title words share more of their users', async () => {
    const { log, items } = await synthPair('users', {});
    const cluster = new Map<string, string>();
    const users = new Map<string, Set<string>>();
    for (const r of rows(log)) {
      cluster.set(r[1], r[2]);
      const set = users.get(r[1]) ?? new Set<string>();
      set.add(r[0]);
      users.set(r[1], set);
    }
    const jaccard = (a: Set<string>, b: Set<string>) => {
      let i = 0;
      for (const x of a) if (b.has(x)) i++;
      return i / (a.size + b.size - i);
    };
    const words = new Map(items.map((x) => [x.item, new Set(x.title.split(' '))]));
    const ids = items.map((x) => x.item).filter((id) => users.has(id));
    const acc = { sharing: 0, sharingN: 0, none: 0, noneN: 0 };
    for (let a = 0; a < ids.length; a++) {
      for (let b = a + 1; b < ids.length; b++) {
        if (cluster.get(ids[a]) !== cluster.get(ids[b])) continue;
        const overlap = jaccard(words.get(ids[a]) ?? new Set(), words.get(ids[b]) ?? new Set());
        const u = jaccard(users.get(ids[a]) ?? new Set(), users.get(ids[b]) ?? new Set());
        if (overlap > 0.2) {
          acc.sharing += u;
          acc.sharingN++;
        } else if (overlap === 0) {
          acc.none += u;
          acc.noneN++;
        }
      }
    }
    expect(acc.sharingN).toBeGreaterThan(100);
    expect(acc.sharing / acc.sharingN).toBeGreaterThan(1.1 * (acc.none / acc.noneN));
  });

  it('writes items.jsonl beside --out by default, gzip for .jsonl.gz, and refuses other names or an existing file', async () => {
    const sub = await mkdtemp(join(dir, 'beside-'));
    const r = await runSynth({ ...shop, out: join(sub, 'shop.csv'), catalogue: true }, io);
    expect(r.catalogue).toMatchObject({ path: join(sub, 'items.jsonl'), items: 400, launched_later: 0 });
    const text = await readFile(join(sub, 'items.jsonl'), 'utf8');
    await runSynth({ ...shop, out: join(sub, 'again.csv'), catalogue: join(sub, 'items.jsonl.gz') }, io);
    expect(gunzipSync(await readFile(join(sub, 'items.jsonl.gz'))).toString('utf8')).toBe(text);
    await expect(runSynth({ ...shop, out: join(sub, 'x.csv'), catalogue: join(sub, 'items.csv') }, io)).rejects.toThrow(/--catalogue must end in \.jsonl or \.jsonl\.gz/);
    await expect(runSynth({ ...shop, out: join(sub, 'x.jsonl'), catalogue: join(sub, 'x.jsonl') }, io)).rejects.toThrow(/--catalogue must not be the --out file/);
    await writeFile(join(sub, 'mine.jsonl'), 'mine\n');
    await expect(runSynth({ ...shop, out: join(sub, 'y.csv'), catalogue: join(sub, 'mine.jsonl') }, io)).rejects.toThrow(/--catalogue .*mine\.jsonl already exists/);
    expect(await readFile(join(sub, 'mine.jsonl'), 'utf8')).toBe('mine\n');
  });
});

describe('rec synth --new-items', () => {
  it('--new-items 0 writes the same bytes as without it; any other share is seeded and changes the log', async () => {
    const plain = join(dir, 'n-plain.csv');
    await runSynth({ ...shop, out: plain }, io);
    await runSynth({ ...shop, out: join(dir, 'n-zero.csv'), newItems: 0 }, io);
    expect(await readFile(join(dir, 'n-zero.csv'), 'utf8')).toBe(await readFile(plain, 'utf8'));
    const a = await synthPair('n-a', { newItems: 0.3 });
    const b = await synthPair('n-b', { newItems: 0.3 });
    expect(b.log).toBe(a.log);
    expect(b.text).toBe(a.text);
    expect(a.log).not.toBe(await readFile(plain, 'utf8'));
    await expect(runSynth({ ...shop, out: join(dir, 'bad.csv'), newItems: 1.5 }, io)).rejects.toThrow(UsageError);
    await expect(runSynth({ ...shop, out: join(dir, 'bad.csv'), newItems: -0.1 }, io)).rejects.toThrow(/--new-items must be a share of the items in \[0, 1\]/);
  });

  it('launches items on later days: no row before its launch day, first rows soon after, a few only in the catalogue', async () => {
    const out = join(dir, 'launch.csv');
    const catalogue = join(dir, 'launch.items.jsonl');
    const result = await runSynth({ ...shop, out, catalogue, newItems: 0.3 }, io);
    const items = (await readFile(catalogue, 'utf8'))
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as Item);
    const launch = new Map(items.map((x) => [x.item, (Date.parse(`${x.launched ?? ''}T00:00:00Z`) / 1000 - START) / DAY_S]));
    const first = new Map<string, number>();
    for (const r of rows(await readFile(out, 'utf8'))) {
      const day = Math.floor((Number(r[4]) - START) / DAY_S);
      first.set(r[1], Math.min(first.get(r[1]) ?? Infinity, day));
    }
    const later = items.filter((x) => (launch.get(x.item) ?? 0) > 0);
    expect(later.length).toBeGreaterThan(0.2 * 400);
    expect(later.length).toBeLessThan(0.4 * 400);
    expect(result.catalogue?.launched_later).toBe(later.length);
    let firstOnLaunchDay = 0;
    for (const [id, day] of first) {
      const l = launch.get(id);
      expect(l).toBeDefined();
      expect(day).toBeGreaterThanOrEqual(l ?? Infinity);
      if ((l ?? 0) > 0 && day === l) firstOnLaunchDay++;
    }
    // The launch burst: most launched items are seen on their launch day.
    const launchedInLog = later.filter((x) => first.has(x.item)).length;
    expect(firstOnLaunchDay).toBeGreaterThan(0.5 * launchedInLog);
    // Launched on day `days` (after the log): in the catalogue, never in the log.
    const upcoming = items.filter((x) => launch.get(x.item) === 10);
    expect(upcoming.length).toBeGreaterThan(0);
    for (const x of upcoming) expect(first.has(x.item)).toBe(false);
    expect(result.catalogue?.not_in_log).toBe(items.filter((x) => !first.has(x.item)).length);
    expect(result.catalogue?.not_in_log).toBeLessThan(0.1 * 400);
  });
});
