import { tf } from '../../../src/engine/tf.js';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { modelSchema, type ModelConfig } from '../../../src/config/schema.js';
import { readVocabFile } from '../../../src/data/dataset.js';
import { initEngine } from '../../../src/engine/backend.js';
import { readRunJson, writeModel, type RunJson } from '../../../src/io/checkpoint.js';
import { loadModel } from '../../../src/models/saved.js';
import { gatherRows, namedWeights, isHistoryModel, type AnyModel, type PairModel } from '../../../src/models/model.js';
import { buildModel, type PairModelName } from '../../../src/models/registry.js';
import { checkParents, initFromParents, readVocabIds } from '../../../src/train/init-from.js';
import { UsageError } from '../../../src/util/errors.js';
import { memoryLogger, silentLogger } from '../../../src/util/log.js';
import { grid, prepPairs, tempRoot, train } from './helpers.js';

/** loadModel narrowed to the (user, item) models these tests save. */
async function loadPairModel(dir: string, check?: Parameters<typeof loadModel>[1]): Promise<PairModel> {
  const m = await loadModel(dir, check);
  if (isHistoryModel(m)) throw new Error(`${dir} holds a history model`);
  return m;
}

const dir = tempRoot('rec-init-from-test-');
const DIM = 4;
const ALPHA = 0.3;

/** Parents' dataset A and the children's datasets: B (same ids, another order), C (some new ids). */
let A = '';
let B = '';
let C = '';
let gmfCkpt = '';
let mlpCkpt = '';

beforeAll(async () => {
  await initEngine({ backend: 'cpu', log: silentLogger });
  A = await prepPairs(dir('A'), grid([1, 2, 3, 4, 5, 6], [1, 2, 3, 4, 5, 6, 7, 8, 9], 4));
  B = await prepPairs(dir('B'), grid([6, 5, 4, 3, 2, 1], [9, 8, 7, 6, 5, 4, 3, 2, 1], 4));
  C = await prepPairs(dir('C'), grid([7, 3, 8, 1], [10, 2, 5, 1, 11, 4], 3));
  const model = { dim: DIM };
  gmfCkpt = (await train(A, dir('gmf'), 'gmf', { model, train: { epochs: 2 } })).checkpoint;
  mlpCkpt = (await train(A, dir('mlp'), 'mlp', { model })).checkpoint;
});

function seeds(start: number): () => number {
  let s = start;
  return () => s++;
}

function fresh(kind: PairModelName, dataDirUsers: number, dataDirItems: number, config: Partial<ModelConfig> = {}, seed = 77): PairModel {
  return buildModel(kind, {
    config: modelSchema.parse({ dim: DIM, dropout: 0, alpha: ALPHA, ...config }),
    shape: { users: dataDirUsers, items: dataDirItems, globalMean: 0 },
    nextSeed: seeds(seed),
  });
}

function weight(model: PairModel, key: string): { shape: number[]; values: Float32Array } {
  const w = namedWeights(model.keras).find((x) => x.key === key);
  if (!w) throw new Error(`no weight ${key}`);
  return { shape: w.variable.shape, values: Float32Array.from(w.variable.dataSync()) };
}

function row(model: PairModel, table: string, index: number): number[] {
  const w = weight(model, `${table}/embeddings`);
  const width = w.shape[1];
  return Array.from(w.values.subarray(index * width, (index + 1) * width));
}

function score(model: PairModel, user: number, item: number): number {
  return tf.tidy(() => model.scoreRows(gatherRows(model.tables, tf.tensor1d([user], 'int32'), tf.tensor1d([item], 'int32')), false).dataSync()[0]);
}

/** GMF logit by hand: Σ_k p_uk q_ik h_k + b. */
function gmfLogit(gmf: PairModel, u: number, i: number): number {
  const p = row(gmf, 'gmf_user_embedding', u);
  const q = row(gmf, 'gmf_item_embedding', i);
  const h = weight(gmf, 'prediction/kernel').values;
  let s = weight(gmf, 'prediction/bias').values[0];
  for (let k = 0; k < p.length; k++) s += p[k] * q[k] * h[k];
  return s;
}

