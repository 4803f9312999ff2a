/**
 * Search end to end (issue #22): a small judged search log with its catalogue → rec prep → rec train --model bm25 and
 * two-tower → rec eval (judged, full, gates) → rec search (one query, a misspelt one, a batch file, CSV, Arrow, --json,
 * an empty query). The fixture is written here: 40 products of 8 kinds, queries naming a kind (and sometimes a
 * colour), judged 3 on their own kind and colour, 2 on their kind, 1 on another kind.
 */
import { cpSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tableFromIPC } from 'apache-arrow';
import { beforeAll, describe, expect, it } from 'vitest';
import { killMidEpoch, rec, tempDir, weightsSha256 } from './helpers.js';

const dir = tempDir('rec-search-');
const log = join(dir, 'search.csv');
const ds = join(dir, 'ds');
const bm25 = join(dir, 'bm25');
const tower = join(dir, 'tower');

const KINDS = ['drill', 'hammer', 'ladder', 'faucet', 'shovel', 'lamp', 'toilet', 'paint'];
const COLOURS = ['red', 'blue', 'black', 'white', 'green'];

function fixture(): string {
  const rows = ['id,product_uid,product_title,search_term,relevance'];
  const products = KINDS.flatMap((kind, k) => COLOURS.map((colour, c) => ({ uid: `${100 + k * 10 + c}`, kind, colour, title: `Acme ${colour} ${kind} model ${k}${c}` })));
  let id = 1;
  for (const kind of KINDS) {
    for (const colour of COLOURS) {
      const query = (kind.length + colour.length) % 3 === 0 ? `${kind}` : `${colour} ${kind}`;
      for (const p of products) {
        const sameKind = p.kind === kind;
        // Each query is judged on its kind's products and two products of other kinds.
        if (!sameKind && (p.uid.charCodeAt(2) + colour.length) % 9 !== 0) continue;
        const rel = sameKind ? (query.includes(p.colour) || p.colour === colour ? 3 : 2) : 1;
        rows.push(`${id++},${p.uid},"${p.title}",${query} ${id % 7 === 0 ? 'tool' : ''},${rel}`);
      }
    }
  }
  return `${rows.join('\n')}\n`;
}

beforeAll(async () => {
  writeFileSync(log, fixture());
  const prep = await rec(['prep', log, '--columns', 'query=search_term,item=product_uid,relevance=relevance', '--items', log, '--item-key', 'product_uid', '--item-features', 'product_title:text', '--split', 'query:0.6,0.2,0.2', '--out', ds]);
  expect(prep.code, prep.stderr).toBe(0);
  const [b, t] = await Promise.all([
    rec(['train', '--data', ds, '--model', 'bm25', '--out', bm25]),
    rec(['train', '--data', ds, '--model', 'two-tower', '--out', tower, '--epochs', '3', '--dim', '16', '--batch-size', '32']),
  ]);
  expect(b.code, b.stderr).toBe(0);
  expect(t.code, t.stderr).toBe(0);
}, 120_000);

interface SearchJson {
  results: { query: string; user: string | null; items: { item: string; score: number; title?: string | null }[] }[];
  loaded_from: string;
}

