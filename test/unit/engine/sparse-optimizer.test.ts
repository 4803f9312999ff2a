import type * as TF from '@tensorflow/tfjs';
import { tf } from '../../../src/engine/tf.js';
import { describe, expect, it } from 'vitest';
import {
  createDenseOptimizer,
  createRowSparseOptimizer,
  type OptimizerConfig,
  type OptimizerName,
} from '../../../src/engine/sparse-optimizer.js';
import { DataError } from '../../../src/util/errors.js';
import { DIM, floats, maxAbsDiff, onEngine, ROWS, STEPS, values } from './helpers.js';


function gradsFor(step: number, n: number): Float32Array {
  return floats(n * DIM, 100 + step);
}

/** Hand-written reference: dense per-element loops over the touched rows, float32 storage. */
function reference(cfg: OptimizerConfig, init: Float32Array, steps: number[][]): Float32Array {
  const w = init.slice();
  const m = new Float32Array(w.length);
  const v = new Float32Array(w.length);
  const acc = new Float32Array(w.length).fill(0.1);
  const b1 = cfg.beta1 ?? 0.9;
  const b2 = cfg.beta2 ?? 0.999;
  const eps = cfg.epsilon ?? 1e-7;
  const l2 = cfg.l2 ?? 0;
  steps.forEach((rows, step) => {
    const t = step + 1;
    const g = gradsFor(step, rows.length);
    const summed = new Map<number, Float32Array>();
    rows.forEach((r, i) => {
      const s = summed.get(r) ?? new Float32Array(DIM);
      for (let j = 0; j < DIM; j++) s[j] += g[i * DIM + j];
      summed.set(r, s);
    });
    for (const [r, s] of summed) {
      for (let j = 0; j < DIM; j++) {
        const i = r * DIM + j;
        const w0 = w[i];
        const gj = s[j] + l2 * w0;
        if (cfg.name === 'sgd') {
          w[i] = w0 - cfg.lr * gj;
        } else if (cfg.name === 'adagrad') {
          acc[i] += gj * gj;
          w[i] = w0 - (cfg.lr * gj) / Math.sqrt(acc[i] + eps);
        } else {
          m[i] = b1 * m[i] + (1 - b1) * gj;
          v[i] = b2 * v[i] + (1 - b2) * gj * gj;
          const decay = cfg.name === 'adamw' ? 1 - cfg.lr * (cfg.weightDecay ?? 0) : 1;
          w[i] = w0 * decay - (cfg.lr * (m[i] / (1 - b1 ** t))) / (Math.sqrt(v[i] / (1 - b2 ** t)) + eps);
        }
      }
    }
  });
  return w;
}

const INIT = floats(ROWS * DIM, 42);
const configs: OptimizerConfig[] = [
  { name: 'adam', lr: 0.05 },
  { name: 'adam', lr: 0.01, l2: 0.1, beta1: 0.8, beta2: 0.99 },
  { name: 'adamw', lr: 0.05, weightDecay: 0.01 },
  { name: 'sgd', lr: 0.1, l2: 0.01 },
  { name: 'adagrad', lr: 0.1 },
];

function trainSparse(cfg: OptimizerConfig, write: 'auto' | 'scatter' = 'auto'): Float32Array {
  const table = tf.variable(tf.tensor2d(INIT.slice(), [ROWS, DIM]));
  const opt = createRowSparseOptimizer(cfg, { emb: table }, { write });
  STEPS.forEach((rows, step) => {
    tf.tidy(() => opt.applyRows(table, Int32Array.from(rows), tf.tensor2d(gradsFor(step, rows.length), [rows.length, DIM])));
  });
  const out = values(table);
  table.dispose();
  return out;
}

