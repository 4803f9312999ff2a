/**
 * Loading a saved model: io reads the files and the `rec` metadata, the registry knows which family
 * rebuilds it. The wrapper is what io's readers take so that io never imports a model family.
 */
import type { ModelWrapper } from '../io/checkpoint.js';
import { loadSavedModel } from '../io/checkpoint.js';
import type { WeightsCheck } from '../io/tfjs-files.js';
import type { AnyModel } from './model.js';
import { type SavedModelMeta, wrapLoadedModel } from './registry.js';

/** Rebuilds a model of any registered family from its loaded layers and saved metadata. */
export const wrapSavedModel: ModelWrapper<AnyModel> = (keras, meta) => wrapLoadedModel(keras, meta as SavedModelMeta);

export async function loadModel(dir: string, check: WeightsCheck = {}): Promise<AnyModel> {
  return loadSavedModel(dir, wrapSavedModel, check);
}