describe('rec train on a search log', () => {
  it('writes a complete checkpoint with the search sidecar and a validation curve', () => {
    for (const ck of [bm25, tower]) {
      const run = JSON.parse(readFileSync(join(ck, 'run.json'), 'utf8')) as { status: string; model: string };
      expect(run.status).toBe('completed');
      const spec = JSON.parse(readFileSync(join(ck, 'model', 'search_spec.json'), 'utf8')) as { model: string; head: { features: string[] } | null };
      expect(spec.model).toBe(run.model);
      // The relevance head is fitted on the graded validation pairs.
      expect(spec.head?.features).toContain('overlap_words');
    }
    const metrics = readFileSync(join(tower, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { valid: Record<string, number> });
    expect(metrics.length).toBeGreaterThanOrEqual(1);
    expect(metrics[0].valid['ndcg@10']).toBeGreaterThan(0);
  });

  it('refuses a recommendation model on a search log without users, and a search model on a behaviour log', async () => {
    const mf = await rec(['train', '--data', ds, '--model', 'mf', '--out', join(dir, 'mf')]);
    expect(mf.code).toBe(2);
    const synth = join(dir, 'shop.csv');
    expect((await rec(['synth', '--out', synth, '--users', '30', '--items', '20', '--events', '400'])).code).toBe(0);
    const shop = await rec(['train', '--data', synth, '--model', 'bm25', '--out', join(dir, 'shop-bm25')]);
    expect(shop.code).toBe(2);
    expect(shop.stderr).toMatch(/search log/);
    const space = join(dir, 'space.yaml');
    writeFileSync(space, 'train.lr: {log_uniform: [0.001, 0.05]}\n');
    const tune = await rec(['tune', '--data', ds, '--model', 'two-tower', '--space', space, '--trials', '2', '--metric', 'ndcg@10', '--out', join(dir, 'study')]);
    expect(tune.code).toBe(2);
    expect(tune.stderr).toMatch(/does not tune yet/);
  }, 60_000);
});

describe('rec train --resume of a search model', () => {
  it('continues a run killed mid-epoch to exactly the weights of one never interrupted', async () => {
    const args = (out: string) => ['train', '--data', ds, '--model', 'hybrid', '--out', out, '--epochs', '2', '--dim', '8', '--batch-size', '8', '--save-every', '2', '--early-stop', 'ndcg@10', '--patience', '0'];
    const whole = join(dir, 'whole');
    const killed = join(dir, 'killed');
    expect((await rec(args(whole))).code).toBe(0);
    expect(await killMidEpoch(args(killed), killed, 1)).toBe('SIGKILL');
    const resumed = await rec(['train', '--out', killed, '--resume']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(/resuming .* at epoch 2, step [1-9]/);
    expect(weightsSha256(killed)).toBe(weightsSha256(whole));
    // The blend and the relevance head are fitted again at the best epoch: the same on both.
    expect(readFileSync(join(killed, 'model', 'search_spec.json'), 'utf8')).toBe(readFileSync(join(whole, 'model', 'search_spec.json'), 'utf8'));
  }, 90_000);
});

describe('rec eval of a search checkpoint', () => {
  it('ranks the judged items of held-out queries, and retrieves from the whole catalogue', async () => {
    const judged = await rec(['eval', bm25, '--json']);
    expect(judged.code, judged.stderr).toBe(0);
    const j = JSON.parse(judged.stdout) as { protocol: { name: string }; metrics: Record<string, number>; queries: { evaluated: number } };
    expect(j.protocol.name).toBe('judged');
    expect(j.queries.evaluated).toBeGreaterThan(0);
    // Every query names its kind, which only its own products' titles hold: BM25 puts them first.
    expect(j.metrics['ndcg@10']).toBeGreaterThan(0.9);
    expect(j.metrics.rmse).toBeLessThan(1);
    const full = await rec(['eval', bm25, '--protocol', 'full', '--k', '5', '--json']);
    expect(full.code, full.stderr).toBe(0);
    const f = JSON.parse(full.stdout) as { protocol: { name: string }; metrics: Record<string, number> };
    expect(f.protocol.name).toBe('full');
    expect(f.metrics['recall@5']).toBeGreaterThan(0.5);
    expect(JSON.parse(readFileSync(join(bm25, 'eval-test-full.json'), 'utf8'))).toMatchObject({ kind: 'search', split: 'test' });
  }, 60_000);

  it('gates like recommendation: --fail-under and --baseline --max-drop exit 3', async () => {
    const fail = await rec(['eval', bm25, '--fail-under', 'ndcg@10=1.01']);
    expect(fail.code).toBe(3);
    const base = await rec(['eval', tower, '--baseline', bm25, '--max-drop', 'ndcg@10=0.5', '--json']);
    expect(base.code, base.stderr).toBe(0);
    expect((JSON.parse(base.stdout) as { baseline: { metrics: Record<string, number> } }).baseline.metrics['ndcg@10']).toBeGreaterThan(0);
    const bad = await rec(['eval', bm25, '--protocol', 'sampled:10']);
    expect(bad.code).toBe(2);
  }, 60_000);
});

describe('rec search', () => {
  it('ranks the catalogue for a query, a misspelt one, and refuses an empty one', async () => {
    const r = await rec(['search', bm25, 'red drill', '--k', '3', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as SearchJson;
    expect(out.results[0].query).toBe('red drill');
    expect(out.results[0].items[0]).toMatchObject({ item: '100', title: 'Acme red drill model 00' });
    // "drlil": no word matches, its character trigrams still do.
    const typo = await rec(['search', bm25, 'drlil', '--k', '5', '--json']);
    const items = (JSON.parse(typo.stdout) as SearchJson).results[0].items.map((i) => i.item);
    expect(items.length).toBeGreaterThan(0);
    expect(items.every((i) => i.startsWith('10'))).toBe(true);
    const empty = await rec(['search', bm25, '   ']);
    expect(empty.code).toBe(2);
    expect(empty.stderr).toMatch(/empty/);
  }, 60_000);

  it('runs a batch of queries to JSONL on stdout, CSV and Arrow files', async () => {
    const queries = join(dir, 'queries.csv');
    writeFileSync(queries, 'query,user\nblue hammer,u1\n\nladder,\n水龙头 faucet 🚿,u2\n');
    const lines = await rec(['search', tower, '--queries', queries, '--k', '2']);
    expect(lines.code, lines.stderr).toBe(0);
    const parsed = lines.stdout.trim().split('\n').map((l) => JSON.parse(l) as { query: string; user: string | null; items: unknown[] });
    expect(parsed.map((p) => [p.query, p.user])).toEqual([
      ['blue hammer', 'u1'],
      ['ladder', null],
      ['水龙头 faucet 🚿', 'u2'],
    ]);
    expect(parsed.every((p) => p.items.length === 2)).toBe(true);
    // One query a line: the newline ending the file starts no query; a blank line inside is skipped with a warning.
    const txt = join(dir, 'queries.txt');
    writeFileSync(txt, 'blue hammer\nladder\n');
    const plain = await rec(['search', tower, '--queries', txt, '--k', '1']);
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stdout.trim().split('\n')).toHaveLength(2);
    expect(plain.stderr).not.toMatch(/blank/);
    expect(plain.stderr).toMatch(/2 queries answered/);
    writeFileSync(txt, 'blue hammer\n\nladder\n');
    expect((await rec(['search', tower, '--queries', txt, '--k', '1'])).stderr).toMatch(/1 blank query skipped/);
    const csv = join(dir, 'out.csv');
    expect((await rec(['search', tower, 'shovel', '--k', '3', '--out', csv])).code).toBe(0);
    expect(readFileSync(csv, 'utf8').split('\n')[0]).toBe('query,user,rank,item,score,title');
    const arrow = join(dir, 'out.arrow');
    expect((await rec(['search', tower, '--queries', queries, '--out', arrow])).code).toBe(0);
    const t = tableFromIPC(readFileSync(arrow));
    expect(t.schema.fields.map((f) => f.name)).toEqual(['query', 'user', 'rank', 'item', 'score', 'title']);
    expect(String(t.getChild('title')?.get(0))).toMatch(/^Acme \w+ \w+ model \d+$/);
    expect(t.numRows).toBe(30);
    expect(t.getChild('user')?.get(10)).toBeNull();
    // An existing file is never replaced unasked.
    expect((await rec(['search', tower, 'lamp', '--out', csv])).code).toBe(2);
  }, 60_000);

  it('serves from the serving block the scores the whole model gives; a checkpoint without it or its titles still serves', async () => {
    for (const ck of [bm25, tower]) {
      expect(existsSync(join(ck, 'model', 'search_serving.bin'))).toBe(true);
      // A checkpoint from before the serving block and the titles: the whole model is loaded, no title is printed.
      const old = join(dir, `old-${ck === bm25 ? 'bm25' : 'tower'}`);
      cpSync(ck, old, { recursive: true });
      rmSync(join(old, 'model', 'search_serving.bin'));
      rmSync(join(old, 'vocab', 'item_titles.arrow'));
      // Three queries in one run of each path (a misspelt one among them).
      const queries = join(dir, `serving-queries-${ck === bm25 ? 'bm25' : 'tower'}.txt`);
      writeFileSync(queries, 'red drill\nblue hamer\nlamp paint\n');
      const a = JSON.parse((await rec(['search', ck, '--queries', queries, '--k', '40', '--json'])).stdout) as SearchJson;
      const b = JSON.parse((await rec(['search', old, '--queries', queries, '--k', '40', '--json'])).stdout) as SearchJson;
      expect(a.loaded_from).toBe('serving');
      expect(b.loaded_from).toBe('model');
      expect(a.results).toHaveLength(3);
      a.results.forEach((r, k) => expect(r.items.map(({ item, score }) => ({ item, score }))).toEqual(b.results[k].items));
      expect(b.results.every((r) => r.items.every((i) => !('title' in i)))).toBe(true);
      const csv = await rec(['search', old, 'shovel', '--format', 'csv']);
      expect(csv.stdout.split('\n')[0]).toBe('query,user,rank,item,score');
    }
    // A damaged serving block is refused, naming it.
    const broken = join(dir, 'broken');
    cpSync(tower, broken, { recursive: true });
    const file = join(broken, 'model', 'search_serving.bin');
    const bytes = readFileSync(file);
    bytes[bytes.length - 5] ^= 1;
    writeFileSync(file, bytes);
    const r = await rec(['search', broken, 'drill']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/search_serving\.bin is corrupt/);
  }, 90_000);

  it('refuses a recommendation checkpoint', async () => {
    const synth = join(dir, 'shop2.csv');
    expect((await rec(['synth', '--out', synth, '--users', '30', '--items', '20', '--events', '400'])).code).toBe(0);
    const mf = join(dir, 'mf2');
    expect((await rec(['train', '--data', synth, '--model', 'pop', '--out', mf])).code).toBe(0);
    const r = await rec(['search', mf, 'drill']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/rec recommend/);
  }, 60_000);
});