describe.each(['cpu', 'wasm'] as const)('row-sparse optimizers on %s', (engine) => {
  it.each(configs.map((c) => ({ ...c, label: JSON.stringify(c) })))('$label matches the JS reference', async (cfg) => {
    const got = await onEngine(engine, () => trainSparse(cfg));
    const expected = reference(cfg, INIT, STEPS);
    expect(Array.from(got)).toEqual(Array.from(expected));
    // Rows 4 and 6 are never in a batch: bit-identical to their initial values.
    for (const r of [4, 6]) expect(Array.from(got.subarray(r * DIM, r * DIM + DIM))).toEqual(Array.from(INIT.subarray(r * DIM, r * DIM + DIM)));
  });

  it('resumes bit-identically from getState/setState', async () => {
    await onEngine(engine, () => {
      const cfg: OptimizerConfig = { name: 'adam', lr: 0.05, l2: 0.01 };
      const run = (from: number, to: number, table: TF.Variable, opt: ReturnType<typeof createRowSparseOptimizer>): void => {
        for (let step = from; step < to; step++) {
          const rows = STEPS[step];
          tf.tidy(() => opt.applyRows(table, Int32Array.from(rows), gradsFor(step, rows.length)));
        }
      };
      const a = tf.variable(tf.tensor2d(INIT.slice(), [ROWS, DIM]));
      const optA = createRowSparseOptimizer(cfg, { emb: a });
      run(0, 2, a, optA);
      const saved = optA.getState();
      const snapshot = values(a);
      run(2, 4, a, optA);

      const b = tf.variable(tf.tensor2d(snapshot, [ROWS, DIM]));
      const optB = createRowSparseOptimizer(cfg, { emb: b });
      optB.setState(saved);
      run(2, 4, b, optB);
      expect(Array.from(values(b))).toEqual(Array.from(values(a)));
      expect(saved['emb/t']).toBe(2);
      tf.dispose([a, b]);
    });
  });

  it('equals dense tf.train.adam when every row is in every batch', async () => {
    await onEngine(engine, () => {
      const cfg: OptimizerConfig = { name: 'adam', lr: 0.05 };
      const sparseTable = tf.variable(tf.tensor2d(INIT.slice(), [ROWS, DIM]));
      const denseTable = tf.variable(tf.tensor2d(INIT.slice(), [ROWS, DIM]), true, `dense-${engine}`);
      const sparse = createRowSparseOptimizer(cfg, { emb: sparseTable });
      const dense = createDenseOptimizer(cfg);
      const all = Int32Array.from({ length: ROWS }, (_, i) => i);
      for (let step = 0; step < 3; step++) {
        const g = gradsFor(step, ROWS);
        tf.tidy(() => sparse.applyRows(sparseTable, all, g));
        tf.tidy(() => dense.applyGradients({ [denseTable.name]: tf.tensor2d(g, [ROWS, DIM]) }));
      }
      expect(maxAbsDiff(values(sparseTable), values(denseTable))).toBeLessThan(1e-5);
      dense.dispose();
      tf.dispose([sparseTable, denseTable]);
    });
  });

  it('never changes a tensor that shares the table buffer (clone, initial value)', async () => {
    await onEngine(engine, () => {
      const init = tf.tensor2d(INIT.slice(), [ROWS, DIM]);
      const table = tf.variable(init);
      const snapshot = tf.clone(table);
      const opt = createRowSparseOptimizer({ name: 'sgd', lr: 1 }, { emb: table });
      opt.applyRows(table, Int32Array.from([0]), new Float32Array([1, 1, 1]));
      expect(Array.from(values(snapshot))).toEqual(Array.from(INIT));
      expect(Array.from(values(init))).toEqual(Array.from(INIT));
      expect(values(table)[0]).toBeCloseTo(INIT[0] - 1, 6);
      tf.dispose([init, table, snapshot]);
    });
  });

  it('rejects out-of-range rows and mis-shaped gradients with DataError', async () => {
    await onEngine(engine, () => {
      const table = tf.variable(tf.zeros([ROWS, DIM]));
      const opt = createRowSparseOptimizer({ name: 'adam', lr: 0.1 }, { emb: table });
      expect(() => opt.applyRows(table, Int32Array.from([ROWS]), new Float32Array(DIM))).toThrow(DataError);
      expect(() => opt.applyRows(table, Int32Array.from([-1]), new Float32Array(DIM))).toThrow(/outside the table/);
      expect(() => opt.applyRows(table, Int32Array.from([0, 1]), new Float32Array(DIM))).toThrow(DataError);
      table.dispose();
    });
  });
});

