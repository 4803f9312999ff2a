import type { Command } from 'commander';
import { resolve } from 'node:path';
import { runSynth, SYNTH_DEFAULTS } from '../../data/synth.js';
import { describeValue, UsageError } from '../../util/errors.js';
import { parseSafeInteger } from '../../util/numbers.js';
import { addConfigOptions } from '../options.js';
import { addGlobalFlags, runCommand, type Runtime } from '../runtime.js';

function positiveInt(flag: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const n = /^\d+$/.test(raw.trim()) ? parseSafeInteger(raw) : Number.NaN;
  if (!(n > 0)) throw new UsageError(`${flag} expects a positive integer (digits only, at most ${Number.MAX_SAFE_INTEGER}). Received: ${describeValue(raw)}.`);
  return n;
}

function fraction(flag: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const x = /^(\d+\.?\d*|\.\d+)$/.test(raw.trim()) ? Number(raw) : Number.NaN;
  if (!(x >= 0 && x <= 1)) throw new UsageError(`${flag} expects a number in [0, 1], e.g. 0.5. Received: ${describeValue(raw)}.`);
  return x;
}

export function registerSynth(program: Command, runtime: Runtime): void {
  const d = SYNTH_DEFAULTS;
  const cmd = program
    .command('synth')
    .summary('generate a synthetic e-commerce behaviour log')
    .description('Generate a seeded synthetic e-commerce behaviour log (users, items, categories, view/click/cart/buy funnels, timestamps) with planted latent structure.')
    .requiredOption('-o, --out <file>', 'output file: .csv, .tsv or .jsonl, optionally .gz; or a folder of day partitions with --format parquet (or a name ending in .parquet)')
    .option('--format <fmt>', 'parquet: write OUT/dt=YYYY-MM-DD/part-0.parquet, one partition per day (default: from the --out extension)')
    .option('--users <n>', `number of users (default ${d.users})`)
    .option('--items <n>', `number of items (default ${d.items})`)
    .option('--categories <n>', `number of item categories (default ${d.categories})`)
    .option('--events <n>', `number of events (default ${d.eventsPerUser} per user)`)
    .option('--events-per-user <n>', 'mean events per user (instead of --events)')
    .option('--days <n>', `days of activity (default ${d.days})`)
    .option('--start <date>', `first day, ISO date or unix seconds (default ${d.start})`)
    .option('--seed <n>', `seed (default ${d.seed})`)
    .option('--explicit', 'add a 1-5 rating column derived from the planted affinities')
    .option('--drift <x>', 'popularity drift in [0,1]: item popularity shifts day by day over --days and new items launch (default 0: none)')
    .option('--new-items <x>', 'share of the items in [0,1] launched on a later day: no row before their launch day, a few launch after the log (default 0: none)')
    .option('--catalogue [file]', 'also write the item catalogue (item, title, brand, categories, price; launched with --new-items or --drift) as JSON Lines: items.jsonl beside --out, or FILE (.jsonl, .jsonl.gz)')
    .option('--search [file]', 'with --catalogue: also write search sessions (user,query,item,ts,event; queries from the clicked items\' titles, clicks by the user\'s taste) as CSV: searches.csv beside --out, or FILE (.csv, .csv.gz)')
    .option('--force', 'replace --out (and --catalogue, --search) if it already exists')
    .addHelpText('after', '\nExamples:\n  $ rec synth --out shop.csv --users 1500 --items 600 --events 60000 --days 30 --seed 7\n  $ rec synth --out big.tsv.gz --users 100000 --items 20000 --events 10000000\n  $ rec synth --out events --format parquet --events 10000000 --days 30   # events/dt=2024-01-01/part-0.parquet, …\n  $ rec synth --out drifting.csv --days 14 --drift 0.5   # popularity shifts day by day, new items launch\n  $ rec synth --out shop.csv --catalogue --new-items 0.2  # shop.csv and items.jsonl; 20% of items launch later\n  $ rec prep shop.csv --out ds --items items.jsonl --item-features title:text,brand:category,categories:multi,price:number\n  $ rec synth --out shop.csv --catalogue --search  # also searches.csv: rec prep searches.csv --columns user=user,query=query,item=item,ts=ts,event=event');
  addConfigOptions(cmd, 'synth');
  addGlobalFlags(cmd).action(async (_opts, self: Command) => {
    await runCommand(self, 'synth', runtime, async (ctx) => {
      const o = self.opts<{ out: string; users?: string; items?: string; categories?: string; events?: string; eventsPerUser?: string; days?: string; start?: string; seed?: string; explicit?: boolean; force?: boolean; drift?: string; newItems?: string; catalogue?: boolean | string; search?: boolean | string; format?: string }>();
      if (o.format !== undefined && o.format !== 'parquet') throw new UsageError(`--format expects parquet (other formats come from the --out extension). Received: ${describeValue(o.format)}.`);
      const result = await runSynth(
        {
          out: resolve(ctx.cwd, o.out),
          ...(o.format === 'parquet' ? { format: 'parquet' as const } : {}),
          users: positiveInt('--users', o.users),
          items: positiveInt('--items', o.items),
          categories: positiveInt('--categories', o.categories),
          events: positiveInt('--events', o.events),
          eventsPerUser: positiveInt('--events-per-user', o.eventsPerUser),
          days: positiveInt('--days', o.days),
          seed: positiveInt('--seed', o.seed),
          start: o.start,
          explicit: o.explicit === true,
          force: o.force === true,
          drift: fraction('--drift', o.drift),
          newItems: fraction('--new-items', o.newItems),
          ...(o.catalogue === undefined || o.catalogue === false ? {} : { catalogue: o.catalogue === true ? true : resolve(ctx.cwd, o.catalogue) }),
          ...(o.search === undefined || o.search === false ? {} : { search: o.search === true ? true : resolve(ctx.cwd, o.search) }),
        },
        ctx.io,
      );
      // runSynth logs the one summary line (rows, users, items, path, speed) on stderr.
      return { result, human: '' };
    });
  });
}
