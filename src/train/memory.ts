/**
 * Whether a training step fits in memory, estimated before anything is built. The wasm engine's
 * heap is a 32-bit WebAssembly memory: at most 4 GiB per engine instance (the main thread and each
 * worker thread have their own), and running out aborts the process with `XNN status 6` and a wasm
 * stack trace. SASRec's full softmax on a 5M-item catalogue ran ~110 s to 6.1 GB before that
 * abort; this check refuses such a run at once and says what would fit.
 *
 * The estimate is measured, not derived: one step of SASRec (dim 50, max_len 50, batch 128, two
 * blocks) on wasm, tf.profile's peak tensor bytes at catalogues of 50k–400k items (dev machine,
 * 2026-12): the peak grows by 6 item tables' bytes per item with the full softmax (the table, its
 * transpose, the accumulated dEᵀ and its block term, the gradient's transposes and sums: see
 * fusedSoftmaxCe), by 8 with whole-table gradients (`--dense`: the gradient, dense moments,
 * temporaries), and by 1 otherwise (rows are gathered; the row-sparse optimizer keeps its moments
 * in JS memory). Besides the tables a step held ~350 MB of activations, ~1,100 bytes per
 * batch × max_len × dim, and the heap itself grew to up to 1.25 × the peak.
 */
import { freemem, totalmem } from 'node:os';
import type { ModelConfig, ModelName } from '../config/schema.js';
import type { EngineName } from '../engine/backend.js';
import type { FittedFamily } from '../models/family.js';
import { family } from '../models/registry.js';
import { UsageError } from '../util/errors.js';

/** The wasm engine's heap limit per instance: a 32-bit memory. */
export const WASM_HEAP_LIMIT = 4 * 1024 ** 3;
/** Table copies alive at a step's peak, per kind of step (measured, see above). */
export const TABLE_COPIES = { fullSoftmax: 6, wholeTable: 8, rows: 1 } as const;
/** Activation bytes of a sequence step per batch × max_len × dim (measured, see above). */
export const SEQUENCE_ACTIVATION_BYTES = 1100;
/** The heap grows past the peak of live tensors by up to this factor (allocation in powers of two, fragmentation). */
export const HEAP_SLACK = 1.25;
/** The engine and the model's small weights, whatever the catalogue. */
const BASE_BYTES = 64 * 1024 ** 2;

export interface TrainingShape {
  model: ModelName;
  config: ModelConfig;
  users: number;
  items: number;
  batchSize: number;
  /** Sequence models: the full softmax (`--loss ce --negatives 0`). */
  fullSoftmax: boolean;
  /** `--dense`: whole-table gradients. */
  dense: boolean;
}

export interface MemoryEstimate {
  /** Bytes of one engine instance's memory at a step's peak, slack included. */
  bytes: number;
  /** Bytes of the embedding tables themselves. */
  tables: number;
  copies: number;
}

export function estimateStepMemory(shape: TrainingShape): MemoryEstimate {
  const f = family(shape.model);
  if (f.kind === 'fitted') throw new Error(`estimateStepMemory: --model ${f.name} takes no gradient steps (checkFitMemory sizes it)`);
  const widths = f.stepWidths(shape.config);
  const tables = 4 * (shape.users * widths.user + shape.items * widths.item);
  const copies = shape.dense ? TABLE_COPIES.wholeTable : shape.fullSoftmax ? TABLE_COPIES.fullSoftmax : TABLE_COPIES.rows;
  const activations = SEQUENCE_ACTIVATION_BYTES * shape.batchSize * widths.activationsPerExample;
  return { bytes: HEAP_SLACK * (BASE_BYTES + copies * tables + activations), tables, copies };
}

/** How much one engine instance may use: the wasm heap's 4 GiB, else the machine's memory. */
export function engineMemoryLimit(engine: EngineName, total = totalmem()): { bytes: number; what: string } {
  if (engine === 'wasm') return { bytes: WASM_HEAP_LIMIT, what: 'the wasm engine heap (4 GiB per thread: a 32-bit WebAssembly memory)' };
  return { bytes: total, what: `this machine's memory (${gib(total)}; ${gib(freemem())} free now)` };
}

