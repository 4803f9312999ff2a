/**
 * `rec train` with a catalogue (issue 21): the item encoder is trained, saved beside the weights,
 * resumed exactly, carried by --init-from, and refused where it cannot apply.
 */
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { epochMetrics, killMidEpoch, rec, tempDir } from './helpers.js';

const dir = tempDir('rec-item-features-');
const ds = join(dir, 'ds');

/** A catalogue for the synth log's items i1..i100 (brand, category from the log, a title) and ten catalogue-only items. */
function writeCatalogue(log: string, out: string): void {
  const category = new Map<string, string>();
  for (const line of readFileSync(log, 'utf8').trim().split('\n').slice(1)) {
    const [, item, cat] = line.split(',');
    category.set(item, cat);
  }
  const rows: string[] = [];
  for (let n = 1; n <= 110; n++) {
    const cat = category.get(`i${n}`) ?? ['garden', 'toys', 'books'][n % 3];
    rows.push(JSON.stringify({ item: `i${n}`, title: `${cat} thing model ${n % 5}`, brand: `b${n % 7}`, tags: [cat, `t${n % 4}`], price: 5 + (n % 13) }));
  }
  writeFileSync(out, `${rows.join('\n')}\n`);
}

const trainArgs = (out: string, extra: string[] = []) => ['train', '--data', ds, '--model', 'mf', '--loss', 'bce', '--epochs', '2', '--dim', '8', '--batch-size', '256', '--seed', '3', '--backend', 'cpu', '--out', out, ...extra];
const spec = (modelDir: string) => JSON.parse(readFileSync(join(modelDir, 'item_encoder_spec.json'), 'utf8')) as { composed: boolean; tokens: string[] };

beforeAll(async () => {
  const log = join(dir, 'log.csv');
  expect((await rec(['synth', '--out', log, '--users', '200', '--items', '100', '--events', '12000', '--seed', '4'])).code).toBe(0);
  // Five users' last rows are two catalogue items the log never had: leave-last makes them test rows of items without a training row.
  appendFileSync(log, ['u1,i101', 'u2,i101', 'u3,i102', 'u4,i102', 'u5,i101'].map((p, k) => `${p},books,buy,${1_900_000_000 + k}\n`).join(''));
  const cat = join(dir, 'items.jsonl');
  writeCatalogue(log, cat);
  const prep = await rec(['prep', log, '--out', ds, '--split', 'leave-last', '--items', cat, '--item-features', 'title:text,brand:category,tags:multi,price:number']);
  expect(prep.code, prep.stderr).toBe(0);
}, 60_000);