describe('row-sparse details', () => {
  it('cpu and wasm agree within 1e-5 over many random steps', async () => {
    const cfg: OptimizerConfig = { name: 'adam', lr: 0.01, l2: 1e-3 };
    const train = (): Float32Array => {
      const rows = 50;
      const table = tf.variable(tf.tensor2d(floats(rows * 8, 1), [rows, 8]));
      const opt = createRowSparseOptimizer(cfg, { emb: table });
      for (let step = 0; step < 30; step++) {
        const ids = Int32Array.from(floats(16, step + 7), (x) => Math.floor((x + 1) * 0.5 * rows));
        tf.tidy(() => opt.applyRows(table, ids, tf.tensor2d(floats(16 * 8, step + 1000), [16, 8])));
      }
      const out = values(table);
      table.dispose();
      return out;
    };
    const onCpu = await onEngine('cpu', train);
    const onWasm = await onEngine('wasm', train);
    expect(maxAbsDiff(onCpu, onWasm)).toBeLessThan(1e-5);
  });

  it('the gather + scatter write path gives the in-place numbers (cpu)', async () => {
    for (const name of ['adam', 'adagrad'] as OptimizerName[]) {
      const cfg: OptimizerConfig = { name, lr: 0.05 };
      const inPlace = await onEngine('cpu', () => trainSparse(cfg, 'auto'));
      const scattered = await onEngine('cpu', () => trainSparse(cfg, 'scatter'));
      expect(Array.from(scattered)).toEqual(Array.from(inPlace));
    }
  });

  it('takes a 1-D variable (a bias) as a table of one-value rows, in place and through scatter', async () => {
    const run = (write: 'auto' | 'scatter') =>
      onEngine('cpu', () => {
        const bias = tf.variable(tf.tensor1d(floats(5, 9)));
        const opt = createRowSparseOptimizer({ name: 'adam', lr: 0.1 }, { bias }, { write });
        tf.tidy(() => opt.applyRows(bias, Int32Array.from([0, 1, 2, 3, 4]), tf.tensor2d(floats(5, 10), [5, 1])));
        tf.tidy(() => opt.applyRows(bias, Int32Array.from([4, 1]), tf.tensor2d(floats(2, 11), [2, 1])));
        const out = values(bias);
        bias.dispose();
        return out;
      });
    const inPlace = await run('auto');
    expect(Array.from(await run('scatter'))).toEqual(Array.from(inPlace));
    expect(maxAbsDiff(inPlace, floats(5, 9))).toBeGreaterThan(0.05);
  });

  it('a table marked as matmul operand gives fresh products on wasm after in-place updates', async () => {
    await onEngine('wasm', () => {
      const w = tf.variable(tf.fill([3, 2], 1));
      const opt = createRowSparseOptimizer({ name: 'sgd', lr: 1 }, { w }, { matmulOperands: ['w'] });
      const product = (): number[] => tf.tidy(() => Array.from(tf.matMul(tf.ones([2, 3]), w).dataSync()));
      // Three rounds: the first write privatises the buffer (new id); from the second on the id
      // is stable, which is where an unmarked table returns the stale 15s (docs/engines.md#tfjs-behaviour-the-code-relies-on).
      for (const expected of [3, 15, 27]) {
        expect(product()).toEqual([expected, expected, expected, expected]);
        opt.applyRows(w, Int32Array.from([0, 1, 2]), new Float32Array(6).fill(-4));
      }
      w.dispose();
    });
  });
});

