/**
 * `rec prep` as a library call (docs/design.md#the-dataset-folder, docs/datasets.md): behaviour logs → dataset folder.
 *
 * Pipeline: read every input (streaming; accepted rows into typed-array columns, rejects into
 * rejects.jsonl) → de-duplicate (user, item) → iterative k-core → split → drop ids left without
 * rows → write train/valid/test.arrow sorted by (user, ts, seq), users/items.arrow and
 * manifest.json into a staged folder beside --out → rename it into place (or, under --force into a
 * folder holding other files, move the dataset's files in, manifest.json last). Any failure
 * removes the staged folder.
 */
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { PrepConfig } from '../../config/schema.js';
import { stableJson, writeFileAtomic } from '../../io/atomic.js';
import { findPromoted, promotedRefusal } from '../../io/promoted.js';
import { DataError, UsageError } from '../../util/errors.js';
import type { ProgressBar } from '../../util/progress.js';
import type { RunIO } from '../../util/run-io.js';
import { anonymizeId, keyFingerprint } from '../anonymize.js';
import type { Dataset } from '../dataset.js';
import { MANIFEST_FILE, REJECTS_FILE, SPLIT_FILES, VOCAB_FILES, type ManifestWindow } from '../manifest.js';
import { baseRoles, checkAppendCompatible, foldAnonymizedUsers, inheritPrepConfig, loadBaseData, preloadBase, restoreBaseSplits, type AppendBase, type PreloadedBase } from './append.js';
import { BATCH_ROWS, writeInteractions, writeVocab } from './arrow-write.js';
import { attachCatalogue, catalogueManifest, planCatalogue, readCatalogueInput, writeCatalogueFiles, type CatalogueInput } from './catalogue.js';
import { dedupeRows, type DedupeRule } from './dedupe.js';
import { checkColumnRoles, checkEventWeights, checkRatings, checkSplits, checkTimes, checkUserItemSwap, explainRejects, idCounts } from './diagnose.js';
import { summarizeSplits } from './finalize.js';
import { commitOutput, lockPrepFolders, outputError, releaseFolders, stageOutput } from './folders.js';
import { prepLog, type PrepJob, type PrepPlan, type ReadInputs, type ShapedRows, type Vocabularies } from './job.js';
import { kcoreRows } from './kcore.js';
import { alreadyAppended, alreadyUpToDate, openBase, unchangedInPlace, type AlreadyPresent } from './nightly.js';
import { fileKind, parseSplitSpec } from './options.js';
import { POOL, TEST, TRAIN, VALID, WIDE_SCRATCH_ROWS, arrangeRows } from './order.js';
import { interrupted, makeIngest, overMaxRejects, planColumnarRows, readContext, readerSettings, readInput, tooManyRejects, type InputFile, type ReadOutcome, type ReadState } from './read.js';
import { datasetManifest, datasetRows, prepResult } from './record.js';
import { RejectSink } from './rejects.js';
import type { PrepRequest, PrepResult } from './request.js';
import type { RowStore } from './store.js';
import { expandInputs } from './inputs.js';
import { warmHashThread } from './hash-thread.js';
import { VocabIds } from './vocab-ids.js';
import type { TextFeaturizerSpec } from '../text.js';
import { inputSize } from './source.js';
import { applySplit } from './split.js';
import { SEARCH_DEFAULT_SPLIT, checkSearchSettings, dedupeSearchRows, queryVocab, querySplit, searchManifest, writeSearchFiles } from './search.js';
import type { ManifestSearch } from '../manifest.js';
import { aheadOfAnchor, ageOut, checkBaseAgedOut, windowAnchor } from './window.js';

export type { PrepRequest, PrepResult, PrepSplitSummary } from './request.js';
export { readLogs, type LogRows } from './read.js';

/**
 * `rec prep` holding the lock of every dataset folder it reads or writes (--out, and --append-to
 * when it is another folder; io/lock.ts): a second prep into the same folder waits for the first
 * to finish, then reads the base as the first left it, so two nights appended at once both land
 * (docs/nightly.md). A folder that a prep killed between the two renames of its swap left absent is
 * put back first, before anything reads it or sweeps its set-aside copy away.
 */