describe('rec train with item features', () => {
  it('trains an encoder, saves composed vectors in model/ and id rows in last/, and marks featured items', async () => {
    const ck = join(dir, 'mf');
    const r = await rec(trainArgs(ck), { timeoutMs: 120_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/item features: \d+ feature values with rows from brand:category, price:number, tags:multi, title:text; 110 of 110 items have features, 10 of them without a training row/);
    expect(spec(join(ck, 'model')).composed).toBe(true);
    expect(spec(join(ck, 'last', 'model')).composed).toBe(false);
    const trained = JSON.parse(readFileSync(join(ck, 'vocab', 'trained.json'), 'utf8')) as { items: { trained: number }; featured: { trained: number; rows: number } };
    expect(trained.featured).toEqual(expect.objectContaining({ rows: 110, trained: 110 }));
    expect(trained.items.trained).toBe(100);
    const specs = JSON.parse(readFileSync(join(ck, 'model', 'item_encoder.json'), 'utf8')) as { weights: { name: string }[] };
    expect(specs.weights.map((w) => w.name).sort()).toEqual(['id/item_bias', 'id/item_embedding', 'item_bias#features', 'item_embedding#features']);
  }, 150_000);

  it('ranks, serves and finds neighbours of the catalogue-only items from their features', async () => {
    const ck = join(dir, 'mf');
    const cold = await rec(['eval', ck, '--items', 'cold', '--backend', 'cpu', '--json']);
    expect(cold.code, cold.stderr).toBe(0);
    const report = JSON.parse(cold.stdout) as { relevant_items: { cold_ranked: number; warm_ranked: number; cold_skipped: number }; metrics: Record<string, number> };
    expect(report.relevant_items).toEqual(expect.objectContaining({ warm_ranked: 0, cold_ranked: 5, cold_skipped: 0 }));
    expect(Number.isFinite(report.metrics['ndcg@10'])).toBe(true);
    const served = await rec(['recommend', ck, '--all', '--k', '100', '--new-items', '--backend', 'cpu']);
    expect(served.code, served.stderr).toBe(0);
    const fromFeatures = new Set<string>();
    for (const line of served.stdout.trim().split('\n')) {
      for (const it of (JSON.parse(line) as { items: { item: string; from_features?: boolean }[] }).items) if (it.from_features === true) fromFeatures.add(it.item);
    }
    expect(fromFeatures.size).toBeGreaterThan(0);
    expect([...fromFeatures].every((id) => Number(id.slice(1)) > 100)).toBe(true);
    const similar = await rec(['recommend', ck, '--similar-to', 'i105', '--k', '5', '--backend', 'cpu', '--json']);
    expect(similar.code, similar.stderr).toBe(0);
    expect(similar.stderr).not.toMatch(/untrained|random/);
  }, 150_000);

  it('--features none trains on ids only', async () => {
    const ck = join(dir, 'none');
    const r = await rec(trainArgs(ck, ['--features', 'none']), { timeoutMs: 120_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/item features:/);
    expect(existsSync(join(ck, 'model', 'item_encoder_spec.json'))).toBe(false);
    expect(readFileSync(join(ck, 'vocab', 'trained.json'), 'utf8')).not.toMatch(/featured/);
  }, 150_000);

  it('--init-from carries the parent\'s feature values first, with their rows', async () => {
    const parent = join(dir, 'mf');
    const ck = join(dir, 'child');
    const r = await rec(trainArgs(ck, ['--init-from', parent, '--epochs', '1']), { timeoutMs: 120_000 });
    expect(r.code, r.stderr).toBe(0);
    const theirs = spec(join(parent, 'model')).tokens;
    expect(r.stderr).toContain(`(${theirs.length} of them, with their rows, from --init-from ${parent})`);
    expect(spec(join(ck, 'model')).tokens.slice(0, theirs.length)).toEqual(theirs);
  }, 150_000);

  it('refuses --dense, and a model that does not use features says so', async () => {
    const dense = await rec(trainArgs(join(dir, 'dense'), ['--dense']));
    expect(dense.code).toBe(2);
    expect(dense.stderr).toMatch(/item features are trained row-sparsely.*--features none/);
    const pop = await rec(['train', '--data', ds, '--model', 'pop', '--out', join(dir, 'pop'), '--backend', 'cpu']);
    expect(pop.code, pop.stderr).toBe(0);
    expect(pop.stderr).toMatch(/--model pop scores items by their interactions only/);
    const dropout = await rec(['train', '--data', ds, '--model', 'pop', '--id-dropout', '0.5', '--out', join(dir, 'pop2'), '--backend', 'cpu']);
    expect(dropout.code).toBe(2);
    expect(dropout.stderr).toMatch(/id_dropout|id-dropout/);
  }, 150_000);
});

describe('kill -9 mid-epoch with item features, then --resume', () => {
  it('finishes with exactly the metrics of an uninterrupted run', async () => {
    const args = (out: string) => trainArgs(out, ['--epochs', '3', '--batch-size', '64', '--save-every', '7', '--patience', '0']);
    const full = join(dir, 'full');
    const ref = await rec(args(full), { timeoutMs: 120_000 });
    expect(ref.code, ref.stderr).toBe(0);
    const killed = join(dir, 'killed');
    expect(await killMidEpoch(args(killed), killed)).toBe('SIGKILL');
    const resumed = await rec(['train', '--out', killed, '--resume', '--backend', 'cpu'], { timeoutMs: 120_000 });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(epochMetrics(killed)).toEqual(epochMetrics(full));
    expect(readFileSync(join(killed, 'model', 'weights.bin'))).toEqual(readFileSync(join(full, 'model', 'weights.bin')));
  }, 240_000);
});
