import * as tf from '@tensorflow/tfjs';
import type { ModelConfig, ModelName } from '../config/schema.js';
import { UsageError } from '../util/errors.js';
import { buildMf, wrapMf } from './mf.js';
import { buildNcf, wrapNcf, type NcfKind } from './ncf.js';
import type { AnyModel, ModelBuildOptions, ModelShape, PairModel, SequenceModel } from './model.js';
import { buildSasrec, wrapSasrec } from './sasrec.js';

interface ModelEntry {
  build(opts: ModelBuildOptions): AnyModel;
  wrap(keras: tf.LayersModel, opts: ModelBuildOptions): AnyModel;
}

const MODELS: Partial<Record<ModelName, ModelEntry>> = {
  mf: { build: buildMf, wrap: wrapMf },
  gmf: ncfEntry('gmf'),
  mlp: ncfEntry('mlp'),
  neumf: ncfEntry('neumf'),
  sasrec: { build: buildSasrec, wrap: wrapSasrec },
};

function ncfEntry(kind: NcfKind): ModelEntry {
  return { build: (opts) => buildNcf(kind, opts), wrap: (keras, opts) => wrapNcf(kind, keras, opts) };
}

function entry(name: ModelName): ModelEntry {
  const found = MODELS[name];
  if (!found) {
    throw new UsageError(`Model ${name} is not available in this version of rec. Available: ${Object.keys(MODELS).join(', ')}.`);
  }
  return found;
}

/** Models that score from a user's history (SequenceModel); the others are (user, item) models. */
export type SequenceModelName = 'sasrec';
export type PairModelName = Exclude<ModelName, SequenceModelName>;

export function buildModel(name: PairModelName, opts: ModelBuildOptions): PairModel;
export function buildModel(name: SequenceModelName, opts: ModelBuildOptions): SequenceModel;
export function buildModel(name: ModelName, opts: ModelBuildOptions): AnyModel;
export function buildModel(name: ModelName, opts: ModelBuildOptions): AnyModel {
  const model = entry(name).build(opts);
  model.keras.setUserDefinedMetadata({ rec: { model: name, config: opts.config, shape: opts.shape } });
  return model;
}

export interface SavedModelMeta {
  model: ModelName;
  config: ModelConfig;
  shape: ModelShape;
}

export function wrapLoadedModel(keras: tf.LayersModel, meta: SavedModelMeta): AnyModel {
  const model = entry(meta.model).wrap(keras, { config: meta.config, shape: meta.shape, nextSeed: () => 1 });
  keras.setUserDefinedMetadata({ rec: meta });
  return model;
}

/** Whether a model name is a sequence model's, known before anything is built. */
export function isSequenceModelName(name: ModelName): name is SequenceModelName {
  return name === 'sasrec';
}