export async function runPrep(req: PrepRequest, io: RunIO): Promise<PrepResult> {
  const held = await lockPrepFolders(req.out, req.appendTo, io);
  let ok = false;
  try {
    const result = await prepLocked(req, io);
    ok = true;
    return result;
  } finally {
    await releaseFolders(held, ok);
  }
}

async function prepLocked(req: PrepRequest, io: RunIO): Promise<PrepResult> {
  const t0 = performance.now();
  const plan = await planPrep(req, io);
  if (plan.base !== null && plan.files.length === 0 && (plan.catalogue?.paths.length ?? 0) === 0 && (await unchangedInPlace(req, plan.base, plan.cfg, plan.windowDays))) {
    // Re-running a night in place: nothing to add and nothing to change, so BASE stays byte for
    // byte as it is (its manifest hash too, which checkpoints record).
    return alreadyUpToDate(plan.base, plan.alreadyPresent, plan.inherited, io, t0);
  }
  const baseData = plan.base !== null ? await loadBaseData(plan.base) : null;
  const output = await stageOutput(req.out, [...plan.files.map((f) => f.path), ...(plan.catalogue?.paths ?? [])], req.force === true, io);
  const log = prepLog(io, plan.cfg.strict, t0);
  let rejects: RejectSink | null = null;
  const bar = io.progress.start('prep', plan.totalBytes, 'B', { rate: { unit: 'MB', scale: 1e-6 } });
  try {
    rejects = await RejectSink.create(join(output.staged.path, REJECTS_FILE), !plan.cfg.anonymize);
    const job: PrepJob = { req, io, plan, log, sink: rejects, stagedPath: output.staged.path, written: new Map() };
    const catalogue: CatalogueInput | null = plan.catalogue !== null ? await readCatalogueInput(plan.catalogue, rejects, (msg) => io.log.info(msg), io.signal) : null;
    const input = await readAll(job, baseData, bar);
    const userCounts = checkInput(job, input, baseData);
    const shaped = await shapeRows(job, input, userCounts);
    const vocab = buildVocabularies(job, input, shaped);
    const built = catalogue !== null ? attachCatalogue(catalogue, vocab, log.warn) : null;
    await writeDataset(job, input.ing.store, shaped, vocab);
    if (req.exportParquet === true) {
      const { exportSplitsParquet } = await import('./export-parquet.js');
      await exportSplitsParquet(job.stagedPath, vocab.userIds.ids, vocab.itemIds.ids, vocab.eventNames !== null, input.ing.store.hasTs);
      log.phase('export-parquet');
    }
    if (catalogue !== null && built !== null) await writeCatalogueFiles(job.stagedPath, built, catalogue.spec, job.written);
    const search = await writeSearch(job, input, vocab, built?.textSpec ?? null, built?.logItemsWithoutRow ?? null);
    const rows = datasetRows(job, input, shaped, vocab);
    // Closed before the manifest, which records the sha256 of every file written (rejects.jsonl too).
    await job.sink.close();
    const manifest = await datasetManifest(job, input, shaped, vocab, rows, catalogue !== null && built !== null ? catalogueManifest(catalogue, built) : null, search);
    await writeFileAtomic(join(output.staged.path, MANIFEST_FILE), stableJson(manifest));
    await checkAbort(io);
    await commitOutput(output);
    bar.stop();
    return prepResult(job, input, shaped, manifest, t0);
  } catch (error) {
    bar.stop();
    await rejects?.discard();
    await output.staged.abort();
    throw outputError(req.out, error);
  }
}

/**
 * The phases after reading are synchronous; one turn of the event loop between them lets a
 * SIGINT/SIGTERM handler run, so a signal is seen within a phase's time (about a second per few
 * million rows), not only at the end.
 */
async function checkAbort(io: RunIO): Promise<void> {
  await new Promise<void>((resolveTurn) => setImmediate(resolveTurn));
  if (io.signal?.aborted) throw interrupted(io.signal);
}

