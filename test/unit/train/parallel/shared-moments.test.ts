/**
 * The optimizer side of the update split between replicas (src/train/parallel/shared-moments.ts):
 * an owner's update, exported and imported by a replica sharing its moments, is a lone optimizer's.
 */
import { tf } from '../../../../src/engine/tf.js';
import { describe, expect, it } from 'vitest';
import { createRowSparseOptimizer, type OptimizerConfig } from '../../../../src/engine/sparse-optimizer.js';
import { adoptMoments, exportRows, importRows, shareMoments } from '../../../../src/train/parallel/shared-moments.js';
import { DataError } from '../../../../src/util/errors.js';
import { DIM, floats, onEngine, ROWS, STEPS, values } from '../../engine/helpers.js';

const INIT = floats(ROWS * DIM, 42);

function gradsFor(step: number, n: number): Float32Array {
  return floats(n * DIM, 100 + step);
}

describe.each(['cpu', 'wasm'] as const)('the update split between replicas on %s', (engine) => {
  it.each([
    ['adam', 'auto'],
    ['adagrad', 'auto'],
    ['adam', 'scatter'],
  ] as const)('%s (%s write): an owner\'s applyRows + exportRows, imported by a replica sharing its moments, leave both tables equal to a lone optimizer\'s', async (name, write) => {
    await onEngine(engine, () => {
      const cfg: OptimizerConfig = { name, lr: 0.05, l2: 0.01 };
      const lone = tf.variable(tf.tensor2d(INIT.slice(), [ROWS, DIM]));
      const loneOpt = createRowSparseOptimizer(cfg, { emb: lone }, { write });
      const owner = tf.variable(tf.tensor2d(INIT.slice(), [ROWS, DIM]));
      const ownerOpt = createRowSparseOptimizer(cfg, { emb: owner }, { write });
      const other = tf.variable(tf.tensor2d(INIT.slice(), [ROWS, DIM]));
      const otherOpt = createRowSparseOptimizer(cfg, { emb: other }, { write });
      const shared = shareMoments(ownerOpt);
      adoptMoments(otherOpt, shared);
      STEPS.forEach((rows, step) => {
        const ids = Int32Array.from(rows);
        loneOpt.applyRows(lone, ids, gradsFor(step, rows.length));
        const buffer = gradsFor(step, rows.length);
        ownerOpt.applyRows(owner, ids, buffer);
        const count = exportRows(ownerOpt, owner, buffer);
        expect(count).toBe(new Set(rows).size);
        // First-occurrence order: the exported rows are the owner's new values of those ids.
        const order = [...new Set(rows)];
        const now = values(owner);
        order.forEach((r, k) => expect(Array.from(buffer.subarray(k * DIM, (k + 1) * DIM))).toEqual(Array.from(now.subarray(r * DIM, (r + 1) * DIM))));
        importRows(otherOpt, other, ids, buffer);
        // After every step, not only at the end: a later step rewrites most rows.
        expect(Array.from(values(other)), `step ${step}`).toEqual(Array.from(values(lone)));
      });
      expect(Array.from(values(owner))).toEqual(Array.from(values(lone)));
      expect(Array.from(values(other))).toEqual(Array.from(values(lone)));
      // One set of moments, moved by the owner alone; both counters advanced every step.
      const a = ownerOpt.getState();
      const b = otherOpt.getState();
      const c = loneOpt.getState();
      for (const key of Object.keys(c)) expect(a[key]).toEqual(c[key]);
      for (const key of Object.keys(c)) expect(b[key]).toEqual(c[key]);
      expect(b['emb/t']).toBe(STEPS.length);
      const moments = Object.values(shared).filter((x): x is Float32Array => x instanceof Float32Array);
      expect(moments.length).toBeGreaterThan(0);
      for (const m of moments) expect(m.buffer).toBeInstanceOf(SharedArrayBuffer);
      tf.dispose([lone, owner, other]);
    });
  });

  it('shareMoments is idempotent (the same arrays) and adoptMoments checks shapes', async () => {
    await onEngine(engine, () => {
      const table = tf.variable(tf.tensor2d(INIT.slice(), [ROWS, DIM]));
      const opt = createRowSparseOptimizer({ name: 'adam', lr: 0.1 }, { emb: table });
      const first = shareMoments(opt);
      expect(shareMoments(opt)['emb/m']).toBe(first['emb/m']);
      const small = tf.variable(tf.zeros([2, DIM]));
      const wrong = createRowSparseOptimizer({ name: 'adam', lr: 0.1 }, { emb: small });
      expect(() => adoptMoments(wrong, first)).toThrow(DataError);
      tf.dispose([table, small]);
    });
  });
});
