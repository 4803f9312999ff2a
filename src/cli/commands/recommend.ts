import type { Command } from 'commander';
import { once } from 'node:events';
import { extname, resolve } from 'node:path';
import type { RowFileSink, RowFormat, RowLayout } from '../../io/recommendations.js';
import type { RankPool } from '../../eval/parallel/pool.js';
import type { RecommendSource, UserQueries, UserRecommendations } from '../../recommend/recommend.js';
import type { SimilarItems } from '../../recommend/similar.js';
import type { RecommendCheckpoint, UserIdsFile } from '../../recommend/source.js';
import type { UnknownIds } from '../../recommend/unknown.js';
import type { ProgressBar } from '../../util/progress.js';
import { interruptedError, UsageError, describeValue } from '../../util/errors.js';
import { resolveAnonKey } from '../anon-key.js';
import type { CommandContext } from '../context.js';
import { addConfigOptions } from '../options.js';
import { addGlobalFlags, runCommand, type Runtime } from '../runtime.js';
import { plural } from '../../util/plural.js';

const EXAMPLES = `
Examples:
  $ rec recommend checkpoints/mf --user 42 --json          # {"recommendations":[{"user":"42","items":[...],"cold":false}]}
  $ rec recommend checkpoints/mf --user 42,77 --user 9 --k 20 --format csv
  $ rec recommend checkpoints/mf --users ids.txt --out recs.jsonl
  $ rec recommend checkpoints/mf --all --out recs.arrow      # Arrow IPC: user, rank, item, score, cold
  $ rec recommend checkpoints/mf --similar-to B000123 --k 5 --json
  $ REC_ANON_KEY=... rec recommend checkpoints/mf --user alice   # dataset prepped with --anonymize
  $ rec recommend checkpoints/mf-features --all --new-items --out recs.csv   # new products too: from_features column

Scores are the model's (logits for bce/bpr, predicted ratings for mse). A user the model never
trained on gets the most popular items, "cold": true, scored by their interaction counts (sasrec
scores a user from their whole history in the checkpoint's dataset: only users without one are
cold); ids
outside the checkpoint's vocabulary are counted and named on stderr and in "unknown_users"
({count, first, did_you_mean}: e.g. "001" → "1"), since a typo is the usual cause.
With --json and no --out, stdout holds one document: {"checkpoint", "k", "recommendations": [...]}
(or "similar": [{"item", "items": [{"item", "score"}]}] for --similar-to, scored by cosine).
An item without a training row (a new product) is never served: its vector is random. A model
trained with item features scores such items from their features; --new-items serves them, each
marked "from_features": true (CSV and Arrow: a from_features column). --similar-to works for a new
product of such a model with or without --new-items.`;

interface RecommendFlags {
  user?: string[];
  users?: string;
  all?: boolean;
  similarTo?: string[];
  k?: string;
  includeSeen?: boolean;
  format?: string;
  out?: string;
  force?: boolean;
  data?: string;
  newItems?: boolean;
}

/**
 * The --json document. Without --out it carries the results (`recommendations`, or `similar` for
 * --similar-to); with --out, a summary of the file written.
 */
export interface RecommendResult {
  checkpoint: string;
  k: number;
  recommendations?: UserRecommendations[];
  similar?: SimilarItems[];
  out?: string;
  format?: RowFormat;
  /** With --out: users written (user mode) and how many of them were cold. */
  users?: number;
  cold_users?: number;
  /** With --out and --new-items: recommended items scored from features (no training row). */
  from_features?: number;
  /** With --out and --similar-to: query items written. */
  items?: number;
  /** --user/--users: ids the vocabulary does not hold (they are cold), with likely meant ids. */
  unknown_users?: UnknownIds;
}

const collect = (value: string, previous: string[] | undefined) => [...(previous ?? []), value];