/** 1. Settings and the inputs to read: every usage error comes before anything is read or written. */
async function planPrep(req: PrepRequest, io: RunIO): Promise<PrepPlan> {
  if (req.inputs.length === 0) throw new UsageError('rec prep needs at least one log file. Expected: rec prep LOG... --out DIR.');
  const promoted = await findPromoted(req.out);
  if (promoted !== null) throw new UsageError(promotedRefusal(`rec prep --out ${req.out}`, promoted));
  const windowDays = req.windowDays ?? null;
  if (windowDays !== null && !(Number.isFinite(windowDays) && windowDays > 0)) {
    throw new UsageError(`--window ${windowDays} is invalid. Expected a positive number of days, e.g. --window 30 (or 36h).`);
  }
  let cfg = req.config;
  let base: AppendBase | null = null;
  let inherited: string[] = [];
  if (req.appendTo !== undefined) {
    base = await openBase(req.appendTo);
    ({ cfg, inherited } = inheritPrepConfig(cfg, base.manifest, req.explicitKeys ?? new Set<string>()));
    checkAppendCompatible(cfg, base, req.anonKey);
  }
  const settings = readerSettings(cfg);
  const search = settings.spec?.query !== undefined;
  // A search log left at the default split holds out whole queries (docs/datasets.md#search-logs).
  const splitGiven = req.explicitKeys?.has('split') ?? cfg.split !== 'random:0.8,0.1,0.1';
  if (search && !splitGiven) cfg = { ...cfg, split: SEARCH_DEFAULT_SPLIT };
  const splitSpec = parseSplitSpec(cfg.split);
  checkSearchSettings(cfg, splitSpec, search, base !== null);
  if (cfg.anonymize && (!req.anonKey || req.anonKey.length === 0)) {
    throw new UsageError('--anonymize (config prep.anonymize) needs a key: pass --anonymize-key-file FILE (config prep.anonymize_key_file) or set REC_ANON_KEY.');
  }
  const catalogue = await planCatalogue(cfg, base);
  const { files, alreadyPresent } = await listInputs(req.inputs, cfg, base, io);
  const totalBytes = files.reduce((s, f) => s + f.size, 0);
  return { cfg, base, inherited, windowDays, settings, splitSpec, files, alreadyPresent, totalBytes, now: req.now ?? Date.now(), catalogue };
}

/** The logs to read (those a base already holds skipped), then the --valid and --test files. */
async function listInputs(inputs: readonly string[], cfg: PrepConfig, base: AppendBase | null, io: RunIO): Promise<{ files: InputFile[]; alreadyPresent: AlreadyPresent }> {
  const files: InputFile[] = [];
  const alreadyPresent: AlreadyPresent = [];
  const seen = new Set<string>();
  for (const path of await expandInputs(inputs, cfg.format)) {
    const file: InputFile = { path, role: 'log', size: await inputSize(path, 'Input log'), kind: fileKind(path, cfg.format) };
    if (base === null || !(await alreadyAppended(file, base, seen, alreadyPresent, io))) files.push(file);
  }
  if (cfg.valid !== null) files.push({ path: cfg.valid, role: 'valid', size: await inputSize(cfg.valid, '--valid file (config prep.valid)'), kind: fileKind(cfg.valid, cfg.format) });
  if (cfg.test !== null) files.push({ path: cfg.test, role: 'test', size: await inputSize(cfg.test, '--test file (config prep.test)'), kind: fileKind(cfg.test, cfg.format) });
  return { files, alreadyPresent };
}

