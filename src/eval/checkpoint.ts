/**
 * Loading a trained checkpoint for use (docs/design.md#the-checkpoint-folder): its run.json, the best model (`model/`) and
 * the vocabularies copied into `vocab/`, checked against each other. `rec eval` and
 * `rec recommend` both start here.
 */
import { join } from 'node:path';
import { datasetPathExists, readVocabFile, type Vocab } from '../data/dataset.js';
import { VOCAB_FILES } from '../data/manifest.js';
import { findCompleteDir, paths, readRunJson, readTrainedRows, type RunJson, type TrainedRows, weightsCheck } from '../io/checkpoint.js';
import type { Logger } from '../util/log.js';
import { type AnyModel, isHistoryModel } from '../models/model.js';
import { loadModel } from '../models/saved.js';
import { DataError, UsageError } from '../util/errors.js';
import { checkCheckpointDir } from '../io/checkpoint-read.js';

// TF-free, so `rec search` checks the folder without loading TF.js.
export { checkCheckpointDir } from '../io/checkpoint-read.js';

export interface TrainedCheckpoint {
  dir: string;
  run: RunJson;
  /** A pair model, or a sequence model (which scores users from their histories in a dataset). */
  model: AnyModel;
  users: Vocab;
  items: Vocab;
  /** Which rows the model learned (vocab/trained.json); null for checkpoints written before it. */
  trained: TrainedRows | null;
}

/**
 * The dataset folder `rec eval` / `rec recommend` read: `--data DIR` when given, else the path
 * recorded in run.json at training time. Folders get moved and temporary datasets get cleaned up, so
 * a recorded path that is gone is a usage error saying where the path came from and how to point
 * at the dataset's new place, rather than a bare "not a dataset folder".
 */
export async function checkpointDataDir(ckpt: string, run: Pick<RunJson, 'dataset'>, data: string | null): Promise<string> {
  if (data !== null) {
    if (!(await datasetPathExists(data))) throw new UsageError(`--data ${data} does not exist. Expected a dataset folder written by rec prep.`);
    return data;
  }
  const recorded = run.dataset.path;
  if (!(await datasetPathExists(recorded))) throw new UsageError(movedDatasetMessage(ckpt, recorded));
  return recorded;
}

/** Says where a dataset path came from and how to point at its new place. */
export function movedDatasetMessage(ckpt: string, recorded: string): string {
  return `The dataset ${ckpt} was trained on, ${recorded}, no longer exists (that path is recorded in ${paths(ckpt).run}, dataset.path). If the folder moved, pass its new location with --data DIR; a dataset prepped again from the same logs also works (users and items are matched by raw id).`;
}

/**
 * Loads the model and vocabularies (the TF.js engine must be initialised first), checking the
 * weights against their recorded sha256. A model folder that a kill left between the two renames
 * of its swap is read from the complete copy beside it, without moving anything: only the run that
 * holds the checkpoint's lock repairs it.
 */
export async function loadTrainedCheckpoint(ckpt: string, log?: Pick<Logger, 'warn'>): Promise<TrainedCheckpoint> {
  await checkCheckpointDir(ckpt);
  const run = await readRunJson(ckpt);
  const p = paths(ckpt);
  const modelDir = await findCompleteDir(p.model, 'model.json');
  if (modelDir === null) {
    throw new DataError(`Checkpoint ${ckpt} has no model yet: ${join(p.model, 'model.json')} is missing (run status: ${run.status}). Train it to the end of an epoch first.`);
  }
  const [model, users, items, trained] = await Promise.all([
    loadModel(modelDir, weightsCheck(modelDir === p.model ? run : null, 'model/weights.bin', log)),
    readVocabFile(join(p.vocab, VOCAB_FILES.users)),
    readVocabFile(join(p.vocab, VOCAB_FILES.items)),
    readTrainedRows(ckpt),
  ]);
  if (trained !== null && (trained.users.length !== users.ids.length || trained.items.length !== items.ids.length)) {
    throw new DataError(`${join(p.vocab, 'trained.json')} covers ${trained.users.length} users and ${trained.items.length} items, the vocabulary ${users.ids.length} and ${items.ids.length}. The checkpoint is damaged.`);
  }
  // A sequence model has no user rows: its users are whoever has a history, so only items must agree.
  const usersAgree = isHistoryModel(model) || model.shape.users === users.ids.length;
  if (!usersAgree || model.shape.items !== items.ids.length) {
    throw new DataError(
      `Checkpoint ${ckpt} is inconsistent: the model has ${model.shape.users} users and ${model.shape.items} items, vocab/ has ${users.ids.length} and ${items.ids.length}.`,
    );
  }
  return { dir: ckpt, run, model, users, items, trained };
}