export function parseK(text: string | undefined): number {
  if (text === undefined) return 10;
  if (!/^\d+$/.test(text.trim()) || Number(text) < 1) throw new UsageError(`--k expects a positive integer. Received: ${describeValue(text)}.`);
  return Number(text);
}

/** --format, else from the --out extension (.csv, .arrow/.feather/.ipc), else jsonl. */
export function outputFormat(format: string | undefined, out: string | undefined, formats: readonly RowFormat[]): RowFormat {
  if (format !== undefined) {
    const f = format.trim().toLowerCase();
    if (!(formats as readonly string[]).includes(f)) {
      throw new UsageError(`--format expects one of ${formats.join('|')}. Received: ${describeValue(format)}.`);
    }
    return f as RowFormat;
  }
  const ext = out === undefined ? '' : extname(out).toLowerCase();
  if (ext === '.csv') return 'csv';
  if (ext === '.arrow' || ext === '.feather' || ext === '.ipc') return 'arrow';
  if (ext === '.parquet' && formats.includes('parquet')) return 'parquet';
  return 'jsonl';
}

/** The key comes from the config / flag file or REC_ANON_KEY; null when neither is set. */
async function optionalAnonKey(ctx: CommandContext): Promise<Buffer | null> {
  const file = ctx.resolved.config.prep.anonymize_key_file;
  if (!file && !ctx.env.REC_ANON_KEY) return null;
  return resolveAnonKey(file, ctx.cwd, ctx.env);
}

const interrupted = (command: string) => (which: string): string => `rec ${command} interrupted by ${which}; no --out file was written (output on stdout is incomplete).`;

/**
 * Sends blocks of records where they belong: an atomic --out file, stdout rows, or memory for the
 * --json document. Checks the abort signal between blocks so SIGINT stops a long --all run.
 */
export async function emit<T>(
  blocks: Iterable<T[]> | AsyncIterable<T[]>,
  layout: RowLayout<T>,
  target: { out: string | null; format: RowFormat; collect: boolean; force: boolean },
  signal: AbortSignal | undefined,
  bar: ProgressBar | null = null,
  command = 'recommend',
): Promise<{ records: T[]; count: number }> {
  const INTERRUPTED = interrupted(command);
  const records: T[] = [];
  let count = 0;
  let sink: RowFileSink<T> | null = null;
  // A reader that stops early (`| head`) closes the pipe: stop producing, quietly, as Unix tools do.
  let stdoutClosed = false;
  const toStdout = target.out === null && !target.collect;
  if (toStdout) {
    process.stdout.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE') throw error;
      stdoutClosed = true;
    });
  }
  const print = async (text: string) => {
    if (stdoutClosed || process.stdout.write(text)) return;
    await Promise.race([once(process.stdout, 'drain'), once(process.stdout, 'close')]).catch(() => undefined);
  };
  const { openRowFile, formatText } = await import('../../io/recommendations.js');
  if (target.out !== null) sink = await openRowFile(target.out, target.format, layout, target.force);
  else if (toStdout && target.format === 'csv') await print(`${layout.csvHeader}\n`);
  try {
    for await (const block of blocks) {
      if (signal?.aborted) throw interruptedError(signal, INTERRUPTED);
      if (stdoutClosed) break;
      count += block.length;
      bar?.update(count);
      if (sink !== null) await sink.write(block);
      else if (target.collect) records.push(...block);
      else await print(formatText(layout, target.format === 'csv' ? 'csv' : 'jsonl', block));
      // Lets a pending SIGINT/SIGTERM reach its handler between blocks.
      await new Promise((r) => setImmediate(r));
    }
    if (signal?.aborted) throw interruptedError(signal, INTERRUPTED);
    await sink?.commit();
  } catch (error) {
    await sink?.abort();
    throw error;
  } finally {
    bar?.stop();
  }
  return { records, count };
}