/** MLP logit by hand: ReLU tower over [p'_u ; q'_i], then hᵀx + b. */
function mlpLogit(mlp: PairModel, u: number, i: number): number {
  let x = [...row(mlp, 'mlp_user_embedding', u), ...row(mlp, 'mlp_item_embedding', i)];
  for (let layer = 1; ; layer++) {
    const key = `mlp_layer_${layer}`;
    if (!namedWeights(mlp.keras).some((w) => w.key === `${key}/kernel`)) break;
    const W = weight(mlp, `${key}/kernel`);
    const b = weight(mlp, `${key}/bias`).values;
    const [n, m] = W.shape;
    const y: number[] = [];
    for (let c = 0; c < m; c++) {
      let s = b[c];
      for (let r = 0; r < n; r++) s += x[r] * W.values[r * m + c];
      y.push(Math.max(0, s));
    }
    x = y;
  }
  const h = weight(mlp, 'prediction/kernel').values;
  let s = weight(mlp, 'prediction/bias').values[0];
  for (let k = 0; k < x.length; k++) s += x[k] * h[k];
  return s;
}

async function vocab(dataDir: string): Promise<{ users: string[]; items: string[] }> {
  return readVocabIds(dataDir);
}

describe('--init-from: NeuMF from pretrained GMF and MLP (He et al. 2017 §3.4.1)', () => {
  it('takes the parents’ rows by raw id and, before any step, scores α·GMF + (1−α)·MLP logits', async () => {
    const [va, vb] = await Promise.all([vocab(A), vocab(B)]);
    expect(vb.users).not.toEqual(va.users);
    expect(vb.items).not.toEqual(va.items);
    expect([...vb.users].sort()).toEqual([...va.users].sort());
    const child = fresh('neumf', vb.users.length, vb.items.length);
    // Parents in either order: they are matched by the model in their run.json.
    const order = [mlpCkpt, gmfCkpt];
    const records = await initFromParents({ parents: order, model: child, alpha: ALPHA, ...vb, log: silentLogger }, await checkParents(order, 'neumf'));
    const gmf = await loadPairModel(join(gmfCkpt, 'model'));
    const mlp = await loadPairModel(join(mlpCkpt, 'model'));

    for (const id of vb.users) {
      const a = va.users.indexOf(id);
      const b = vb.users.indexOf(id);
      expect(row(child, 'gmf_user_embedding', b)).toEqual(row(gmf, 'gmf_user_embedding', a));
      expect(row(child, 'mlp_user_embedding', b)).toEqual(row(mlp, 'mlp_user_embedding', a));
    }
    for (const id of vb.items) {
      const a = va.items.indexOf(id);
      const b = vb.items.indexOf(id);
      expect(row(child, 'gmf_item_embedding', b)).toEqual(row(gmf, 'gmf_item_embedding', a));
      expect(row(child, 'mlp_item_embedding', b)).toEqual(row(mlp, 'mlp_item_embedding', a));
    }
    expect(Array.from(weight(child, 'mlp_layer_2/kernel').values)).toEqual(Array.from(weight(mlp, 'mlp_layer_2/kernel').values));

    // h = [α·h_gmf ; (1−α)·h_mlp], b = α·b_gmf + (1−α)·b_mlp
    const h = weight(child, 'prediction/kernel');
    expect(h.shape).toEqual([2 * DIM, 1]);
    const hg = weight(gmf, 'prediction/kernel').values;
    const hm = weight(mlp, 'prediction/kernel').values;
    for (let k = 0; k < DIM; k++) {
      expect(h.values[k]).toBeCloseTo(ALPHA * hg[k], 6);
      expect(h.values[DIM + k]).toBeCloseTo((1 - ALPHA) * hm[k], 6);
    }
    const bias = ALPHA * weight(gmf, 'prediction/bias').values[0] + (1 - ALPHA) * weight(mlp, 'prediction/bias').values[0];
    expect(weight(child, 'prediction/bias').values[0]).toBeCloseTo(bias, 6);

    let compared = 0;
    for (const u of vb.users) {
      for (const i of vb.items) {
        const byHand = ALPHA * gmfLogit(gmf, va.users.indexOf(u), va.items.indexOf(i)) + (1 - ALPHA) * mlpLogit(mlp, va.users.indexOf(u), va.items.indexOf(i));
        expect(score(child, vb.users.indexOf(u), vb.items.indexOf(i))).toBeCloseTo(byHand, 5);
        compared++;
      }
    }
    expect(compared).toBe(54);
    // The parents themselves score their logits (the hand computation is of the right thing).
    expect(score(gmf, 0, 0)).toBeCloseTo(gmfLogit(gmf, 0, 0), 5);
    expect(score(mlp, 2, 3)).toBeCloseTo(mlpLogit(mlp, 2, 3), 5);

    expect(records.map((r) => r.model)).toEqual(['mlp', 'gmf']);
    expect(records[1]).toMatchObject({ path: gmfCkpt, epoch: 2, users: { matched: 6, new: 0 }, items: { matched: 9, new: 0 } });

    // Saved and reloaded, the initialised NeuMF scores identically.
    const out = dir('neumf-init-saved');
    await writeModel(out, child);
    const back = await loadPairModel(out);
    for (let u = 0; u < vb.users.length; u++) for (let i = 0; i < vb.items.length; i++) expect(score(back, u, i)).toBe(score(child, u, i));
  });

  it('records the parents in run.json and trains on from them; the saved NeuMF reloads with identical scores', async () => {
    const out = dir('neumf-run');
    const result = await train(B, out, 'neumf', { model: { dim: DIM, alpha: ALPHA } }, { initFrom: [gmfCkpt, mlpCkpt] });
    expect(result.status).toBe('completed');
    const run: RunJson = await readRunJson(out);
    const sha = (ckpt: string) => createHash('sha256').update(readFileSync(join(ckpt, 'model', 'weights.bin'))).digest('hex');
    expect(run.parents).toEqual([
      { path: gmfCkpt, model: 'gmf', weights_sha256: sha(gmfCkpt), epoch: 2, users: { matched: 6, new: 0 }, items: { matched: 9, new: 0 } },
      { path: mlpCkpt, model: 'mlp', weights_sha256: sha(mlpCkpt), epoch: 1, users: { matched: 6, new: 0 }, items: { matched: 9, new: 0 } },
    ]);
    expect(result.parents).toEqual(run.parents);
    // Without validation, model/ holds the last weights, as last/model does.
    const [best, last] = await Promise.all([loadPairModel(join(out, 'model')), loadPairModel(join(out, 'last', 'model'))]);
    for (let u = 0; u < 6; u++) for (let i = 0; i < 9; i++) expect(score(best, u, i)).toBe(score(last, u, i));
  });

  it('resumes a run started from parents exactly (optimizer state keyed by stable weight names)', async () => {
    const whole = await train(B, dir('neumf-whole'), 'neumf', { model: { dim: DIM }, train: { epochs: 2 } }, { initFrom: [gmfCkpt, mlpCkpt] });
    const cut = dir('neumf-cut');
    await train(B, cut, 'neumf', { model: { dim: DIM }, train: { epochs: 1 } }, { initFrom: [gmfCkpt, mlpCkpt] });
    const resumed = await train(B, cut, 'neumf', { model: { dim: DIM }, train: { epochs: 2 } }, { resume: true });
    expect(resumed.epochs.map((e) => e.loss)).toEqual(whole.epochs.map((e) => e.loss));
  });
});

