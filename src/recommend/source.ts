/**
 * What `rec recommend` reads from a checkpoint (docs/design.md#the-checkpoint-folder): the best model (`model/`) and the
 * vocabularies (`vocab/`, copied there so the checkpoint works without its dataset), plus three
 * facts only the dataset it was trained on knows, taken from it when it is still there and
 * unchanged (its manifest hash equals run.json's):
 * - each user's seen items: the rows of all three splits, i.e. everything the user is known to have
 *   interacted with; train alone would recommend back what they bought in the held-out period;
 * - which users have training rows, here or in an --init-from parent (the others are cold: see
 *   recommend.ts);
 * - whether user ids were anonymized, and the fingerprint of the key.
 * When the dataset is gone or was re-prepped, recommend still works from the checkpoint alone:
 * nothing is excluded, only users outside the vocabulary are cold, and a warning says so.
 *
 * A sequence model has no user rows: a user is their history, every split of that dataset in time
 * order. So for it the dataset is required, and a missing or changed one is a usage error that says
 * how to point at it (--data DIR).
 */
import { join } from 'node:path';
import { anonymizeId, keyFingerprint } from '../data/anonymize.js';
import { datasetsInside, datasetsInsideHint, loadDataset, manifestSha256, readVocabFile, type Vocab } from '../data/dataset.js';
import { MANIFEST_FILE, VOCAB_FILES, type DatasetManifest } from '../data/manifest.js';
import { pathExists } from '../io/atomic.js';
import { readTextLines } from '../io/text-lines.js';
import { paths, type RunJson } from '../io/checkpoint.js';
import { loadTrainedCheckpoint, type TrainedCheckpoint } from '../eval/checkpoint.js';
import { historyThresholdOf, rowsAtLeast } from '../data/sequences.js';
import { userItemSets, userSequences, type UserItems } from '../data/user-items.js';
import { isHistoryModel } from '../models/model.js';
import { UsageError } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import { trainedUsers, type UserQueries } from './recommend.js';
import { createSuggester, describeIds, looksLikeHeader, SHOWN_UNKNOWN, unknownReport } from './unknown.js';

export interface DatasetFacts {
  dir: string;
  seen: UserItems;
  trained: Uint8Array;
  anonymize: DatasetManifest['anonymize'];
  /** Sequence models: each user's whole history (all splits), oldest first; absent for pair models. */
  histories?: UserItems;
}

export interface RecommendCheckpoint extends TrainedCheckpoint {
  /** Null when the dataset was not asked for, is gone, or changed since training. */
  dataset: DatasetFacts | null;
}

/**
 * The checkpoint (eval/checkpoint.ts) plus, when asked for, what its dataset knows. `data` is the
 * dataset folder given with --data (one that moved since training); null: run.json's dataset.path.
 */
export async function loadRecommendCheckpoint(ckpt: string, opts: { dataset: boolean; data?: string | null }, log: Logger): Promise<RecommendCheckpoint> {
  const loaded = await loadTrainedCheckpoint(ckpt, log);
  const sequence = isHistoryModel(loaded.model) ? loaded.run.model : null;
  const dataset = opts.dataset ? await readDatasetFacts(loaded.dir, loaded.run, opts.data ?? null, loaded.users, loaded.items.ids.length, sequence, log) : null;
  return { ...loaded, dataset };
}

/**
 * `sequence`: the model's name when it is a sequence model, which cannot do without the dataset
 * (its users are their histories there), so what a pair model only warns about is exit 2 for it.
 */
