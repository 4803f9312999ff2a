import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { modelSchema, prepSchema, type ModelName } from '../../../src/config/schema.js';
import { loadDataset, manifestSha256, readVocabFile } from '../../../src/data/dataset.js';
import { vocabMapping } from '../../../src/eval/prepare.js';
import { runPrep } from '../../../src/data/prep/run.js';
import { initEngine } from '../../../src/engine/backend.js';
import { readRunJson, type RunJson } from '../../../src/io/checkpoint.js';
import { loadModel } from '../../../src/models/saved.js';
import { namedWeights, tablesOf, type AnyModel } from '../../../src/models/model.js';
import { buildModel, type PairModelName } from '../../../src/models/registry.js';
import { loadRecommendCheckpoint } from '../../../src/recommend/source.js';
import { catalogueExtension, replayEpoch, selectRows } from '../../../src/train/fine-tune.js';
import { checkParents, initFromParents, readVocabIds } from '../../../src/train/init-from.js';
import { Prng } from '../../../src/util/prng.js';
import { silentLogger } from '../../../src/util/log.js';
import { noProgress } from '../../../src/util/progress.js';
import { tempRoot, train } from './helpers.js';

const dir = tempRoot('rec-fine-tune-test-');
const DAY = 86_400;
const DAY1 = 1_700_000_000;
const DAY2 = DAY1 + DAY;
const FAMILIES: PairModelName[] = ['mf', 'gmf', 'mlp', 'neumf'];
const ITEM_TABLES: Record<PairModelName | 'sasrec', string[]> = {
  mf: ['item_embedding', 'item_bias'],
  gmf: ['gmf_item_embedding'],
  mlp: ['mlp_item_embedding'],
  neumf: ['gmf_item_embedding', 'mlp_item_embedding'],
  sasrec: [],
};

type Row = readonly [string, string, number];

async function prepRows(out: string, rows: readonly Row[]): Promise<string> {
  const log = `${out}.csv`;
  writeFileSync(log, `user,item,ts\n${rows.map((r) => r.join(',')).join('\n')}\n`);
  await runPrep(
    { inputs: [log], out, config: prepSchema.parse({ split: 'none', feedback: 'implicit', columns: 'user=user,item=item,ts=ts', ts_unit: 's' }), seed: 2020, recVersion: 'test' },
    { log: silentLogger, progress: noProgress },
  );
  return out;
}

/** Day 1: users u1..u6 × items i1..i9. */
const parentRows: Row[] = [];
for (let u = 1; u <= 6; u++) for (let j = 0; j < 4; j++) parentRows.push([`u${u}`, `i${((u * 3 + j) % 9) + 1}`, DAY1 + u * 60 + j]);
/**
 * The child's window: day 1 without u1, u2 and i9 (they aged out), then day 2 with new users u7,
 * u8 and new items i10, i11 beside known ones.
 */
const childRows: Row[] = [
  ...parentRows.filter(([u, i]) => u !== 'u1' && u !== 'u2' && i !== 'i9'),
  ['u7', 'i10', DAY2 + 1],
  ['u7', 'i2', DAY2 + 2],
  ['u7', 'i3', DAY2 + 3],
  ['u8', 'i11', DAY2 + 4],
  ['u8', 'i10', DAY2 + 5],
  ['u3', 'i11', DAY2 + 6],
  ['u4', 'i10', DAY2 + 7],
];

let P = '';
let C = '';
const parents: Partial<Record<ModelName, string>> = {};

beforeAll(async () => {
  await initEngine({ backend: 'cpu', log: silentLogger });
  P = await prepRows(dir('P'), parentRows);
  C = await prepRows(dir('C'), childRows);
  for (const m of FAMILIES) parents[m] = (await train(P, dir(`parent-${m}`), m, { model: { dim: 4 }, train: { epochs: 2 } })).checkpoint;
}, 60_000);

function table(model: AnyModel, name: string): { width: number; values: Float32Array } {
  const w = namedWeights(model.keras).find((x) => x.key === `${name}/embeddings`);
  if (!w) throw new Error(`no table ${name}`);
  return { width: w.variable.shape[1] as number, values: Float32Array.from(w.variable.dataSync()) };
}

function rowOf(model: AnyModel, name: string, index: number): number[] {
  const t = table(model, name);
  return Array.from(t.values.subarray(index * t.width, (index + 1) * t.width));
}