describe('--init-from: fine-tuning on new data', () => {
  it('known users and items keep their rows, new ones get fresh rows; dense weights are copied', async () => {
    const [va, vc] = await Promise.all([vocab(A), vocab(C)]);
    const child = fresh('gmf', vc.users.length, vc.items.length);
    const twin = fresh('gmf', vc.users.length, vc.items.length);
    const log = memoryLogger('debug');
    const [record] = await initFromParents({ parents: [gmfCkpt], model: child, alpha: ALPHA, ...vc, log }, await checkParents([gmfCkpt], 'gmf'));
    const parent = await loadPairModel(join(gmfCkpt, 'model'));
    const newUsers = vc.users.filter((id) => !va.users.includes(id));
    const newItems = vc.items.filter((id) => !va.items.includes(id));
    expect(newUsers).toEqual(['u7', 'u8']);
    expect(newItems).toEqual(['i10', 'i11']);
    expect(record.users).toEqual({ matched: vc.users.length - 2, new: 2 });
    expect(record.items).toEqual({ matched: vc.items.length - 2, new: 2 });
    for (const [ids, parentIds, table] of [
      [vc.users, va.users, 'gmf_user_embedding'],
      [vc.items, va.items, 'gmf_item_embedding'],
    ] as const) {
      ids.forEach((id, c) => {
        const p = parentIds.indexOf(id);
        expect(row(child, table, c)).toEqual(p >= 0 ? row(parent, table, p) : row(twin, table, c));
      });
    }
    expect(Array.from(weight(child, 'prediction/kernel').values)).toEqual(Array.from(weight(parent, 'prediction/kernel').values));
    expect(Array.from(weight(child, 'prediction/bias').values)).toEqual(Array.from(weight(parent, 'prediction/bias').values));
    expect(log.lines.join('\n')).toMatch(/users 2 from the parent, 2 new; items 4 from the parent, 2 new/);
  });

  it('fine-tunes a SASRec from a SASRec checkpoint: item rows by raw id (new items fresh), every other weight by key', async () => {
    const model = { dim: DIM, max_len: 5, heads: 1 };
    const parentCkpt = (await train(A, dir('sasrec-parent'), 'sasrec', { model, train: { epochs: 1, batch_size: 4 } })).checkpoint;
    const [va, vc] = await Promise.all([vocab(A), vocab(C)]);
    let s = 90;
    const build = () => buildModel('sasrec', { config: modelSchema.parse({ ...model, dropout: 0.2 }), shape: { users: vc.users.length, items: vc.items.length, globalMean: 0 }, nextSeed: () => s++ });
    const child = build();
    s = 90;
    const twin = build();
    const [record] = await initFromParents({ parents: [parentCkpt], model: child, alpha: ALPHA, ...vc, log: silentLogger }, await checkParents([parentCkpt], 'sasrec'));
    expect(record.items).toEqual({ matched: vc.items.length - 2, new: 2 });
    const parent = await loadModel(join(parentCkpt, 'model'));
    const values = (m: AnyModel, key: string) => {
      const w = namedWeights(m.keras).find((x) => x.key === key);
      if (!w) throw new Error(`no ${key}`);
      return { width: w.variable.shape[1] ?? 1, values: Float32Array.from(w.variable.dataSync()) };
    };
    const rowOf = (m: AnyModel, i: number) => {
      const t = values(m, 'sasrec/item_embedding');
      return Array.from(t.values.subarray(i * t.width, (i + 1) * t.width));
    };
    vc.items.forEach((id, c) => {
      const p = va.items.indexOf(id);
      expect(rowOf(child, c)).toEqual(p >= 0 ? rowOf(parent, p) : rowOf(twin, c));
    });
    for (const key of ['sasrec/position_embedding', 'sasrec/block_2/ffn1/kernel', 'sasrec/final_ln/gamma']) {
      expect(Array.from(values(child, key).values)).toEqual(Array.from(values(parent, key).values));
    }
  });

  it('warm-starts a NeuMF from a NeuMF checkpoint: every weight by key, rows by raw id', async () => {
    const parentCkpt = (await train(A, dir('neumf-parent'), 'neumf', { model: { dim: DIM } })).checkpoint;
    const [va, vb] = await Promise.all([vocab(A), vocab(B)]);
    const child = fresh('neumf', vb.users.length, vb.items.length);
    await initFromParents({ parents: [parentCkpt], model: child, alpha: ALPHA, ...vb, log: silentLogger }, await checkParents([parentCkpt], 'neumf'));
    const parent = await loadPairModel(join(parentCkpt, 'model'));
    // No α mixing with a single NeuMF parent: its output layer is taken as it is.
    expect(Array.from(weight(child, 'prediction/kernel').values)).toEqual(Array.from(weight(parent, 'prediction/kernel').values));
    for (const u of vb.users) for (const i of vb.items) expect(score(child, vb.users.indexOf(u), vb.items.indexOf(i))).toBeCloseTo(score(parent, va.users.indexOf(u), va.items.indexOf(i)), 6);
  });

  it('fine-tunes end to end with --freeze, keeping frozen parts fixed', async () => {
    const out = dir('gmf-finetune');
    const result = await train(C, out, 'gmf', { model: { dim: DIM }, train: { freeze: ['gmf_item_embedding', 'prediction'] } }, { initFrom: [gmfCkpt] });
    expect(result.parents).toHaveLength(1);
    const [va, vc] = await Promise.all([vocab(A), vocab(C)]);
    const parent = await loadPairModel(join(gmfCkpt, 'model'));
    const tuned = await loadPairModel(join(out, 'model'));
    const item = vc.items.indexOf('i2');
    expect(row(tuned, 'gmf_item_embedding', item)).toEqual(row(parent, 'gmf_item_embedding', va.items.indexOf('i2')));
    expect(Array.from(weight(tuned, 'prediction/kernel').values)).toEqual(Array.from(weight(parent, 'prediction/kernel').values));
    expect(row(tuned, 'gmf_user_embedding', vc.users.indexOf('u3'))).not.toEqual(row(parent, 'gmf_user_embedding', va.users.indexOf('u3')));
  });
});