export async function readDatasetFacts(
  ckpt: string,
  run: Pick<RunJson, 'dataset' | 'parents'> & Partial<Pick<RunJson, 'config'>>,
  given: string | null,
  users: Vocab,
  numItems: number,
  sequence: string | null,
  log: Logger,
): Promise<DatasetFacts | null> {
  const dir = given ?? run.dataset.path;
  const numUsers = users.ids.length;
  const consequence = 'seen items are not excluded and only users outside the vocabulary count as cold';
  const unusable = (problem: string, fix: string): null => {
    if (sequence !== null) {
      throw new UsageError(
        `${ckpt} is a ${sequence} model, which recommends from each user's history in the dataset it was trained on, and ${problem}. ${fix} Nothing was recommended.`,
      );
    }
    log.warn(`${problem}: ${consequence}.${fix === '' ? '' : ` ${fix}`}`);
    return null;
  };
  const manifestPath = join(dir, MANIFEST_FILE);
  if (!(await pathExists(manifestPath))) {
    if (given !== null) throw new UsageError(`--data ${dir} is not a dataset folder: ${manifestPath} is missing.${datasetsInsideHint(await datasetsInside(dir))} Expected the dataset folder ${ckpt} was trained on (written by rec prep).`);
    return unusable(
      `the checkpoint's dataset ${dir} is gone`,
      `The path comes from ${paths(ckpt).run} (dataset.path); if the folder moved, pass its new location with --data DIR.`,
    );
  }
  if ((await manifestSha256(dir)) !== run.dataset.manifest_sha256) {
    // Re-prepped data may number users and items differently: its indices cannot be trusted here.
    return unusable(
      given !== null
        ? `--data ${dir} is not the dataset ${ckpt} was trained on (manifest.json hash differs from run.json's)`
        : `the checkpoint's dataset ${dir} changed since training (manifest.json hash differs)`,
      sequence === null ? '' : 'Pass the dataset folder it was trained on with --data DIR.',
    );
  }
  const ds = await loadDataset(dir);
  // A fine-tuned model keeps its parent's ids that the dataset lacks after the dataset's own
  // (train/fine-tune.ts): the dataset's indices are then a prefix of the vocabulary.
  if (!isPrefix(ds.users.ids, users.ids) || ds.items.ids.length > numItems) {
    return unusable(
      `the checkpoint's dataset ${dir} does not match its vocab/ (${ds.users.ids.length}/${ds.items.ids.length} users/items, expected ${numUsers}/${numItems})`,
      sequence === null ? '' : 'Pass the dataset folder it was trained on with --data DIR.',
    );
  }
  const trained = trainedUsers(numUsers, ds.train.users);
  await markParentRows(run, users, trained, 'users', log);
  const splits = [ds.train, ds.valid, ds.test];
  const facts: DatasetFacts = { dir, seen: userItemSets(numUsers, splits), trained, anonymize: ds.manifest.anonymize ?? null };
  if (sequence !== null) {
    const threshold = historyThresholdOf(run.config);
    facts.histories = userSequences(numUsers, splits.map((s) => rowsAtLeast(s, threshold)));
  }
  return facts;
}

function isPrefix(head: readonly string[], ids: readonly string[]): boolean {
  if (head.length > ids.length) return false;
  for (let j = 0; j < head.length; j++) if (head[j] !== ids[j]) return false;
  return true;
}

/**
 * A fine-tuned model (--init-from) copied the rows of every user and item its parent knew, so such
 * a row is trained even without a training row here. Only the parents' own vocabularies are
 * checked, not their parents': that covers pretrain → fine-tune. A parent that cannot be read
 * leaves the training-row rule in place (popular items rather than an unchecked embedding).
 */
async function markParentRows(run: Pick<RunJson, 'parents'>, vocab: Vocab, trained: Uint8Array, which: 'users' | 'items', log: Logger): Promise<void> {
  for (const parent of run.parents ?? []) {
    let parentVocab: Vocab;
    try {
      parentVocab = await readVocabFile(join(paths(parent.path).vocab, VOCAB_FILES[which]));
    } catch {
      log.warn(`cannot read the ${which} of --init-from parent ${parent.path}: its ${which} without a training row here count as ${which === 'users' ? 'cold' : 'untrained'}.`);
      continue;
    }
    for (let j = 0; j < vocab.ids.length; j++) if (trained[j] === 0 && parentVocab.lookup(vocab.ids[j]) >= 0) trained[j] = 1;
  }
}

/**
 * Per item 1/0: has a training row (here or in a parent). An item without one still has its random
 * initial vector, so its --similar-to neighbours mean nothing. Null, quietly, when the dataset
 * cannot be read: item neighbours need only the model, and this is just a check on them.
 */
