import * as tf from '@tensorflow/tfjs';
import type { ModelConfig, ModelName } from '../config/schema.js';
import { UsageError } from '../util/errors.js';
import { buildMf, wrapMf } from './mf.js';
import { buildNcf, wrapNcf, type NcfKind } from './ncf.js';
import type { ModelBuildOptions, ModelShape, PairModel } from './model.js';

interface ModelEntry {
  build(opts: ModelBuildOptions): PairModel;
  wrap(keras: tf.LayersModel, opts: ModelBuildOptions): PairModel;
}

const MODELS: Partial<Record<ModelName, ModelEntry>> = {
  mf: { build: buildMf, wrap: wrapMf },
  gmf: ncfEntry('gmf'),
  mlp: ncfEntry('mlp'),
  neumf: ncfEntry('neumf'),
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

export function buildModel(name: ModelName, opts: ModelBuildOptions): PairModel {
  const model = entry(name).build(opts);
  model.keras.setUserDefinedMetadata({ rec: { model: name, config: opts.config, shape: opts.shape } });
  return model;
}

export interface SavedModelMeta {
  model: ModelName;
  config: ModelConfig;
  shape: ModelShape;
}

export function wrapLoadedModel(keras: tf.LayersModel, meta: SavedModelMeta): PairModel {
  const model = entry(meta.model).wrap(keras, { config: meta.config, shape: meta.shape, nextSeed: () => 1 });
  keras.setUserDefinedMetadata({ rec: meta });
  return model;
}