export function registerRecommend(program: Command, runtime: Runtime): void {
  const cmd = program
    .command('recommend')
    .summary('top-k items for users, or items similar to an item')
    .description(
      "Recommend the top-k items for users of a checkpoint (seen items excluded), or the items nearest to given items by cosine of the model's item vectors.",
    )
    .argument('<ckpt>', 'checkpoint folder written by rec train')
    .option('-u, --user <id>', 'raw user id; repeatable, or a comma-separated list', collect)
    .option('--users <file>', 'file with one raw user id per line')
    .option('-d, --data <dir>', "the checkpoint's dataset folder, if it moved since training (default: dataset.path in run.json); seen items come from it")
    .option('--all', 'every user of the checkpoint, in vocabulary order, named by their dataset ids')
    .option('--similar-to <item>', 'raw item id: list its nearest items instead (repeatable)', collect)
    .option('-k, --k <n>', 'items per user (default 10)')
    .option('--include-seen', "keep items the user already interacted with (default: excluded)")
    .option('--format <fmt>', 'jsonl|csv|arrow|parquet (default: from the --out extension, else jsonl)')
    .option('-o, --out <file>', 'write to this file (atomically) instead of stdout; required for arrow')
    .option('--force', 'replace --out FILE when it already exists')
    .option('--new-items', 'also serve items without a training row (new products) that the model scores from their item features, marked from_features (needs a model trained with item features)')
    .addHelpText('after', EXAMPLES);
  addConfigOptions(cmd, 'recommend');
  addGlobalFlags(cmd).action(async (ckptArg: string, _opts, self: Command) => {
    await runCommand<RecommendResult>(self, 'recommend', runtime, (ctx) => recommendCommand(ctx, ckptArg, self.opts<RecommendFlags>()));
  });
}

interface CommandOutput {
  result: RecommendResult;
  human: string;
}

interface Target {
  out: string | null;
  format: RowFormat;
  collect: boolean;
  force: boolean;
}

/** What the user chose to recommend for: exactly one of --user/--users, --all, --similar-to. */
function checkOneSelection(byId: boolean, all: boolean, similar: boolean): void {
  if ([byId, all, similar].filter(Boolean).length === 1) return;
  throw new UsageError(
    byId || all || similar
      ? 'Choose one of: --user/--users, --all, --similar-to. They select different things to recommend for.'
      : 'Nothing to recommend for: pass --user ID, --users FILE, --all or --similar-to ITEM.',
  );
}