describe('--init-from errors (exit 2, naming the flag and the path)', () => {
  const usage = async (promise: Promise<unknown>, pattern: RegExp) => {
    const error: unknown = await promise.then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(UsageError);
    expect((error as UsageError).exitCode).toBe(2);
    expect((error as UsageError).message).toMatch(pattern);
  };

  it('two GMF parents for NeuMF', async () => {
    await usage(checkParents([gmfCkpt, gmfCkpt], 'neumf'), /--init-from.*two gmf checkpoints.*gmf \(.*gmf\)/);
  });

  it('NeuMF with only one of its parts', async () => {
    await usage(checkParents([gmfCkpt], 'neumf'), new RegExp(`needs a GMF and an MLP checkpoint; received only gmf \\(${gmfCkpt}\\).*--init-from twice`));
    await usage(checkParents([mlpCkpt], 'neumf'), /received only mlp/);
  });

  it('a parent of the wrong model', async () => {
    await usage(checkParents([mlpCkpt], 'gmf'), new RegExp(`--init-from ${mlpCkpt} is a mlp checkpoint; --model gmf fine-tunes only from a gmf checkpoint`));
    await usage(checkParents([gmfCkpt, mlpCkpt], 'mlp'), /--model mlp takes one mlp checkpoint.*Received 2/);
  });

  it('a missing checkpoint, or a folder that is not one', async () => {
    await usage(checkParents([dir('nope')], 'gmf'), new RegExp(`--init-from ${dir('nope')}: not a rec checkpoint \\(no such folder\\)`));
    await usage(checkParents([A], 'gmf'), new RegExp(`--init-from ${A}: not a rec checkpoint \\(no run.json in it\\)`));
  });

  it('a parent with another architecture fails before the run writes anything', async () => {
    const out = dir('dim-mismatch');
    await usage(train(A, out, 'gmf', { model: { dim: 8 } }, { initFrom: [gmfCkpt] }), /--init-from .*gmf: gmf_user_embedding\/embeddings has rows of width 4 there but 8/);
    expect(existsSync(out)).toBe(false);
    await usage(train(B, dir('layers-mismatch'), 'neumf', { model: { dim: DIM, layers: [8, 4] } }, { initFrom: [gmfCkpt, mlpCkpt] }), /--init-from .*mlp/);
  });

  it('reads vocabularies from a checkpoint’s vocab/ like a dataset’s', async () => {
    const v = await readVocabFile(join(gmfCkpt, 'vocab', 'users.arrow'));
    expect(v.ids).toEqual((await vocab(A)).users);
  });
});
