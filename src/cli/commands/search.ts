import type { Command } from 'commander';
import { readFile } from 'node:fs/promises';
import { extname, resolve } from 'node:path';
import type { SearchRecord } from '../../io/recommendations.js';
import { describeValue, UsageError } from '../../util/errors.js';
import { plural } from '../../util/plural.js';
import type { CommandContext } from '../context.js';
import { addConfigOptions } from '../options.js';
import { addGlobalFlags, runCommand, type Runtime } from '../runtime.js';
import { emit, outputFormat, parseK } from './recommend.js';

const EXAMPLES = `
Examples:
  $ rec search checkpoints/hybrid-hd "cordless drill"              # top 10 as JSONL on stdout
  $ rec search ckpt "pvc pipe 3/4" --k 20 --format csv
  $ rec search ckpt --queries queries.txt --out results.arrow     # one query a line (or CSV/JSONL with query[,user])
  $ rec search ckpt "angle bracket" --json | jq '.results[0].items[0]'

Train a search model first: rec train --data DS --model hybrid (DS prepped from a search log with
its catalogue: rec prep LOG --columns query=C,item=C,relevance=C --items CATALOGUE). Queries are
featurised like the catalogue's text, so a misspelt or unseen word still matches through its
character trigrams. Every item is scored exactly (no approximate index).`;

interface SearchFlags {
  queries?: string;
  user?: string;
  k?: string;
  format?: string;
  out?: string;
  force?: boolean;
}

export function registerSearch(program: Command, runtime: Runtime): void {
  const cmd = program
    .command('search')
    .summary('rank catalogue items for a search query')
    .description('Rank the items of a search checkpoint (rec train --model bm25|two-tower|hybrid) for a query, or for each query of a file.')
    .argument('<ckpt>', 'search checkpoint folder written by rec train')
    .argument('[query]', 'the query text (quote it); or --queries FILE')
    .option('--queries <file>', 'queries to run: one a line, or a .csv/.jsonl file with a query column (and optionally user)')
    .option('-u, --user <id>', 'the shopper: a model trained on a log with users ranks for their recent items (recorded in the output either way)')
    .option('-k, --k <n>', 'items per query (default 10)')
    .option('--format <fmt>', 'jsonl|csv|arrow (default: from the --out extension, else jsonl)')
    .option('-o, --out <file>', 'write to this file (atomically) instead of stdout; required for arrow')
    .option('--force', 'replace --out FILE when it already exists')
    .addHelpText('after', EXAMPLES);
  addConfigOptions(cmd, 'search');
  addGlobalFlags(cmd).action(async (ckptArg: string, query: string | undefined, _opts, self: Command) => {
    await runCommand(self, 'search', runtime, (ctx) => searchCommand(ctx, ckptArg, query, self.opts<SearchFlags>()));
  });
}

interface Query {
  text: string;
  user: string | null;
}