async function recommendCommand(ctx: CommandContext, ckptArg: string, o: RecommendFlags): Promise<CommandOutput> {
  const ckpt = resolve(ctx.cwd, ckptArg);
  const k = parseK(o.k);
  const userIds = (o.user ?? []).flatMap((v) => v.split(',')).map((s) => s.trim()).filter((s) => s.length > 0);
  const byId = o.user !== undefined || o.users !== undefined;
  const similar = o.similarTo !== undefined;
  checkOneSelection(byId, o.all === true, similar);
  const out = o.out === undefined ? null : resolve(ctx.cwd, o.out);
  // TF.js, the engine and Arrow load here, not at start-up (`rec --help` stays instant: test/cli/startup.test.ts).
  const [{ initEngine }, { ROW_FORMATS }, , { checkCheckpointDir }, , { loadRecommendCheckpoint, readUserIdsFile }] = await Promise.all([
    import('../../engine/backend.js'),
    import('../../io/recommendations.js'),
    import('../../recommend/recommend.js'),
    import('../../eval/checkpoint.js'),
    import('../../recommend/similar.js'),
    import('../../recommend/source.js'),
    import('../../recommend/unknown.js'),
  ]);
  const format = outputFormat(o.format, o.out, ROW_FORMATS);
  if ((format === 'arrow' || format === 'parquet') && out === null) throw new UsageError(`--format ${format} needs --out FILE: ${format === 'arrow' ? 'Arrow IPC' : 'Parquet'} is a binary file format, not terminal output.`);
  if (ctx.json && out === null && o.format !== undefined) ctx.log.warn('--format is ignored with --json and no --out: the results are in the JSON document.');
  const usersFile = o.users === undefined ? null : resolve(ctx.cwd, o.users);
  // Usage errors in the inputs come before the slow engine and model load.
  await checkCheckpointDir(ckpt);
  const fromFile = usersFile === null ? null : await readUserIdsFile(usersFile);
  const dataDir = o.data === undefined ? null : resolve(ctx.cwd, o.data);
  const key = similar ? null : await optionalAnonKey(ctx);

  await initEngine({ backend: ctx.resolved.config.backend, log: ctx.log });
  const loaded = await loadRecommendCheckpoint(ckpt, { dataset: !similar, data: dataDir }, ctx.log);
  const newItems = o.newItems === true;
  if (newItems) checkNewItems(ckpt, loaded);
  const target: Target = { out, format, collect: ctx.json && out === null, force: o.force === true };
  if (similar) return similarCommand(ctx, { ckpt, k, loaded, dataDir, target, items: o.similarTo ?? [], newItems });
  const { queries, unknown } = await userQueries(ctx, loaded, { byId, typed: [...userIds, ...(fromFile?.ids ?? [])], fromFile, usersFile, key });
  const output = await usersCommand(ctx, { ckpt, k, loaded, target, queries, includeSeen: o.includeSeen === true, newItems });
  if (unknown !== undefined) output.result.unknown_users = unknown;
  return output;
}

/** --new-items needs item features: without them a new product's vector is random. */
function checkNewItems(ckpt: string, loaded: RecommendCheckpoint): void {
  if (loaded.trained?.featured !== undefined) return;
  throw new UsageError(
    `--new-items: ${ckpt} was trained without item features (vocab/trained.json has no "featured" items), so an item without a training row has only a random vector and none can be served. Train with item features (a dataset prepped with --items FILE), or leave out --new-items.`,
  );
}

/** --similar-to: the k nearest items of each query item, by the model's similarity (src/recommend/similar.ts). */
async function similarCommand(
  ctx: CommandContext,
  args: { ckpt: string; k: number; loaded: RecommendCheckpoint; dataDir: string | null; target: Target; items: string[]; newItems: boolean },
): Promise<CommandOutput> {
  const [{ similarLayout }, { modelSimilarity, similarItems }, { readTrainedItems, resolveItems, untrainedItemsMessage }, { untrainedItems }, { checkpointTitles, withTitles }] = await Promise.all([
    import('../../io/recommendations.js'),
    import('../../recommend/similar.js'),
    import('../../recommend/source.js'),
    import('../../recommend/recommend.js'),
    import('../../recommend/titles.js'),
  ]);
  const { ckpt, k, loaded, target } = args;
  const numItems = loaded.items.ids.length;
  const queries = resolveItems(args.items, loaded.items);
  // The checkpoint's own record first; older checkpoints fall back to the dataset's train rows.
  const trainedItems = loaded.trained?.items ?? (await readTrainedItems(ckpt, loaded.run, args.dataDir, loaded.items, ctx.log));
  const featured = loaded.trained?.featured ?? null;
  const untrained = untrainedItemsMessage(queries, trainedItems, loaded.items, featured);
  if (untrained !== null) ctx.log.warn(untrained);
  if (k > numItems - 1) ctx.log.warn(`--k ${k} is more than the ${numItems - 1} other items of the catalogue: each list has at most ${numItems - 1} items.`);
  // Neighbours follow the serving rule: no item without a training row, unless --new-items and it has features.
  const never = untrainedItems({ model: loaded.model, trainedItems, featuredItems: featured, newItems: args.newItems });
  const fromFeatures = trainedItems !== null && featured !== null ? (i: number) => trainedItems[i] !== 1 && featured[i] === 1 : null;
  const found = similarItems(modelSimilarity(loaded.model, loaded.run.model), loaded.items.ids, queries, k, { never, fromFeatures });
  const titles = await checkpointTitles(ckpt);
  const lists = titles === null ? found : found.map((r) => withTitles(r, titles, loaded.items.index));
  const { records } = await emit<SimilarItems>([lists], similarLayout(args.newItems, titles !== null), target, ctx.io.signal);
  const { out, format } = target;
  const result: RecommendResult = out === null ? { checkpoint: ckpt, k, similar: records } : { checkpoint: ckpt, k, out, format, items: lists.length };
  return { result, human: out === null ? '' : `wrote the ${k} nearest items of ${lists.length} item(s) to ${out}` };
}

