// Scratch experiment (not committed): two-tower on Home Depot.
import { readFileSync } from 'node:fs';
import { parse } from 'csv-parse/sync';
import * as tf from '@tensorflow/tfjs';
import { TextFeaturizer } from '../src/data/text.js';
import { buildVocab, itemBags, queryBags, vocabSize } from '../src/models/search/bags.js';
import { buildTowerModel, refreshItemVectors } from '../src/models/search/tower-model.js';
import { pool, normalize, TWO_TOWER_FORMAT } from '../src/models/search/two-tower.js';
import { createTowerTask, logFrequency } from '../src/train/tasks/tower.js';
import { createRowSparseOptimizer } from '../src/engine/sparse-optimizer.js';
import { murmurhash3String } from '../src/data/text.js';
import { Prng } from '../src/util/prng.js';
import type { ItemFeatures } from '../src/data/item-features.js';

await tf.setBackend('cpu');
const rows = parse(readFileSync('/tmp/hd.csv', 'latin1'), { columns: true }) as Record<string, string>[];
const items = new Map<string, number>();
const titles: string[] = [];
const queries = new Map<string, number>();
const qtexts: string[] = [];
const P = { q: [] as number[], i: [] as number[], v: [] as number[] };
for (const r of rows) {
  let i = items.get(r.product_uid);
  if (i === undefined) { i = titles.length; items.set(r.product_uid, i); titles.push(r.product_title); }
  let q = queries.get(r.search_term);
  if (q === undefined) { q = qtexts.length; queries.set(r.search_term, q); qtexts.push(r.search_term); }
  P.q.push(q); P.i.push(i); P.v.push(Number(r.relevance));
}
const fz = new TextFeaturizer();
function lists(texts: string[]) {
  const offsets = new Int32Array(texts.length + 1); const vals: number[] = []; const cnts: number[] = [];
  texts.forEach((t, k) => { const f = fz.featurize(t); vals.push(...f.buckets); cnts.push(...f.counts); offsets[k + 1] = vals.length; });
  return { list: { offsets, values: Int32Array.from(vals), valid: new Uint8Array(texts.length).fill(1) }, counts: Int32Array.from(cnts) };
}
const T = lists(titles); const Qt = lists(qtexts);
const split = qtexts.map((t) => { const h = (murmurhash3String(t, 7) >>> 0) % 10; return h < 8 ? 0 : h === 8 ? 1 : 2; });
const features: ItemFeatures = { items: titles.length, inCatalogue: new Uint8Array(titles.length).fill(1), features: [{ name: 'title', kind: 'text', buckets: T.list, counts: T.counts }], catalogue: {} as never };
const trainIdx = P.q.map((q, r) => [q, r]).filter(([q]) => split[q] === 0).map(([, r]) => r);
const trainQ = Int32Array.from(trainIdx, (r) => P.q[r]);
const vocab = buildVocab(features, Qt.list, trainQ);
const ib = itemBags(vocab, features, titles.length);
const qb = queryBags(vocab, Qt.list, Qt.counts);
console.log('vocab', vocabSize(vocab), 'items', titles.length, 'queries', qtexts.length, 'train pairs', trainIdx.length);
const dim = Number(process.env.DIM ?? 64);
const spec = { format: TWO_TOWER_FORMAT, dim, temperature: Number(process.env.TAU ?? 0.05), id_dropout: Number(process.env.DROP ?? 0.5), buckets: [], values: [], featurizer: fz.spec() } as never;
const model = buildTowerModel(spec, { tokens: vocabSize(vocab), items: titles.length }, 1, 0.1);
const pairs = { queries: trainQ, items: Int32Array.from(trainIdx, (r) => P.i[r]), weights: Float32Array.from(trainIdx, (r) => (P.v[r] - 1) / 2) };
const opt = createRowSparseOptimizer({ name: 'adam', lr: Number(process.env.LR ?? 0.005) }, { tok: model.tokens, ids: model.itemIds });
const task = createTowerTask({ model, pairs, queryBags: qb, itemBags: ib, logQ: process.env.NOLOGQ ? new Float32Array(titles.length) : logFrequency(pairs, titles.length), batchSize: Number(process.env.BS ?? 256), l2: 0, optimizer: opt, groupByQuery: !!process.env.GROUP });
const trained = new Uint8Array(titles.length); for (const i of pairs.items) trained[i] = 1;
const byQuery = new Map<number, number[]>(); P.q.forEach((q, r) => { (byQuery.get(q) ?? byQuery.set(q, []).get(q))!.push(r); });
function judged(which: number) {
  const M = refreshItemVectors(model, ib, trained);
  const tok = model.tokens.dataSync() as Float32Array;
  const qv = new Float32Array(dim); let sum = 0; let n = 0; let recall = 0; let rn = 0;
  for (const [q, rs] of byQuery) {
    if (split[q] !== which) continue;
    pool(tok, dim, qb, q, qv, 0); normalize(qv, 0, dim);
    const sc = rs.map((r) => { let s = 0; for (let d = 0; d < dim; d++) s += qv[d] * M[P.i[r] * dim + d]; return { s, g: P.v[r] - 1 }; });
    sc.sort((a, b) => b.s - a.s || a.g - b.g);
    let dcg = 0; sc.slice(0, 10).forEach((x, k) => (dcg += x.g / Math.log2(k + 2)));
    const ideal = sc.map((x) => x.g).sort((a, b) => b - a); let idcg = 0; ideal.slice(0, 10).forEach((g, k) => (idcg += g / Math.log2(k + 2)));
    if (idcg > 0) { sum += dcg / idcg; n++; }
    // full retrieval recall@100 of items judged >= 2.5
    const rel = rs.filter((r) => P.v[r] >= 2.5).map((r) => P.i[r]);
    if (rel.length > 0 && process.env.FULL) {
      const all = new Float32Array(titles.length);
      for (let i = 0; i < titles.length; i++) { let s = 0; for (let d = 0; d < dim; d++) s += qv[d] * M[i * dim + d]; all[i] = s; }
      const th = [...all].sort((a, b) => b - a)[99];
      recall += rel.filter((i) => all[i] >= th).length / rel.length; rn++;
    }
  }
  return { ndcg: sum / n, n, recall: rn ? recall / rn : null };
}
const rng = Prng.fromSeed(1, 'x');
for (let e = 1; e <= Number(process.env.EPOCHS ?? 10); e++) {
  const t0 = performance.now();
  const steps = task.beginEpoch(rng); let L = 0;
  for (let s = 0; s < steps; s++) L += task.step(s) as number;
  console.log(e, 'loss', (L / steps).toFixed(4), 's', ((performance.now() - t0) / 1000).toFixed(1), 'valid', judged(1), e % 5 === 0 ? judged(2) : '');
}
// relevance head: linear least squares on valid pairs, RMSE on test pairs
{
  const M = refreshItemVectors(model, ib, trained);
  const tok = model.tokens.dataSync() as Float32Array;
  const qv = new Float32Array(dim);
  const feats = (which: number) => {
    const X: number[][] = []; const y: number[] = [];
    for (const [q, rs] of byQuery) {
      if (split[q] !== which) continue;
      pool(tok, dim, qb, q, qv, 0); normalize(qv, 0, dim);
      const cos = rs.map((r) => { let s = 0; for (let d = 0; d < dim; d++) s += qv[d] * M[P.i[r] * dim + d]; return s; });
      const mx = Math.max(...cos); const mn = Math.min(...cos);
      const qrows = new Set(qb.rows.subarray(qb.offsets[q], qb.offsets[q + 1]));
      rs.forEach((r, k) => {
        const i = P.i[r]; let ov = 0; let ovw = 0;
        for (let t = qb.offsets[q]; t < qb.offsets[q + 1]; t++) { let hit = false; for (let u = ib.offsets[i]; u < ib.offsets[i + 1]; u++) if (ib.rows[u] === qb.rows[t]) { hit = true; break; } if (hit) { ov += qb.weights[t]; } }
        void qrows; void ovw;
        const rank = cos.filter((c) => c > cos[k]).length / Math.max(1, rs.length - 1);
        X.push([1, cos[k], cos[k] - mx, mx > mn ? (cos[k] - mn) / (mx - mn) : 0.5, ov, rank, Math.log(rs.length)]); y.push(P.v[r]);
      });
    }
    return { X, y };
  };
  const fit = (X: number[][], y: number[]) => {
    const p = X[0].length; const A = Array.from({ length: p }, () => new Float64Array(p + 1));
    X.forEach((x, n) => { for (let a = 0; a < p; a++) { for (let b = 0; b < p; b++) A[a][b] += x[a] * x[b]; A[a][p] += x[a] * y[n]; } });
    for (let a = 0; a < p; a++) A[a][a] += 1e-6;
    for (let c = 0; c < p; c++) { for (let r = c + 1; r < p; r++) { const f = A[r][c] / A[c][c]; for (let k = c; k <= p; k++) A[r][k] -= f * A[c][k]; } }
    const w = new Float64Array(p); for (let r = p - 1; r >= 0; r--) { let s = A[r][p]; for (let k = r + 1; k < p; k++) s -= A[r][k] * w[k]; w[r] = s / A[r][r]; }
    return w;
  };
  const rmse = (X: number[][], y: number[], w: Float64Array) => Math.sqrt(X.reduce((s, x, n) => { const pr = Math.min(3, Math.max(1, x.reduce((a, v, k) => a + v * w[k], 0))); return s + (pr - y[n]) ** 2; }, 0) / y.length);
  const v = feats(1); const t = feats(2); const tr = feats(0);
  const w = fit(v.X, v.y);
  const mean = v.y.reduce((a, b) => a + b, 0) / v.y.length;
  console.log('head w', [...w].map((x) => x.toFixed(3)).join(' '), 'rmse test', rmse(t.X, t.y, w).toFixed(4), 'valid', rmse(v.X, v.y, w).toFixed(4), 'mean-pred test', Math.sqrt(t.y.reduce((s, y) => s + (y - mean) ** 2, 0) / t.y.length).toFixed(4));
  const w2 = fit(tr.X, tr.y);
  console.log('head fit on train: rmse test', rmse(t.X, t.y, w2).toFixed(4));
}