export async function readTrainedItems(ckpt: string, run: RunJson, given: string | null, items: Vocab, log: Logger): Promise<Uint8Array | null> {
  const dir = given ?? run.dataset.path;
  if (!(await pathExists(join(dir, MANIFEST_FILE))) || (await manifestSha256(dir)) !== run.dataset.manifest_sha256) {
    log.debug(`dataset ${dir} unavailable or changed: items without training rows cannot be flagged (checkpoint ${ckpt}).`);
    return null;
  }
  const ds = await loadDataset(dir);
  if (!isPrefix(ds.items.ids, items.ids)) return null;
  const trained = new Uint8Array(items.ids.length);
  for (let j = 0; j < ds.train.items.length; j++) trained[ds.train.items[j]] = 1;
  await markParentRows(run, items, trained, 'items', log);
  return trained;
}

/**
 * The warning for --similar-to items without training rows; null when there are none or it cannot
 * be told. An item the model scores from its features (`featured`) has a meaningful vector: no warning.
 */
export function untrainedItemsMessage(queries: readonly number[], trained: Uint8Array | null, items: Vocab, featured: Uint8Array | null = null): string | null {
  const untrained = trained === null ? [] : queries.filter((q) => trained[q] === 0 && featured?.[q] !== 1).map((q) => JSON.stringify(items.ids[q]));
  if (untrained.length === 0) return null;
  const shown = `${untrained.slice(0, SHOWN_UNKNOWN).join(', ')}${untrained.length > SHOWN_UNKNOWN ? ` and ${untrained.length - SHOWN_UNKNOWN} more` : ''}`;
  return `--similar-to ${shown}: no training rows (only in valid/test), so the vector is still its random initialisation and the neighbours are arbitrary.`;
}

/**
 * The key to hash typed user ids with before lookup, or null to look them up as typed.
 * `dataset` null means the dataset could not be read, so the key cannot be checked.
 * A key whose fingerprint differs from the one prep recorded would silently turn every user cold,
 * so it is a usage error; so is an anonymized dataset queried by id without any key.
 */
export function anonymizationKey(
  dataset: Pick<DatasetFacts, 'dir' | 'anonymize'> | null,
  key: Uint8Array | null,
  idsGiven: boolean,
  log: Logger,
): Uint8Array | null {
  if (dataset === null) {
    if (key !== null && idsGiven) log.warn('the dataset is unavailable, so the anonymisation key cannot be checked against its fingerprint; hashing user ids with it anyway.');
    return key;
  }
  const anon = dataset.anonymize;
  if (anon === null) {
    if (key !== null) log.info(`dataset ${dataset.dir} was not anonymized: user ids are looked up as given and the key is not used.`);
    return null;
  }
  if (key === null) {
    if (idsGiven) {
      throw new UsageError(
        `The checkpoint's dataset ${dataset.dir} has anonymized user ids (key fingerprint ${anon.key_fingerprint}). Pass the same key with --anonymize-key-file FILE or REC_ANON_KEY so the ids you give are hashed the same way.`,
      );
    }
    return null;
  }
  const fp = keyFingerprint(key);
  if (fp !== anon.key_fingerprint) {
    throw new UsageError(
      `Wrong anonymisation key: its fingerprint is ${fp}, but dataset ${dataset.dir} was anonymized with the key of fingerprint ${anon.key_fingerprint}. Pass the key used by rec prep --anonymize (--anonymize-key-file FILE or REC_ANON_KEY).`,
    );
  }
  return key;
}

/**
 * Typed user ids → queries: duplicates dropped (first kept, so the output has one entry per user in
 * the order given), each id hashed with `key` when there is one, and reported back as typed.
 */
export function resolveUsers(ids: readonly string[], users: Vocab, key: Uint8Array | null): UserQueries {
  const labels = [...new Set(ids)];
  const indices = new Int32Array(labels.length);
  for (let j = 0; j < labels.length; j++) indices[j] = users.lookup(key === null ? labels[j] : anonymizeId(key, labels[j]));
  return { labels, indices };
}