/** The users to recommend for, by id (--user/--users: unknown ids reported) or all of them. */
async function userQueries(
  ctx: CommandContext,
  loaded: RecommendCheckpoint,
  args: { byId: boolean; typed: string[]; fromFile: UserIdsFile | null; usersFile: string | null; key: Buffer | null },
): Promise<{ queries: UserQueries; unknown: UnknownIds | undefined }> {
  const [{ allUsers, anonymizationKey, resolveUsers, userIdNotes }, { unknownUsers, unknownUsersMessage }] = await Promise.all([
    import('../../recommend/source.js'),
    import('../../recommend/unknown.js'),
  ]);
  const { byId, typed, fromFile, usersFile } = args;
  // Without the dataset, run.json's copy of its anonymisation record still checks the key.
  const anonRecord = loaded.run.dataset.anonymize;
  const anonFacts = loaded.dataset ?? (anonRecord !== undefined ? { dir: loaded.run.dataset.path, anonymize: anonRecord } : null);
  const hashKey = anonymizationKey(anonFacts, args.key, byId, ctx.log);
  const queries: UserQueries = byId ? resolveUsers(typed, loaded.users, hashKey) : allUsers(loaded.users);
  if (queries.labels.length === 0) ctx.log.warn(`no user ids given${usersFile ? ` (${usersFile} has none)` : ''}: nothing to recommend.`);
  if (!byId) return { queries, unknown: undefined };
  const indexOf = new Map(queries.labels.map((label, j) => [label, queries.indices[j]] as const));
  for (const note of userIdNotes(typed, fromFile, (id) => (indexOf.get(id) ?? -1) >= 0)) ctx.log.warn(note);
  const unknown = unknownUsers(queries, loaded.users, hashKey);
  const message = unknownUsersMessage(unknown, queries.labels.length, loaded.users.ids.length);
  if (message !== null) ctx.log.warn(message);
  return { queries, unknown };
}

/** Scoring users over the catalogue spreads over threads like rec eval's full ranking: the pool, or null for one thread. */
async function startUserPool(ctx: CommandContext, recSource: RecommendSource, users: number, numItems: number): Promise<RankPool | null> {
  const [{ currentEngine }, { resolveRankWorkers }, { recommendPoolInputs }, { weightBytes }] = await Promise.all([
    import('../../engine/backend.js'),
    import('../../eval/parallel/workers.js'),
    import('../../recommend/recommend.js'),
    import('../../models/weights.js'),
  ]);
  const setting = ctx.resolved.config.eval.workers;
  const engineName = currentEngine()?.name ?? null;
  const choice = numItems > 0 ? resolveRankWorkers(setting, { engine: engineName, users, items: numItems, modelBytes: weightBytes(recSource.model.keras) }) : { workers: 1, reason: null };
  if (choice.reason !== null) (choice.warn === true ? ctx.log.warn : setting === 'auto' ? ctx.log.debug : ctx.log.info)(choice.reason);
  return choice.workers > 1 && engineName !== null
    ? await (await import('../../eval/parallel/pool.js')).startRankPool({ workers: choice.workers, engine: engineName, model: recSource.model, prep: null, topK: recommendPoolInputs(recSource), log: ctx.log, signal: ctx.io.signal })
    : null;
}

