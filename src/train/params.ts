/**
 * Optimizer updates of a model's dense variables (MLP kernels and biases, the output layer) through
 * the engine's in-place row optimizer, with every row of a variable present in every call: there
 * lazy and dense Adam coincide (sparse-optimizer.ts), and one pass over a few thousand floats in
 * JS replaces the ~15 tfjs kernels per variable of `tf.train.adam`, which were a third of a NeuMF
 * step at batch 256 on wasm (docs/benchmarks.md).
 *
 * State is keyed by the stable weight keys of `namedWeights` (`mlp_layer_1/kernel`), not by tfjs
 * variable names, so `--resume` finds it in a process that numbered its variables differently.
 */
import type * as TF from '@tensorflow/tfjs';
import { createRowSparseOptimizer, type OptimizerConfig, type OptimizerState, type RowSparseOptimizer } from '../engine/sparse-optimizer.js';
import { namedWeights, type TrainableModel } from '../models/model.js';
import { ConfigError } from '../util/errors.js';
import { adoptMoments, exportRows, importRows, shareMoments } from './parallel/shared-moments.js';

export interface DenseParamUpdater {
  /** Updates the model's dense variables among `grads` (keyed by variable name); returns the rest. */
  apply(grads: TF.NamedTensorMap): TF.NamedTensorMap;
  /** Updates one of the model's dense variables from a gradient already in JS memory (the fused step). */
  applyArray(variable: TF.Variable, grad: Float32Array): void;
  setLearningRate(lr: number): void;
  getState(): OptimizerState;
  setState(state: OptimizerState): void;
  /** The update split between replicas (train/parallel): after applyArray, the variable's new values into `dst`. */
  exportArray(variable: TF.Variable, dst: Float32Array): void;
  /** On a replica that does not update `variable` itself: the owner's applyArray, from exportArray's values. */
  importArray(variable: TF.Variable, src: Float32Array): void;
  /** As parallel/shared-moments.ts shareMoments / adoptMoments. */
  shareState(): OptimizerState;
  adoptState(state: OptimizerState): void;
}

interface Param {
  variable: TF.Variable;
  rows: Int32Array;
  shape: [number, number];
}

export function createDenseParamUpdater(cfg: OptimizerConfig, model: TrainableModel): DenseParamUpdater {
  const denseNames = new Set(model.dense.map((v) => v.name));
  const weights = namedWeights(model.keras).filter((w) => denseNames.has(w.variable.name));
  const byName = new Map<string, Param>();
  for (const w of weights) {
    const [rows, dim] = w.variable.rank === 2 ? (w.variable.shape as [number, number]) : [w.variable.size, 1];
    byName.set(w.variable.name, { variable: w.variable, rows: Int32Array.from({ length: rows }, (_, i) => i), shape: [rows, dim] });
  }
  const optimizer: RowSparseOptimizer = createRowSparseOptimizer(
    cfg,
    Object.fromEntries(weights.map((w) => [w.key, w.variable])),
    // Kernels are matmul operands; biases feed fused matmuls: both may be cached by XNNPACK on wasm.
    { matmulOperands: weights.map((w) => w.key) },
  );
  const param = (variable: TF.Variable, what: string): Param => {
    const p = byName.get(variable.name);
    if (p === undefined) throw new Error(`${what}: ${variable.name} is not one of the model's dense variables`);
    return p;
  };
  return {
    apply(grads) {
      const rest: TF.NamedTensorMap = {};
      for (const [name, grad] of Object.entries(grads)) {
        const p = byName.get(name);
        if (p === undefined) rest[name] = grad;
        else optimizer.applyRows(p.variable, p.rows, grad.reshape(p.shape));
      }
      return rest;
    },
    applyArray(variable, grad) {
      optimizer.applyRows(variable, param(variable, 'applyArray').rows, grad);
    },
    exportArray(variable, dst) {
      param(variable, 'exportArray');
      exportRows(optimizer, variable, dst);
    },
    importArray(variable, src) {
      importRows(optimizer, variable, param(variable, 'importArray').rows, src);
    },
    setLearningRate: (lr) => optimizer.setLearningRate(lr),
    getState: () => optimizer.getState(),
    setState: (state) => optimizer.setState(state),
    shareState: () => shareMoments(optimizer),
    adoptState: (state) => adoptMoments(optimizer, state),
  };
}

/**
 * The variables `--freeze` keeps fixed, as the names `pairStep` filters on (table names and tfjs
 * variable names). Each entry names a layer (`gmf_user_embedding`, `mlp_layer_1`, `prediction`) or
 * one weight (`prediction/bias`).
 */
export function resolveFrozen(model: TrainableModel, freeze: readonly string[]): Set<string> {
  const weights = namedWeights(model.keras);
  const trainable = new Set([...model.tables.map((t) => t.variable.name), ...model.dense.map((v) => v.name)]);
  const groups = new Map<string, string[]>();
  for (const w of weights) {
    if (!trainable.has(w.variable.name)) continue;
    const table = model.tables.find((t) => t.variable === w.variable);
    const name = table ? table.name : w.variable.name;
    for (const key of [w.layer, w.key]) groups.set(key, [...(groups.get(key) ?? []), name]);
  }
  const frozen = new Set<string>();
  for (const entry of freeze) {
    const names = groups.get(entry);
    if (names === undefined) {
      const layers = [...new Set(weights.filter((w) => trainable.has(w.variable.name)).map((w) => w.layer))];
      throw new ConfigError(
        `train.freeze names ${JSON.stringify(entry)}, which is not a parameter group of model ${model.name}. Expected layer names such as: ${layers.join(', ')} (or one weight, e.g. ${layers[layers.length - 1] ?? 'layer'}/kernel).`,
      );
    }
    for (const n of names) frozen.add(n);
  }
  return frozen;
}
