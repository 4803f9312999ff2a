/**
 * The one list of model families. Adding a family is a module exporting its ModelFamily
 * (src/models/family.ts), a configs/models/<name>.yaml and one line here (plus its name in
 * src/config/model-names.ts, which `--help` reads without loading TF.js).
 */
import type * as TF from '@tensorflow/tfjs';
import { SEARCH_MODEL_NAMES, type BuiltModelName } from '../config/model-names.js';
import type { ModelConfig, ModelName } from '../config/schema.js';
import { UsageError } from '../util/errors.js';
import { checkFamilyOptions, monitoredMetric, type Feedback, type ModelFamily, type ModelOption } from './family.js';
import { mfFamily } from './mf.js';
import type { AnyModel, ModelBuildOptions, ModelShape, PairModel, SequenceModel } from './model.js';
import { ncfFamily } from './ncf-family.js';
import { easeFamily } from './ease.js';
import { ialsFamily } from './ials.js';
import { bpmfFamily } from './bpmf.js';
import { itemKnnFamily } from './itemknn.js';
import { popFamily } from './pop.js';
import { sasrecFamily } from './sasrec.js';

/** The user-facing families; search models (SEARCH_MODEL_NAMES) rank for queries and live in src/models/search. */
const FAMILIES: Readonly<Record<Exclude<BuiltModelName, (typeof SEARCH_MODEL_NAMES)[number]>, ModelFamily>> = {
  mf: mfFamily,
  gmf: ncfFamily('gmf'),
  mlp: ncfFamily('mlp'),
  neumf: ncfFamily('neumf'),
  sasrec: sasrecFamily,
  pop: popFamily,
  itemknn: itemKnnFamily,
  ease: easeFamily,
  ials: ialsFamily,
  bpmf: bpmfFamily,
};

/** The family of a model name; a name without one (a planned model) is a usage error. */
export function family(name: ModelName): ModelFamily {
  const found = (FAMILIES as Partial<Record<ModelName, ModelFamily>>)[name];
  if (!found && (SEARCH_MODEL_NAMES as readonly string[]).includes(name)) {
    throw new UsageError(`--model ${name} ranks items for search queries: it trains on a dataset prepped from a search log (rec prep --columns query=…,item=…) and is used with rec search and rec eval. It has no user scores for this command.`);
  }
  if (!found) {
    throw new UsageError(`Model ${name} is not available in this version of rec. Available: ${Object.keys(FAMILIES).join(', ')}.`);
  }
  return found;
}

/** Models trained by gradient steps over histories (SequenceModel). */
export type SequenceModelName = 'sasrec';
/** Models trained by gradient steps over (user, item) pairs (PairModel with optimizers and replicas). */
export type PairModelName = 'mf' | 'gmf' | 'mlp' | 'neumf';

export function buildModel(name: PairModelName, opts: ModelBuildOptions): PairModel;
export function buildModel(name: SequenceModelName, opts: ModelBuildOptions): SequenceModel;
export function buildModel(name: ModelName, opts: ModelBuildOptions): AnyModel;
export function buildModel(name: ModelName, opts: ModelBuildOptions): AnyModel {
  const model = family(name).build(opts);
  model.keras.setUserDefinedMetadata({ rec: { model: name, config: opts.config, shape: opts.shape } });
  return model;
}

export interface SavedModelMeta {
  model: ModelName;
  config: ModelConfig;
  shape: ModelShape;
}

export function wrapLoadedModel(keras: TF.LayersModel, meta: SavedModelMeta): AnyModel {
  const model = family(meta.model).wrap(keras, { config: meta.config, shape: meta.shape, nextSeed: () => 1 });
  keras.setUserDefinedMetadata({ rec: meta });
  return model;
}

/** Whether a model name is one the gradient trainer steps over (user, item) pairs. */
export function isPairModelName(name: ModelName): name is PairModelName {
  return family(name).kind === 'pair';
}

/** Whether a model name is a sequence model's, known before anything is built. */
export function isSequenceModelName(name: ModelName): name is SequenceModelName {
  return family(name).kind === 'sequence';
}

/** The `model.*` keys each search model reads (src/models/search/search-model.ts). */
const SEARCH_OPTIONS: Readonly<Record<(typeof SEARCH_MODEL_NAMES)[number], readonly ModelOption[]>> = {
  bm25: ['bm25_k1', 'bm25_b'],
  'two-tower': ['dim', 'temperature', 'id_dropout', 'init_std'],
  hybrid: ['dim', 'temperature', 'id_dropout', 'init_std', 'bm25_k1', 'bm25_b'],
};

/** The families that read a `model.*` option. */
function readersOf(option: ModelOption): ModelName[] {
  return [
    ...Object.values(FAMILIES)
      .filter((f) => f.options.includes(option))
      .map((f) => f.name),
    ...Object.entries(SEARCH_OPTIONS)
      .filter(([, options]) => options.includes(option))
      .map(([name]) => name as ModelName),
  ];
}

/** Refuses `model.*` options the chosen family does not read (exit 2), naming those it takes. */
export function checkModelOptions(name: ModelName, sources: Readonly<Record<string, string>>): void {
  const search = SEARCH_OPTIONS[name as (typeof SEARCH_MODEL_NAMES)[number]];
  if (search !== undefined) {
    checkFamilyOptions({ name, options: search } as unknown as ModelFamily, sources, readersOf);
    return;
  }
  checkFamilyOptions(family(name), sources, readersOf);
}

/** The validation metric a training run of `train.model` monitors, and whether validation measures ratings. */
export function trainingMonitor(train: Parameters<typeof monitoredMetric>[1] & { model: ModelName }, feedback: Feedback): { metric: string; ratings: boolean } {
  return monitoredMetric(family(train.model), train, feedback);
}