/** --user/--users/--all: each user's top k, streamed to the target. */
async function usersCommand(
  ctx: CommandContext,
  args: { ckpt: string; k: number; loaded: RecommendCheckpoint; target: Target; queries: UserQueries; includeSeen: boolean; newItems: boolean },
): Promise<CommandOutput> {
  const [{ userLayout }, { recommendBlocks, recommendBlocksParallel }, { checkpointTitles, withTitles }] = await Promise.all([
    import('../../io/recommendations.js'),
    import('../../recommend/recommend.js'),
    import('../../recommend/titles.js'),
  ]);
  const { ckpt, k, loaded, target, queries } = args;
  const numItems = loaded.items.ids.length;
  if (k > numItems) ctx.log.warn(`--k ${k} is more than the ${numItems} items of the catalogue: each list has at most ${numItems} items.`);
  const full = Math.min(k, numItems);
  let cold = 0;
  let short = 0;
  let fromFeatures = 0;
  const recSource: RecommendSource = {
    model: loaded.model,
    itemIds: loaded.items.ids,
    popularity: loaded.items.counts,
    seen: loaded.dataset?.seen ?? null,
    trained: loaded.trained?.users ?? loaded.dataset?.trained ?? null,
    trainedItems: loaded.trained?.items ?? null,
    featuredItems: loaded.trained?.featured ?? null,
    newItems: args.newItems,
    histories: loaded.dataset?.histories ?? null,
  };
  const recOptions = { k, excludeSeen: !args.includeSeen, blockSize: ctx.resolved.config.eval.user_block };
  const titles = await checkpointTitles(ckpt);
  const pool = await startUserPool(ctx, recSource, queries.indices.length, numItems);
  const blocks = (async function* () {
    const stream = pool === null ? recommendBlocks(recSource, queries, recOptions) : recommendBlocksParallel(recSource, queries, recOptions, pool, ctx.io.signal);
    for await (const block of stream) {
      for (const r of block) {
        if (r.cold) cold++;
        if (r.items.length < full) short++;
        for (const it of r.items) if (it.from_features === true) fromFeatures++;
      }
      yield titles === null ? block : block.map((r) => withTitles(r, titles, loaded.items.index));
    }
  })();
  // A bar only when the rows do not go to the terminal itself (they would interleave with it).
  const bar = target.out !== null || target.collect ? ctx.io.progress.start('recommend', queries.labels.length, 'users', { rate: { unit: 'users', scale: 1 } }) : null;
  let emitted: { records: UserRecommendations[]; count: number };
  try {
    emitted = await emit<UserRecommendations>(blocks, userLayout(args.newItems, titles !== null), target, ctx.io.signal, bar);
  } finally {
    await pool?.close();
  }
  const { records, count } = emitted;
  if (short > 0) {
    ctx.log.warn(`${plural(short, 'user')} got fewer than ${plural(full, 'item')}: their seen items were excluded and too few items were left (--include-seen keeps seen items).`);
  }
  const { out, format } = target;
  const written = out === null ? '' : ` to ${out}`;
  ctx.log.info(`recommended ${plural(k, 'item')} for ${plural(count, 'user')} (${cold} cold: popular items)${written}`);
  if (args.newItems) ctx.log.info(`--new-items: ${plural(fromFeatures, 'recommended item')} ${fromFeatures === 1 ? 'is a new product' : 'are new products'} (no training row) scored from item features`);
  const result: RecommendResult = out === null
    ? { checkpoint: ckpt, k, recommendations: records }
    : { checkpoint: ckpt, k, out, format, users: count, cold_users: cold, ...(args.newItems ? { from_features: fromFeatures } : {}) };
  return { result, human: out === null ? '' : `wrote recommendations for ${plural(count, 'user')} (${cold} cold)${written}` };
}
