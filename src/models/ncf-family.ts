/**
 * The NCF families (GMF, MLP, NeuMF) as src/models/family.ts describes them, including how NeuMF
 * is pretrained (He et al. 2017 §3.4.1): one GMF and one MLP parent give it their tables and
 * hidden layers, and its output layer is the α-weighted concatenation of theirs:
 *     h = [α·h_gmf ; (1−α)·h_mlp],   b = α·b_gmf + (1−α)·b_mlp
 * so that, before any step, the NeuMF logit is α·(GMF logit) + (1−α)·(MLP logit) for every pair
 * both parents knew. (The authors' code fixes α = 0.5 and, as here, mixes the biases the same way.)
 */
import type * as TF from '@tensorflow/tfjs';
import { tf } from '../engine/tf.js';
import type { ModelConfig, ModelName } from '../config/schema.js';
import { UsageError } from '../util/errors.js';
import { checkSameModelParent, resolvePairLoss, type Composition, type ModelOption, type PairFamily, type ParentModel } from './family.js';
import { namedWeights, type NamedWeight } from './model.js';
import { buildNcf, mlpTower, type NcfKind, PREDICTION_LAYER, wrapNcf } from './ncf.js';

const shapeText = (shape: readonly number[]): string => `[${shape.join(',')}]`;

function parentWeight(parent: ParentModel, key: string): TF.Variable {
  const w = namedWeights(parent.keras).find((x) => x.key === key);
  if (w === undefined) throw new UsageError(`--init-from ${parent.path}: the ${parent.model} checkpoint has no ${key}; was it written by rec train?`);
  return w.variable;
}

/** NeuMF's output layer from its parents': h = [α·h_gmf ; (1−α)·h_mlp], b = α·b_gmf + (1−α)·b_mlp. */
function mixPrediction(child: ReadonlyMap<string, NamedWeight>, parents: readonly ParentModel[], alpha: number): void {
  const gmf = parents.find((p) => p.model === 'gmf') as ParentModel;
  const mlp = parents.find((p) => p.model === 'mlp') as ParentModel;
  const kernel = child.get(`${PREDICTION_LAYER}/kernel`)?.variable;
  const bias = child.get(`${PREDICTION_LAYER}/bias`)?.variable;
  if (kernel === undefined || bias === undefined) throw new Error('neumf model has no prediction layer');
  const hg = parentWeight(gmf, `${PREDICTION_LAYER}/kernel`);
  const hm = parentWeight(mlp, `${PREDICTION_LAYER}/kernel`);
  if (hg.shape[0] + hm.shape[0] !== kernel.shape[0]) {
    throw new UsageError(
      `--init-from: the gmf output layer (${shapeText(hg.shape)}, ${gmf.path}) and the mlp one (${shapeText(hm.shape)}, ${mlp.path}) do not stack into this NeuMF's ${shapeText(kernel.shape)}. Expected --dim to be the GMF parent's dim and --layers the MLP parent's layers.`,
    );
  }
  tf.tidy(() => {
    kernel.assign(tf.concat([tf.mul(hg, alpha), tf.mul(hm, 1 - alpha)], 0));
    bias.assign(tf.add(tf.mul(parentWeight(gmf, `${PREDICTION_LAYER}/bias`), alpha), tf.mul(parentWeight(mlp, `${PREDICTION_LAYER}/bias`), 1 - alpha)));
  });
}

const NEUMF_FROM_PARTS: Composition = { parts: ['gmf', 'mlp'], mixedLayers: [PREDICTION_LAYER], mix: mixPrediction };

/** NeuMF fine-tunes from one NeuMF checkpoint or is pretrained from one GMF and one MLP checkpoint. */
function checkNeumfParents(models: readonly ModelName[], described: string): void {
  if (models.length === 1 && models[0] === 'neumf') return;
  const gmf = models.filter((m) => m === 'gmf').length;
  const mlp = models.filter((m) => m === 'mlp').length;
  if (models.length === 2 && gmf === 1 && mlp === 1) return;
  if (models.length === 1 && (gmf === 1 || mlp === 1)) {
    throw new UsageError(
      `NeuMF from pretrained parts needs a GMF and an MLP checkpoint; received only ${described}. Give --init-from twice (one gmf, one mlp checkpoint), or once with a neumf checkpoint to fine-tune it.`,
    );
  }
  const twice = gmf === 2 ? 'two gmf checkpoints' : mlp === 2 ? 'two mlp checkpoints' : `${models.length} checkpoints`;
  throw new UsageError(`--init-from for --model neumf takes one gmf and one mlp checkpoint (or one neumf checkpoint). Received ${twice}: ${described}.`);
}

const OPTIONS: Record<NcfKind, readonly ModelOption[]> = {
  gmf: ['dim', 'init_std', 'id_dropout'],
  mlp: ['dim', 'layers', 'dropout', 'init_std', 'id_dropout'],
  neumf: ['dim', 'layers', 'alpha', 'dropout', 'init_std', 'id_dropout'],
};

/** Floats per user (and item) row: d for GMF's table, layers[0]/2 for MLP's. */
function rowWidth(kind: NcfKind, config: ModelConfig): number {
  const gmf = kind === 'mlp' ? 0 : config.dim;
  const mlp = kind === 'gmf' ? 0 : mlpTower(config)[0] / 2;
  return gmf + mlp;
}

export function ncfFamily(kind: NcfKind): PairFamily {
  return {
    name: kind,
    kind: 'pair',
    scoresFrom: 'user',
    fitsRatings: false,
    options: OPTIONS[kind],
    resolveLoss: resolvePairLoss,
    build: (opts) => buildNcf(kind, opts),
    wrap: (keras, opts) => wrapNcf(kind, keras, opts),
    stepWidths: (config) => ({ user: rowWidth(kind, config), item: rowWidth(kind, config), activationsPerExample: 0 }),
    checkParents: kind === 'neumf' ? (models, _paths, described) => checkNeumfParents(models, described) : (models, paths, described) => checkSameModelParent(kind, models, paths, described),
    ...(kind === 'neumf' ? { composition: NEUMF_FROM_PARTS } : {}),
  };
}
