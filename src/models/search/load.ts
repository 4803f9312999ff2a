/** Loads a search checkpoint's model/ (or last/model/): the Keras graph, checked against run.json's hashes, and its sidecar. */
import type { WeightsCheck } from '../../io/model-files.js';
import { loadSavedModel, readSidecar } from '../../io/checkpoint.js';
import { DataError } from '../../util/errors.js';
import { SEARCH_SIDECAR, wrapSearchModel, type SearchModel } from './search-model.js';

export async function loadSearchModel(dir: string, check: WeightsCheck = {}): Promise<SearchModel> {
  const keras = await loadSavedModel(dir, (k) => k, check);
  const side = await readSidecar(dir, SEARCH_SIDECAR);
  if (side === null) throw new DataError(`${dir} has no ${SEARCH_SIDECAR}_spec.json: it is not a search model's folder (rec train --model bm25|two-tower|hybrid writes one).`);
  return wrapSearchModel(keras, side, dir);
}