const gib = (bytes: number) => `${(bytes / 1024 ** 3).toFixed(1)} GiB`;

/**
 * Refuses a run whose step will not fit (exit 2, before the model is built), with what would:
 * sampled softmax for the full softmax, the row-sparse update for --dense, a smaller --dim.
 */
export function checkStepMemory(shape: TrainingShape, engine: EngineName, total?: number): void {
  const need = estimateStepMemory(shape);
  const limit = engineMemoryLimit(engine, total);
  if (need.bytes <= limit.bytes) return;
  const fits = (alt: Partial<TrainingShape>) => estimateStepMemory({ ...shape, ...alt }).bytes <= limit.bytes;
  const fixes: string[] = [];
  if (shape.fullSoftmax && !shape.dense && fits({ fullSoftmax: false })) {
    fixes.push(`--negatives 1000 (sampled softmax over 1,000 items a batch instead of all ${shape.items.toLocaleString('en-US')}: about ${gib(estimateStepMemory({ ...shape, fullSoftmax: false }).bytes)})`);
  }
  if (shape.dense && fits({ dense: false })) fixes.push(`dropping --dense (the row-sparse update: about ${gib(estimateStepMemory({ ...shape, dense: false }).bytes)})`);
  let dim = shape.config.dim;
  while (dim > 1 && !fits({ config: { ...shape.config, dim } })) dim = Math.floor(dim / 2);
  if (dim < shape.config.dim && dim > 1) fixes.push(`a smaller --dim (${dim} fits)`);
  if (engine === 'wasm') fixes.push('the tfjs-node engine, which has no 4 GiB heap limit (rec doctor says how to install it)');
  const softmax = shape.fullSoftmax ? ` with the full softmax over ${shape.items.toLocaleString('en-US')} items (--loss ce --negatives 0)` : '';
  throw new UsageError(
    `--model ${shape.model}${softmax} needs about ${gib(need.bytes)} a training step (${gib(need.tables)} of embedding tables, ~${need.copies} copies of them at the step's peak), more than ${limit.what} allows. Expected a step within ${gib(limit.bytes)}; use ${fixes.join(', or ')}.`,
  );
}

/**
 * Refuses a fitted family whose solver will not fit this catalogue (EASE's dense item × item
 * matrix), exit 2 before anything is built, saying how much it would need.
 */
export function checkFitMemory(f: FittedFamily, config: ModelConfig, shape: { users: number; items: number }, engine: EngineName, total = totalmem()): void {
  const need = f.fitBytes(config, shape);
  const refuse = (bytes: number, what: string, limit: number): never => {
    throw new UsageError(
      `--model ${f.name} needs about ${gib(bytes)} to fit ${shape.items.toLocaleString('en-US')} items (${need.what}), more than ${what} allows. Expected a catalogue that fits in ${gib(limit)}; use --model itemknn or ials (memory linear in the catalogue), or fewer items (rec prep --min-item N).`,
    );
  };
  if (need.largestArray > MAX_ARRAY_BYTES) refuse(need.largestArray, `one JavaScript array (${gib(MAX_ARRAY_BYTES)} in Node)`, MAX_ARRAY_BYTES);
  const limit = engineMemoryLimit(engine, total);
  if (need.engine > limit.bytes) {
    refuse(need.engine, `${limit.what}${engine === 'wasm' ? ' (--backend cpu or the tfjs-node engine have no such cap, at the cost of slower matmuls on cpu)' : ''}`, limit.bytes);
  }
  // The cpu and node engines keep their tensors in this process's memory too.
  const host = engine === 'wasm' ? need.host : need.host + need.engine;
  if (host > total) refuse(host, `this machine's memory (${gib(total)})`, total);
}

/** Node's largest ArrayBuffer (buffer.constants.MAX_LENGTH on 64-bit Node 20): 4 GiB. */
const MAX_ARRAY_BYTES = 4 * 1024 ** 3;