/** Every vocabulary user, in index order, named by its vocabulary id (the HMAC under --anonymize). */
export function allUsers(users: Vocab): UserQueries {
  const indices = new Int32Array(users.ids.length);
  for (let u = 0; u < indices.length; u++) indices[u] = u;
  return { labels: users.ids, indices };
}

export interface UserIdsFile {
  path: string;
  /** Ids in file order, trimmed; blank lines left out. */
  ids: string[];
  /** 1-based line number of each id. */
  lines: number[];
  blankLines: number;
}

/** `--users FILE`: one raw id per line; surrounding whitespace and blank lines are ignored. */
export async function readUserIdsFile(path: string): Promise<UserIdsFile> {
  const out: UserIdsFile = { path, ids: [], lines: [], blankLines: 0 };
  // The shared reader: CR/CRLF/LF, a BOM, .gz; a line that is not UTF-8 is refused, not decoded
  // to U+FFFD (which would merge distinct ids).
  let last = 0;
  for await (const { text, line } of readTextLines(path, '--users file')) {
    // The splitter does not yield empty lines; their numbers are the gaps.
    out.blankLines += line - last - 1;
    last = line;
    const id = text.trim();
    if (id.length === 0) out.blankLines++;
    else {
      out.ids.push(id);
      out.lines.push(line);
    }
  }
  return out;
}

/**
 * What about a list of typed ids would surprise the reader of the output (issue #13): repeated ids
 * (the output has one entry per user, so it no longer lines up with the input), and, for a --users
 * file, blank lines, a header line and lines holding several fields. `known` says whether the
 * vocabulary holds an id. Each note is one warning.
 */
export function userIdNotes(ids: readonly string[], file: UserIdsFile | null, known: (id: string) => boolean): string[] {
  const notes: string[] = [];
  const counts = new Map<string, number>();
  for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + 1);
  const repeated = [...counts].filter(([, n]) => n > 1);
  if (repeated.length > 0) {
    const extra = repeated.reduce((s, [, n]) => s + n - 1, 0);
    const shown = repeated.slice(0, 5).map(([id, n]) => `${JSON.stringify(id)} ×${n}`).join(', ');
    notes.push(
      `${extra} repeated user id${extra === 1 ? '' : 's'} dropped (${shown}${repeated.length > 5 ? ', ...' : ''}): each user gets one list, in the order first given, so the output has ${counts.size} users, not ${ids.length}.`,
    );
  }
  if (file === null) return notes;
  if (file.blankLines > 0) notes.push(`--users ${file.path}: ${file.blankLines} blank line${file.blankLines === 1 ? '' : 's'} skipped.`);
  const first = file.ids[0];
  if (first !== undefined && !known(first) && looksLikeHeader(first) && file.ids.slice(1).some(known)) {
    notes.push(`--users ${file.path}: line ${file.lines[0]}, ${JSON.stringify(first)}, looks like a header; it was looked up as a user id (and is cold). Expected ids only, one per line: remove the header line.`);
  }
  const multi = file.ids.findIndex((id) => /[,\t;]/.test(id) && !known(id));
  if (multi >= 0) {
    notes.push(`--users ${file.path}: line ${file.lines[multi]} is ${JSON.stringify(file.ids[multi])}, which looks like several fields; each whole line is one user id. Expected one id per line (e.g. cut -d, -f1 of a CSV).`);
  }
  return notes;
}

/** Item ids → indices; every unknown id is named in one UsageError (exit 2), with a "did you mean" when one normalises to a known id. */
export function resolveItems(ids: readonly string[], items: Vocab, flag = '--similar-to'): number[] {
  const unknown = [...new Set(ids.filter((id) => items.lookup(id) < 0))];
  if (unknown.length > 0) {
    const report = unknownReport(unknown, createSuggester(items, null));
    throw new UsageError(
      `${flag}: unknown item${unknown.length > 1 ? 's' : ''} ${describeIds(report)}. Expected raw item ids from the checkpoint's vocab/items.arrow (${items.ids.length} items), matched exactly as typed.`,
    );
  }
  return [...new Set(ids)].map((id) => items.lookup(id));
}