describe('fine-tuning keeps the catalogue (every pair family)', () => {
  it.each(FAMILIES)('%s: before the first step, known ids carry their rows exactly, new ids fresh ones, absent parent ids are appended with theirs', async (m) => {
    const parentCkpt = parents[m] as string;
    const parent = await loadModel(join(parentCkpt, 'model'));
    const pv = await readVocabIds(join(parentCkpt, 'vocab'));
    const data = await readVocabIds(C);
    const ext = await catalogueExtension([parentCkpt], true, data);
    expect(ext.users.ids).toEqual(['u1', 'u2']);
    expect(ext.items.ids).toEqual(['i9']);
    const ids = { users: [...data.users, ...ext.users.ids], items: [...data.items, ...ext.items.ids] };
    const build = () => {
      let s = 5;
      return buildModel(m, { config: modelSchema.parse({ dim: 4, dropout: 0 }), shape: { users: ids.users.length, items: ids.items.length, globalMean: 0 }, nextSeed: () => s++ });
    };
    const child = build();
    const untouched = build();
    await initFromParents({ parents: [parentCkpt], model: child, alpha: 0.5, ...ids, log: silentLogger }, await checkParents([parentCkpt], m));
    for (const t of tablesOf(child)) {
      const mine = t.kind === 'user' ? ids.users : ids.items;
      const theirs = t.kind === 'user' ? pv.users : pv.items;
      for (let c = 0; c < mine.length; c++) {
        const p = theirs.indexOf(mine[c]);
        expect(rowOf(child, t.name, c), `${t.name} ${mine[c]}`).toEqual(p >= 0 ? rowOf(parent, t.name, p) : rowOf(untouched, t.name, c));
      }
    }
    // The appended ids sit after the dataset's indices: dataset index i is model row i.
    expect(ids.users.slice(0, data.users.length)).toEqual(data.users);
    parent.keras.dispose();
    child.keras.dispose();
    untouched.keras.dispose();
  });

  it.each(FAMILIES)('%s: rec train --init-from --replay 0 --freeze <item tables>: vocab/ extended, rows kept and frozen, run.json records the changes, new users warm', async (m) => {
    const parentCkpt = parents[m] as string;
    const out = dir(`child-${m}`);
    const result = await train(C, out, m, { model: { dim: 4 }, train: { epochs: 2, replay: 0, freeze: ITEM_TABLES[m] } }, { initFrom: [parentCkpt] });
    const run: RunJson = await readRunJson(out);
    const vocab = await readVocabIds(join(out, 'vocab'));
    const data = await readVocabIds(C);
    expect(vocab.users).toEqual([...data.users, 'u1', 'u2']);
    expect(vocab.items).toEqual([...data.items, 'i9']);
    // Counts of a kept id are the parent's.
    const counts = (await readVocabFile(join(out, 'vocab', 'users.arrow'))).counts;
    const parentUsers = await readVocabFile(join(parentCkpt, 'vocab', 'users.arrow'));
    expect(counts[vocab.users.indexOf('u1')]).toBe(parentUsers.counts[parentUsers.lookup('u1')]);
    expect(run.fine_tune).toMatchObject({
      parents: [parentCkpt],
      users: { reused: 4, added: 2, kept_without_data: 2, total: 8 },
      items: { reused: 8, added: 2, kept_without_data: 1, total: 11 },
      frozen: { parts: ITEM_TABLES[m], rows: { users: 0, items: 11 } },
      replay: { fraction: 0, new_rows: 7, replayed_per_epoch: 0 },
    });
    expect(run.fine_tune?.replay?.since_ts).toBe((DAY1 + 6 * 60 + 3) * 1000);
    expect(run.dataset.train_max_ts).toBe((DAY2 + 7) * 1000);
    expect(run.model).toBe(m);
    expect(result.epochs).toHaveLength(2);

    const parent = await loadModel(join(parentCkpt, 'model'));
    const child = await loadModel(join(out, 'model'));
    const pv = await readVocabIds(join(parentCkpt, 'vocab'));
    for (const t of tablesOf(child)) {
      const mine = t.kind === 'user' ? vocab.users : vocab.items;
      const theirs = t.kind === 'user' ? pv.users : pv.items;
      // Frozen item tables are the parent's rows for every known item; kept ids were never in a batch.
      const exact = t.kind === 'item' ? mine.filter((id) => theirs.includes(id)) : ['u1', 'u2'];
      for (const id of exact) expect(rowOf(child, t.name, mine.indexOf(id)), `${t.name} ${id}`).toEqual(rowOf(parent, t.name, theirs.indexOf(id)));
    }
    // Users in the new rows did move.
    const userTable = tablesOf(child).find((t) => t.kind === 'user')?.name as string;
    expect(rowOf(child, userTable, vocab.users.indexOf('u3'))).not.toEqual(rowOf(parent, userTable, pv.users.indexOf('u3')));

    // Recommendations: a user first seen in the new rows and one kept from the parent are warm.
    // The test helper records a placeholder manifest hash; recommend reads the dataset only when it matches.
    writeFileSync(join(out, 'run.json'), JSON.stringify({ ...run, dataset: { ...run.dataset, manifest_sha256: await manifestSha256(C) } }));
    const rec = await loadRecommendCheckpoint(out, { dataset: true }, silentLogger);
    expect(rec.dataset).not.toBeNull();
    expect(rec.dataset?.trained[vocab.users.indexOf('u7')]).toBe(1);
    expect(rec.dataset?.trained[vocab.users.indexOf('u1')]).toBe(1);
    // Eval lines data up with the model by raw id: each dataset index maps to the same model row.
    const ds = await loadDataset(C);
    expect(Array.from(vocabMapping(ds.users, rec.users))).toEqual(ds.users.ids.map((_, i) => i));
    expect(Array.from(vocabMapping(ds.items, rec.items))).toEqual(ds.items.ids.map((_, i) => i));
    expect(rec.trained?.users[vocab.users.indexOf('u1')]).toBe(1);
    expect(rec.trained?.items[vocab.items.indexOf('i9')]).toBe(1);
    parent.keras.dispose();
    child.keras.dispose();
    rec.model.keras.dispose();
  });
});