/** 2. Reads the base's rows (under --append-to), then every input; --max-rejects over the new logs' rows. */
async function readAll(job: PrepJob, baseData: Dataset | null, bar: ProgressBar): Promise<ReadInputs> {
  const { plan, sink, io } = job;
  const { cfg, settings } = plan;
  const state: ReadState = { ingest: null, roles: null, columns: null };
  const whyRejected = (): string =>
    state.columns !== null
      ? explainRejects(state.columns, {
          reasons: sink.reasons(),
          total: sink.count,
          tsUnit: cfg.ts_unit,
          tsFormat: cfg.ts_format,
          unweighted: state.ingest?.unweighted ?? new Map<string, number>(),
          eventWeights: settings.eventWeights,
        })
      : '';
  const tooMany = (read: number): DataError => {
    const why = whyRejected();
    return tooManyRejects(sink, settings.maxRejects, read, why !== '' ? `${why} No dataset was written.` : 'No dataset was written; fix the input (see the reasons) or raise --max-rejects.');
  };
  const ctx = readContext(cfg, settings, {
    splitSpec: plan.splitSpec,
    sink,
    tooMany,
    warn: job.log.warn,
    io,
    parser: job.req.parser ?? 'fast',
    bar,
    firstPath: plan.base !== null ? `the base dataset ${plan.base.dir}` : plan.files[0].path,
    now: plan.now,
    windowDays: plan.windowDays,
  });
  let pre: PreloadedBase | null = null;
  if (plan.base !== null && baseData !== null) {
    const m = plan.base.manifest;
    state.ingest = makeIngest(ctx, m.feedback.kind, m.time.has_ts, m.events !== null);
    state.roles = baseRoles(m);
    pre = preloadBase(state.ingest, baseData);
    job.log.phase('base');
  }
  const outcomes: ReadOutcome[] = [];
  await planColumnarRows(ctx, plan.files);
  for (const file of plan.files) outcomes.push(await readInput(file, ctx, state));
  const ing = state.ingest;
  const columns = state.columns;
  if (ing === null || (columns === null && plan.base === null)) throw new DataError('No input was read.');
  const seqStart = pre?.seqStart ?? 0;
  const logRead = ing.seq - seqStart;
  if (overMaxRejects(sink, settings.maxRejects, logRead)) throw tooMany(logRead);
  bar.update(plan.totalBytes, 'processing');
  job.log.phase('read');
  return { ing, columns, outcomes, pre, seqStart, logRead, read: (pre?.rows ?? 0) + logRead, whyRejected };
}

/**
 * Warnings on what was read (ratings, times, event weights, swapped columns); a base's anonymised users matched.
 * Returns the rows per user that the swapped-columns check counted, for the arrangement (null once users were folded).
 */
function checkInput(job: PrepJob, input: ReadInputs, baseData: Dataset | null): Int32Array | null {
  const { sink, log, plan } = job;
  const { ing, columns, logRead } = input;
  const store = ing.store;
  // Under a generous --max-rejects, most rows may be gone without an error: say why.
  if (sink.count * 2 > logRead) log.warn(`${sink.count} of ${logRead} rows were rejected (see rejects.jsonl). ${input.whyRejected() || `By reason: ${JSON.stringify(sink.reasons())}.`}`);
  // Rejected and counted already; what a user of a Latin-1 export needs is the flag that reads those lines.
  const notUtf8 = sink.byReason.get('invalid_utf8') ?? 0;
  if (notUtf8 > 0 && plan.cfg.encoding === null) {
    log.note(`${notUtf8} ${notUtf8 === 1 ? 'line is' : 'lines are'} not valid UTF-8 and ${notUtf8 === 1 ? 'was' : 'were'} rejected (invalid_utf8, see rejects.jsonl). If the file is in another encoding, pass --encoding latin1, cp1252, utf-16, or utf-8,cp1252 for a mix (config prep.encoding).`);
  }
  if (columns !== null) {
    const ratingNote = ing.opts.feedback === 'explicit' ? checkRatings(store, columns, plan.now) : null;
    if (ratingNote !== null) log.warn(ratingNote);
    const timeNote = checkTimes(store, columns, plan.cfg.ts_unit, plan.cfg.ts_format, plan.now);
    if (timeNote !== null) log.warn(timeNote);
    if (ing.opts.feedback === 'implicit') for (const weightNote of checkEventWeights(plan.settings.eventWeights, ing.eventNames, ing.unweighted)) log.warn(weightNote);
    for (const roleNote of checkColumnRoles(columns, plan.cfg.ts_format)) log.warn(roleNote);
  }
  const userCounts = idCounts(store.users, store.length, ing.users.size);
  const swapNote = checkUserItemSwap(store, ing.users.size, ing.items.size, columns, userCounts);
  if (swapNote !== null) log.note(swapNote);
  const key = job.req.anonKey;
  if (baseData !== null && baseData.manifest.anonymize !== null && key !== undefined) {
    foldAnonymizedUsers(store, baseData.users.ids, (k) => ing.users.idAt(k), ing.users.size, (raw) => anonymizeId(key, raw));
    return null;
  }
  return userCounts;
}