describe('dense optimizer wrapper', () => {
  const cases: OptimizerConfig[] = [
    { name: 'adam', lr: 0.05, l2: 0.01 },
    { name: 'adamw', lr: 0.05, weightDecay: 0.1 },
    { name: 'adagrad', lr: 0.1 },
    { name: 'sgd', lr: 0.1 },
  ];
  it.each(cases.map((c) => ({ ...c, label: c.name })))('$label resumes bit-identically and applies l2/decay', async (cfg) => {
    await onEngine('cpu', async () => {
      const x = tf.tensor2d(floats(8 * 3, 5), [8, 3]);
      const y = tf.tensor2d(floats(8, 6), [8, 1]);
      const loss = (w: TF.Variable) => () => tf.losses.meanSquaredError(y, tf.matMul(x, w)) as TF.Scalar;
      const a = tf.variable(tf.tensor2d(floats(3, 9), [3, 1]), true, `dense-a-${cfg.name}`);
      const optA = createDenseOptimizer(cfg);
      for (let i = 0; i < 3; i++) optA.minimize(loss(a), [a]).dispose();
      const saved = await optA.getState();
      const snapshot = values(a);
      for (let i = 0; i < 3; i++) optA.minimize(loss(a), [a]).dispose();

      const b = tf.variable(tf.tensor2d(snapshot, [3, 1]), true, `dense-b-${cfg.name}`);
      const optB = createDenseOptimizer(cfg);
      // Slot names carry the variable name; resume maps them onto the new variable's name.
      const renamed = Object.fromEntries(Object.entries(saved).map(([k, v]) => [k.replace(a.name, b.name), v]));
      await optB.setState(renamed);
      for (let i = 0; i < 3; i++) optB.minimize(loss(b), [b]).dispose();
      expect(Array.from(values(b))).toEqual(Array.from(values(a)));
      expect(saved.iterations).toBe(3);
      optA.dispose();
      optB.dispose();
      tf.dispose([x, y, a, b]);
    });
  });

  it('adds l2·w to the gradient', async () => {
    await onEngine('cpu', () => {
      const w = tf.variable(tf.tensor1d([2, -4]), true, 'dense-l2');
      const opt = createDenseOptimizer({ name: 'sgd', lr: 0.5, l2: 0.1 });
      opt.applyGradients({ [w.name]: tf.tensor1d([1, 1]) });
      // w − lr·(g + l2·w) = [2 − 0.5·1.2, −4 − 0.5·0.6]
      expect(Array.from(values(w))).toEqual([Math.fround(1.4), Math.fround(-4.3)]);
      opt.dispose();
      w.dispose();
    });
  });
});

describe('prepareRows / applyPrepared', () => {
  for (const name of ['adam', 'adagrad', 'sgd'] as const) {
    it(`${name}: slot-accumulated gradients plus per-occurrence L2 equal applyRows with the L2 gradient per occurrence`, async () => {
      await onEngine('cpu', async () => {
        const init = floats(ROWS * DIM, 9);
        const a = tf.variable(tf.tensor2d(init, [ROWS, DIM]));
        const b = tf.variable(tf.tensor2d(init, [ROWS, DIM]));
        const cfg: OptimizerConfig = { name, lr: 0.1, weightDecay: 0 };
        const optA = createRowSparseOptimizer(cfg, { t: a });
        const optB = createRowSparseOptimizer(cfg, { t: b });
        const c = 0.05;
        for (const [step, rows] of STEPS.entries()) {
          const ids = Int32Array.from(rows);
          const g = gradsFor(step, rows.length);
          // Reference: the L2 gradient 2c·w added at every occurrence, through applyRows.
          const wA = a.dataSync();
          const withL2 = g.map((x, k) => x + 2 * c * wA[ids[Math.floor(k / DIM)] * DIM + (k % DIM)]);
          let expectedPenalty = 0;
          for (const r of ids) for (let j = 0; j < DIM; j++) expectedPenalty += wA[r * DIM + j] ** 2;
          optA.applyRows(a, ids, withL2);
          const { slots, sums } = optB.prepareRows(b, ids);
          expect(sums.every((x) => x === 0)).toBe(true);
          ids.forEach((_, k) => {
            for (let j = 0; j < DIM; j++) sums[slots[k] * DIM + j] += g[k * DIM + j];
          });
          expect(optB.applyPrepared(b, c)).toBeCloseTo(expectedPenalty, 5);
        }
        expect(maxAbsDiff(values(a), values(b))).toBeLessThan(1e-6);
      });
    });
  }

  it('applyPrepared without prepareRows is an error', () => {
    const v = tf.variable(tf.zeros([2, 2]));
    const opt = createRowSparseOptimizer({ name: 'sgd', lr: 0.1, weightDecay: 0 }, { v });
    expect(() => opt.applyPrepared(v, 0)).toThrow(/prepareRows was not called/);
  });
});
