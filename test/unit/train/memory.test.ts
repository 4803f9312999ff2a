/**
 * The training step's memory estimate (src/train/memory.ts): a full softmax over a catalogue of
 * millions of items is refused on wasm before anything is built (it used to abort after ~110 s
 * with `XNN status 6`), with the sampled softmax as the way out; --dense and the other engines'
 * limits likewise.
 */
import { describe, expect, it } from 'vitest';
import { configSchema } from '../../../src/config/schema.js';
import { easeFamily } from '../../../src/models/ease.js';
import { checkFitMemory, checkStepMemory, estimateStepMemory, HEAP_SLACK, TABLE_COPIES, type TrainingShape } from '../../../src/train/memory.js';
import { UsageError } from '../../../src/util/errors.js';

const sasrec = (items: number, over: Partial<TrainingShape> = {}): TrainingShape => ({
  model: 'sasrec',
  config: { ...configSchema.parse({}).model, dim: 50, max_len: 50 },
  users: 1000,
  items,
  batchSize: 128,
  fullSoftmax: true,
  dense: false,
  ...over,
});

describe('estimateStepMemory', () => {
  it('grows by the measured copies of the item table per item: 6 with the full softmax, 1 sampled, 8 with --dense', () => {
    const per = (over: Partial<TrainingShape>) => (estimateStepMemory(sasrec(2_000_000, over)).bytes - estimateStepMemory(sasrec(1_000_000, over)).bytes) / 1_000_000;
    expect(per({})).toBeCloseTo(HEAP_SLACK * TABLE_COPIES.fullSoftmax * 50 * 4, 6);
    expect(per({ fullSoftmax: false })).toBeCloseTo(HEAP_SLACK * TABLE_COPIES.rows * 50 * 4, 6);
    expect(per({ dense: true })).toBeCloseTo(HEAP_SLACK * TABLE_COPIES.wholeTable * 50 * 4, 6);
  });

  it('counts both tables of a pair model, at the widths each model gives them', () => {
    const pair = (model: TrainingShape['model']) => estimateStepMemory({ ...sasrec(1000), model, users: 3000, fullSoftmax: false, config: { ...configSchema.parse({}).model, dim: 8 } }).tables;
    expect(pair('gmf')).toBe(4 * 4000 * 8);
    expect(pair('mf')).toBe(4 * 4000 * 9);
    expect(pair('mlp')).toBe(4 * 4000 * 32);
    expect(pair('neumf')).toBe(4 * 4000 * 40);
  });
});

describe('checkStepMemory', () => {
  it('refuses the full softmax over 5M items on wasm (exit 2) and suggests --negatives, whose step fits', () => {
    const refuse = () => checkStepMemory(sasrec(5_000_000), 'wasm');
    expect(refuse).toThrow(UsageError);
    expect(refuse).toThrow(/--model sasrec with the full softmax over 5,000,000 items \(--loss ce --negatives 0\) needs about [\d.]+ GiB a training step .* more than the wasm engine heap \(4 GiB per thread/);
    expect(refuse).toThrow(/use --negatives 1000 \(sampled softmax .*: about 1\.\d GiB\)/);
    expect(refuse).toThrow(/or the tfjs-node engine/);
    expect(() => checkStepMemory(sasrec(5_000_000, { fullSoftmax: false }), 'wasm')).not.toThrow();
  });

  it('lets the full softmax through where it fits: Amazon Games\' 23,715 items, or a million', () => {
    expect(() => checkStepMemory(sasrec(23_715), 'wasm')).not.toThrow();
    expect(() => checkStepMemory(sasrec(1_000_000), 'wasm')).not.toThrow();
  });

  it('takes the machine\'s memory as the limit off wasm, and suggests dropping --dense for whole-table gradients', () => {
    const gb = 1024 ** 3;
    expect(() => checkStepMemory(sasrec(5_000_000), 'node', 64 * gb)).not.toThrow();
    const dense = { ...sasrec(20_000_000), model: 'gmf' as const, users: 20_000_000, fullSoftmax: false, dense: true };
    expect(() => checkStepMemory(dense, 'cpu', 16 * gb)).toThrow(/more than this machine's memory \(16\.0 GiB;.*dropping --dense \(the row-sparse update/);
  });
});

describe('checkFitMemory', () => {
  const config = configSchema.parse({}).model;
  const GiB = 1024 ** 3;
  it('refuses EASE on Amazon Games (23,715 items) on wasm: B and its copy do not fit the 4 GiB heap; the cpu engine on 24 GiB fits it', () => {
    expect(() => checkFitMemory(easeFamily, config, { users: 31_000, items: 23_715 }, 'wasm', 24 * GiB)).toThrow(/--model ease needs about 4\.\d GiB to fit 23,715 items \(a dense 23,715 × 23,715 item matrix, inverted\), more than the wasm engine heap/);
    expect(() => checkFitMemory(easeFamily, config, { users: 31_000, items: 23_715 }, 'cpu', 24 * GiB)).not.toThrow();
    expect(() => checkFitMemory(easeFamily, config, { users: 6_040, items: 3_706 }, 'wasm', 24 * GiB)).not.toThrow();
  });

  it('refuses a catalogue whose matrix would be one array over 4 GiB, whatever the engine', () => {
    expect(() => checkFitMemory(easeFamily, config, { users: 10, items: 40_000 }, 'cpu', 1024 * GiB)).toThrow(/more than one JavaScript array/);
  });
});