/** 3. --window, then arrange, dedupe, k-core and split the accepted rows. */
async function shapeRows(job: PrepJob, input: ReadInputs, userCounts: Int32Array | null): Promise<ShapedRows> {
  const { plan, log, io, req } = job;
  const { cfg, splitSpec } = plan;
  const { ing, pre } = input;
  const store = ing.store;
  // Every id is interned by now: the lookup maps (the largest objects of a log with millions of
  // ids) go before the arrangement's scratch is taken.
  ing.users.freeze();
  ing.items.freeze();
  // The split files will be hashed on their own thread: it starts while the rows are arranged.
  if (store.length >= BATCH_ROWS) warmHashThread();
  const assign = new Uint8Array(store.length).fill(POOL);
  for (const o of input.outcomes) {
    if (o.source.role === 'log') continue;
    assign.fill(o.source.role === 'valid' ? VALID : TEST, o.from, o.to);
  }
  const feedback = ing.opts.feedback;
  const dedupe = resolveDedupe(cfg.dedupe, feedback);
  const nUsers0 = ing.users.size;
  const nItems0 = ing.items.size;
  const predefined = { valid: cfg.valid !== null, test: cfg.test !== null };
  const window =
    plan.windowDays !== null ? applyWindow(store, assign, plan.windowDays, { seqStart: input.seqStart, now: plan.now, appending: pre !== null, force: req.forceWindow === true, warn: log.warn }) : null;
  await checkAbort(io);
  arrangeRows(store, assign, nUsers0, WIDE_SCRATCH_ROWS, userCounts);
  log.phase('arrange');
  await checkAbort(io);
  const deduplicated = store.queries !== null ? dedupeSearchRows(store, assign, nItems0, dedupe) : dedupeRows(store, assign, nItems0, dedupe, predefined.valid || predefined.test);
  log.phase('dedupe');
  await checkAbort(io);
  const kcore = kcoreRows(store, assign, nUsers0, nItems0, cfg.min_user, cfg.min_item);
  log.phase('k-core');
  await checkAbort(io);
  const split = splitSpec.kind === 'query' ? querySplit(store, assign, ing.queries.size, splitSpec, predefined, req.seed) : applySplit(store, assign, nUsers0, splitSpec, predefined, req.seed);
  if (pre !== null && splitSpec.kind === 'random') restoreBaseSplits(store, assign, pre);
  log.phase('split');
  await checkAbort(io);
  for (const text of split.notes) log.note(text);
  return { assign, feedback, dedupe, deduplicated, kcore, split, window, agedOut: window?.aged_out ?? 0, nUsers0, nItems0 };
}

function resolveDedupe(rule: PrepConfig['dedupe'], feedback: 'explicit' | 'implicit'): DedupeRule {
  if (rule === 'auto') return feedback === 'explicit' ? 'last' : 'max';
  return rule;
}

/** --window: marks the rows it ages out; under --append-to refuses to age out most of the base unless forced. */
function applyWindow(store: RowStore, assign: Uint8Array, days: number, ctx: { seqStart: number; now: number; appending: boolean; force: boolean; warn: (msg: string) => void }): ManifestWindow {
  if (!store.hasTs) throw new UsageError(`--window ${days} needs timestamps, but the data has no ts column. Expected --columns …,ts=C, or no --window.`);
  const at = windowAnchor(store, ctx.seqStart, ctx.now);
  const window = ageOut(store, assign, days, at);
  const ahead = aheadOfAnchor(store, at);
  if (ahead !== null) ctx.warn(ahead);
  if (ctx.appending) checkBaseAgedOut(store, assign, ctx.seqStart, window, ctx.force);
  return window;
}