describe('--replay', () => {
  const base = {
    users: Int32Array.from([0, 1, 2, 3, 4, 5]),
    items: Int32Array.from([0, 1, 2, 3, 4, 5]),
    values: Float32Array.from([1, 1, 1, 1, 1, 1]),
    numUsers: 6,
    numItems: 6,
  };

  it('each epoch: every new row plus a seeded sample, without repeats, of the older ones', () => {
    const newer = selectRows(base, (r) => r >= 4);
    const older = selectRows(base, (r) => r < 4);
    const replay = { record: { fraction: 1, since_ts: 0, new_rows: 2, old_rows: 4, replayed_per_epoch: 2 }, newer, older };
    const a = replayEpoch(replay, Prng.fromSeed(1, 'e'));
    expect(Array.from(a.users.subarray(0, 2))).toEqual([4, 5]);
    const sampled = Array.from(a.users.subarray(2));
    expect(new Set(sampled).size).toBe(2);
    for (const u of sampled) expect(u).toBeLessThan(4);
    expect(Array.from(replayEpoch(replay, Prng.fromSeed(1, 'e')).users)).toEqual(Array.from(a.users));
    const draws = new Set<string>();
    for (let s = 0; s < 20; s++) draws.add(Array.from(replayEpoch(replay, Prng.fromSeed(s, 'e')).users.subarray(2)).sort().join(','));
    expect(draws.size).toBeGreaterThan(2);
  });

  it('a parent without train_max_ts (older rec): warns and trains on the whole split; no new rows is exit 2; no --init-from is exit 2', async () => {
    const old = dir('old-parent');
    await train(P, old, 'mf', { model: { dim: 4 } });
    const runPath = join(old, 'run.json');
    const json = JSON.parse(readFileSync(runPath, 'utf8')) as { dataset: Record<string, unknown> };
    delete json.dataset.train_max_ts;
    writeFileSync(runPath, JSON.stringify(json));
    const r = await train(C, dir('from-old'), 'mf', { model: { dim: 4 }, train: { replay: 0.5 } }, { initFrom: [old] });
    expect(r.logs.join('\n')).toMatch(/does not record the latest timestamp.*whole train split/);
    expect((await readRunJson(dir('from-old'))).fine_tune?.replay).toBeNull();

    await expect(train(P, dir('nothing-new'), 'mf', { model: { dim: 4 }, train: { replay: 0 } }, { initFrom: [parents.mf as string] })).rejects.toThrow(/no training rows are newer/);
    await expect(train(C, dir('no-parent'), 'mf', { model: { dim: 4 }, train: { replay: 0 } })).rejects.toThrow(/needs --init-from/);
  });

  it('--replay 0.5 trains on the new rows plus half as many older ones per epoch', async () => {
    const r = await train(C, dir('replay-half'), 'gmf', { model: { dim: 4 }, train: { epochs: 1, replay: 0.5, negatives: 1 } }, { initFrom: [parents.gmf as string] });
    const run = await readRunJson(dir('replay-half'));
    expect(run.fine_tune?.replay).toMatchObject({ new_rows: 7, old_rows: 15, replayed_per_epoch: 4 });
    expect(r.logs.join('\n')).toMatch(/plus 4 of the 15 older rows/);
  });

  it('a resumed fine-tune keeps its extended vocabulary and its replay selection', async () => {
    const out = dir('resumed');
    const overrides = (epochs: number) => ({ model: { dim: 4 }, train: { epochs, replay: 0.5 } });
    await train(C, out, 'gmf', overrides(1), { initFrom: [parents.gmf as string] });
    const first = await readRunJson(out);
    const r = await train(C, out, 'gmf', overrides(2), { initFrom: [parents.gmf as string], resume: true });
    expect(r.epochs.map((e) => e.epoch)).toEqual([1, 2]);
    const run = await readRunJson(out);
    expect(run.fine_tune).toEqual(first.fine_tune);
    expect(run.shape).toMatchObject({ users: 8, items: 11 });
    expect(r.logs.join('\n')).toMatch(/plus 4 of the 15 older rows/);
  });
});