async function searchCommand(ctx: CommandContext, ckptArg: string, typed: string | undefined, o: SearchFlags): Promise<{ result: unknown; human: string }> {
  const ckpt = resolve(ctx.cwd, ckptArg);
  const k = parseK(o.k);
  if ((typed === undefined) === (o.queries === undefined)) throw new UsageError(typed === undefined ? 'Nothing to search for: give a query ("cordless drill") or --queries FILE.' : 'Give either a query or --queries FILE, not both.');
  if (typed !== undefined && typed.trim() === '') throw new UsageError('The query is empty: give a query with at least one word, e.g. rec search CKPT "cordless drill".');
  const queries: Query[] = typed !== undefined ? [{ text: typed, user: o.user ?? null }] : await readQueries(resolve(ctx.cwd, o.queries as string), o.user ?? null, ctx);
  const out = o.out === undefined ? null : resolve(ctx.cwd, o.out);
  const [{ ROW_FORMATS, searchLayout }, { openSearch, searchTop }, { checkCheckpointDir }] = await Promise.all([
    import('../../io/recommendations.js'),
    import('../../recommend/search.js'),
    import('../../io/checkpoint-read.js'),
  ]);
  const format = outputFormat(o.format, o.out, ROW_FORMATS);
  if (format === 'arrow' && out === null) throw new UsageError('--format arrow needs --out FILE: Arrow IPC is a binary file format, not terminal output.');
  await checkCheckpointDir(ckpt);
  // TF.js starts only for a checkpoint without a serving block (written before rec had one).
  const prepareEngine = async () => (await import('../../engine/backend.js')).initEngine({ backend: ctx.resolved.config.backend, log: ctx.log }).then(() => undefined);
  const t0 = performance.now();
  const session = await openSearch(ckpt, { log: ctx.log, prepareEngine });
  const loadMs = performance.now() - t0;
  const withUser = queries.filter((q) => q.user !== null).length;
  if (withUser > 0 && !session.personal) ctx.log.info(`${ckpt} does not personalise its ranking (${session.model}${session.users.size === 0 ? ', trained on an anonymous log' : ', user history did not help on validation'}): the user is recorded with each result and does not change it`);
  let unknownUsers = 0;
  const times: number[] = [];
  function* blocks(): Generator<SearchRecord[]> {
    for (let at = 0; at < queries.length; at += 64) {
      yield queries.slice(at, at + 64).map((q) => {
        const s = performance.now();
        const { hits, known } = searchTop(session, q.text, k, q.user);
        if (!known) unknownUsers++;
        times.push(performance.now() - s);
        const { titles } = session;
        const items = hits.filter((h) => session.model !== 'bm25' || h.score > 0).map((h) => (titles === null ? { item: session.itemIds[h.item], score: h.score } : { item: session.itemIds[h.item], score: h.score, title: titles[h.item] ?? null }));
        return { query: q.text, user: q.user, items };
      });
    }
  }
  const target = { out, format, collect: ctx.json && out === null, force: o.force === true };
  const { records, count } = await emit(blocks(), searchLayout(session.titles !== null), target, ctx.io.signal, null, 'search');
  if (unknownUsers > 0 && session.personal) ctx.log.warn(`${plural(unknownUsers, 'query', 'queries')} named a user the checkpoint does not know: ranked without personalisation`);
  times.sort((a, b) => a - b);
  const p = (q: number) => (times.length === 0 ? 0 : times[Math.min(times.length - 1, Math.floor(q * times.length))]);
  const timing = { load_ms: round(loadMs), query_ms_p50: round(p(0.5)), query_ms_p99: round(p(0.99)) };
  ctx.log.info(`${plural(count, 'query', 'queries')} answered from ${session.itemIds.length} items (${session.model}); model loaded in ${timing.load_ms} ms, ${timing.query_ms_p50} ms a query at p50${out !== null ? `; written: ${out}` : ''}`);
  // loaded_from: `serving` (model/search_serving.bin) or `model` (a checkpoint written before it: the whole model).
  const loaded = { loaded_from: session.source };
  return { result: out === null ? { checkpoint: ckpt, k, results: records, timing, ...loaded } : { checkpoint: ckpt, k, queries: count, out, format, timing, ...loaded }, human: '' };
}

const round = (x: number) => Math.round(x * 100) / 100;

/** --queries FILE: a .jsonl or .csv file with a `query` column (and optionally `user`), else one query a line; blank lines are skipped and counted. */
async function readQueries(path: string, user: string | null, ctx: CommandContext): Promise<Query[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new UsageError(`--queries ${path}: cannot read it (${(error as NodeJS.ErrnoException).code ?? String(error)}). Expected a file of queries, one a line.`);
  }
  const ext = extname(path).toLowerCase();
  let rows: { query: unknown; user?: unknown; line: number }[];
  if (ext === '.jsonl' || ext === '.ndjson') {
    rows = text.split('\n').flatMap((l, i) => {
      if (l.trim() === '') return [];
      try {
        return [{ ...(JSON.parse(l) as { query: unknown; user?: unknown }), line: i + 1 }];
      } catch {
        throw new UsageError(`--queries ${path}:${i + 1}: not a JSON object (${describeValue(l.slice(0, 80))}). Expected {"query": "...", "user": "..."} a line.`);
      }
    });
  } else if (ext === '.csv') {
    const { parse } = await import('csv-parse/sync');
    const parsed = parse(text, { columns: true, skip_empty_lines: true, relax_column_count: true }) as Record<string, string>[];
    if (parsed.length > 0 && !('query' in parsed[0])) throw new UsageError(`--queries ${path}: the CSV header has no query column (columns: ${Object.keys(parsed[0]).join(', ')}).`);
    rows = parsed.map((r, i) => ({ query: r.query, user: r.user, line: i + 2 }));
  } else {
    // The newline that ends the last line starts no query.
    const lines = text.split('\n');
    if (lines.at(-1) === '') lines.pop();
    rows = lines.map((l, i) => ({ query: l.replace(/\r$/, ''), line: i + 1 }));
  }
  const out: Query[] = [];
  let blank = 0;
  for (const r of rows) {
    if (typeof r.query !== 'string') throw new UsageError(`--queries ${path}:${r.line}: the query is ${describeValue(r.query)}; expected a string.`);
    if (r.query.trim() === '') {
      blank++;
      continue;
    }
    out.push({ text: r.query, user: typeof r.user === 'string' && r.user !== '' ? r.user : user });
  }
  if (blank > 0) ctx.log.warn(`--queries ${path}: ${plural(blank, 'blank query', 'blank queries')} skipped`);
  if (out.length === 0) throw new UsageError(`--queries ${path} holds no query (${plural(blank, 'blank line')}).`);
  return out;
}