/** 4. Vocabularies of the ids that still have rows, in order of first appearance; per-split statistics. */
function buildVocabularies(job: PrepJob, input: ReadInputs, shaped: ShapedRows): Vocabularies {
  const { plan, req, sink } = job;
  const { cfg } = plan;
  const { ing, pre } = input;
  const { assign, nUsers0, nItems0 } = shaped;
  const store = ing.store;
  const { sum, splitStats } = summarizeSplits(store, assign, nUsers0, nItems0, pre?.users ?? 0, pre?.items ?? 0);
  if (ing.anonymous) forgetAnonymousUser(sum, splitStats);
  const um = sum.users;
  const im = sum.items;
  const predefined = { valid: cfg.valid !== null, test: cfg.test !== null };
  const splitNotes = checkSplits({
    spec: plan.splitSpec,
    ratios: shaped.split.ratios,
    rows: { train: splitStats.train.rows, valid: splitStats.valid.rows, test: splitStats.test.rows },
    predefined,
    userCounts: um.counts,
    removed: { rejected: sink.count, deduplicated: shaped.deduplicated, filtered: shaped.kcore.removed + shaped.agedOut, minUser: cfg.min_user, minItem: cfg.min_item },
  });
  for (const splitNote of splitNotes) job.log.warn(splitNote);
  const fp = req.anonKey && cfg.anonymize ? keyFingerprint(req.anonKey) : null;
  const userOrder = orderOf(um.map, um.size);
  let userStrings: string[] | null = null;
  if (fp !== null && req.anonKey) {
    const key = req.anonKey;
    // A base's ids are already HMACs (append.ts folds new raw ids onto them).
    userStrings = Array.from(userOrder, (k) => (k >= (pre?.users ?? 0) ? anonymizeId(key, ing.users.idAt(k)) : ing.users.idAt(k)));
  }
  const userIds = new VocabIds(ing.users, userOrder, userStrings);
  const itemIds = new VocabIds(ing.items, orderOf(im.map, im.size));
  ing.users.freeze();
  ing.items.freeze();
  job.log.phase('vocab');
  const queries = store.queries !== null ? queryVocab(ing, assign) : null;
  return { sum, splitStats, userIds, itemIds, fp, eventNames: store.events ? ing.eventNames : null, queries, anonymous: ing.anonymous };
}

/** The old index of each new one: the inverse of a compaction's map. */
function orderOf(map: Int32Array, size: number): Int32Array {
  const order = new Int32Array(size);
  for (let k = 0; k < map.length; k++) if (map[k] >= 0) order[map[k]] = k;
  return order;
}

/** An anonymous search log's one internal user is no user: users.arrow stays empty and no split counts it. */
function forgetAnonymousUser(sum: Vocabularies['sum'], stats: Vocabularies['splitStats']): void {
  const n = sum.users.map.length;
  sum.users = { map: new Int32Array(n).fill(-1), size: 0, counts: new Int32Array(0), firstTs: new Float64Array(0), lastTs: new Float64Array(0) };
  for (const st of [stats.train, stats.valid, stats.test]) {
    st.users = 0;
    st.cold_users = 0;
  }
}

/** 4b. A search log's queries.arrow, featurised like the catalogue's text; its manifest block (null for a behaviour log). */
async function writeSearch(job: PrepJob, input: ReadInputs, vocab: Vocabularies, textSpec: TextFeaturizerSpec | null, withoutRow: number | null): Promise<ManifestSearch | null> {
  if (input.ing.store.queries === null || vocab.queries === null) return null;
  const spec = await writeSearchFiles(job.stagedPath, vocab.queries, textSpec);
  const relevance = job.plan.settings.spec?.relevance === true;
  return searchManifest(input.ing, vocab.queries, spec, { relevance, min: vocab.sum.valueMin, max: vocab.sum.valueMax, range: job.plan.settings.relevanceRange }, withoutRow);
}

/** 5. Split files (rows already in (user, ts, seq) order), then the vocabularies. */
async function writeDataset(job: PrepJob, store: RowStore, shaped: ShapedRows, vocab: Vocabularies): Promise<void> {
  const { sum, splitStats } = vocab;
  // A split file's digest comes from the hash thread once it has hashed the file's last bytes; the
  // next file is written meanwhile.
  const digests: Promise<void>[] = [];
  for (const [name, code] of [['train', TRAIN], ['valid', VALID], ['test', TEST]] as const) {
    await checkAbort(job.io);
    const search = vocab.queries !== null ? { queryMap: vocab.queries.map, anonymous: vocab.anonymous } : null;
    await writeInteractions(join(job.stagedPath, SPLIT_FILES[name]), store, shaped.assign, code, splitStats[name].rows, sum.users.map, sum.items.map, vocab.eventNames, search, job.written, digests);
  }
  await writeVocab(join(job.stagedPath, VOCAB_FILES.users), vocab.userIds, sum.users.counts, sum.users.firstTs, sum.users.lastTs, job.written);
  await writeVocab(join(job.stagedPath, VOCAB_FILES.items), vocab.itemIds, sum.items.counts, sum.items.firstTs, sum.items.lastTs, job.written);
  await Promise.all(digests);
  job.log.phase('write');
}
