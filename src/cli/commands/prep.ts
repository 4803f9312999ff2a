import type { Command } from 'commander';
import { resolve } from 'node:path';
import type { Config } from '../../config/schema.js';
import { parseDuration } from '../../data/prep/options.js';
import { UsageError } from '../../util/errors.js';
import { REC_VERSION } from '../../util/version.js';
import { addConfigOptions } from '../options.js';
import { resolveAnonKey } from '../anon-key.js';
import { addGlobalFlags, runCommand, type Runtime } from '../runtime.js';
import { plural } from '../../util/plural.js';

const EXAMPLES = `
Examples:
  $ rec prep u.data --out data/ml100k --columns user=0,item=1,rating=2,ts=3 --no-header --ts-unit s
  $ rec prep ratings.dat.gz --out data/ml1m --delimiter :: --columns user=0,item=1,rating=2,ts=3 --split leave-last
  $ rec prep UserBehavior.csv --out data/taobao --columns user=0,item=1,event=3,ts=4 --event-weights pv=1,fav=2,cart=3,buy=5
  $ rec prep train.tsv --test test.tsv --out data/ncf --feedback implicit --split none
  $ rec prep day1.csv --out data/d1 --columns user=0,item=1,event=3,ts=4 --split days:0,1
  $ rec prep day2.csv --append-to data/d1 --out data/d2 --window 30
  $ rec prep reviews.json.gz --columns user=reviewerID,item=asin,rating=overall,ts=unixReviewTime --items meta.json.gz --item-features title:text,brand:category,category:multi,price:number --out data/shop
  $ rec prep warehouse/events --out data/events --columns user=user_id,item=item_id,ts=dt --export-parquet   # Parquet, dt= partitions
  $ rec prep 'warehouse/events/dt=2024-06-0*' --out data/june   # a quoted glob
See docs/datasets.md for every shared dataset, and its "A catalogue beside the log" for --items; docs/warehouse.md for Parquet.`;

export function registerPrep(program: Command, runtime: Runtime): void {
  const cmd = program
    .command('prep')
    .summary('behaviour logs → dataset folder (Arrow + manifest)')
    .description('Read behaviour logs (CSV/TSV/JSONL, optionally gzipped; Parquet and Arrow IPC files, folders of them read recursively, Hive dt= partitions), clean them, account for every row, map ids, split, and write Arrow files plus manifest.json.')
    .argument('<log...>', 'input log files, folders (read recursively) or quoted globs')
    .requiredOption('-o, --out <dir>', 'dataset folder to write: absent, empty, or a dataset rec wrote (replaced atomically)')
    .option('--force', "write into an --out folder that holds other files too (they are kept; the dataset's files are replaced)")
    .option('--append-to <dir>', "start from this dataset: its rows, ids (each keeps its index) and prep settings; logs already in it (same content by sha256, a .gz decompressed) are skipped")
    .option('--window <days>', 'drop rows older than DAYS days before the newest row (base rows too under --append-to; the few newest rows cannot move it on their own); a unit s/m/h/d is allowed, e.g. 36h')
    .option('--force-window', 'under --append-to, age out more than half of the base rows with --window (refused otherwise: exit 1, nothing written)')
    .option('--export-parquet', 'also write train.parquet, valid.parquet and test.parquet (raw ids) into the dataset folder, for a warehouse to load (docs/warehouse.md)')
    .option('--strict', 'treat warnings (implausible ratings or times, empty splits, unused event weights) as errors: exit 1, nothing written (config prep.strict)')
    .addHelpText('after', EXAMPLES);
  addConfigOptions(cmd, 'prep');
  addGlobalFlags(cmd).action(async (logs: string[], _opts, self: Command) => {
    await runCommand(self, 'prep', runtime, async (ctx) => {
      const o = self.opts<{ out: string; force?: boolean; strict?: boolean; appendTo?: string; window?: string; forceWindow?: boolean; exportParquet?: boolean }>();
      const out = resolve(ctx.cwd, o.out);
      const base = ctx.resolved.config;
      const config = o.strict === true ? { ...base, prep: { ...base.prep, strict: true } } : base;
      let windowDays: number | undefined;
      if (o.window !== undefined) {
        const days = parseDuration(o.window);
        if (days === null || days <= 0) throw new UsageError(`--window ${JSON.stringify(o.window)} is invalid. Expected a positive duration: days (--window 30) or a number with a unit s, m, h or d (--window 36h).`);
        windowDays = days;
      }
      const forceWindow = o.forceWindow === true;
      const exportParquet = o.exportParquet === true;
      const append = o.appendTo !== undefined ? { appendTo: resolve(ctx.cwd, o.appendTo), windowDays, forceWindow, exportParquet } : { windowDays, forceWindow, exportParquet };
      const result = await prepFromConfig(logs.map((l) => resolve(ctx.cwd, l)), out, config, ctx, o.force === true, append);
      const a = result.append;
      const human =
        a === undefined
          ? `dataset written to ${result.dataset}`
          : result.unchanged === true
            ? `nothing new: every log is already in ${result.dataset}, which is left as it is (${plural(a.rows.base, 'row')})`
            : a.sources_added.length === 0
            ? `dataset written to ${result.dataset}: nothing new (every log is already in the base), ${a.rows.base - a.rows.aged_out} base rows`
            : `dataset written to ${result.dataset}: ${plural(a.rows.added, 'row')} added to the base's ${a.rows.base}${(a.rows.merged_from_base ?? 0) > 0 ? ` (${plural(a.rows.merged_from_base ?? 0, 'base row')} merged into new rows of the same user and item by --dedupe)` : ''}, ${plural(a.new_users, 'new user')}, ${plural(a.new_items, 'new item')}, ${a.rows.aged_out} aged out`;
      return { result, human };
    });
  });
}

/** Also used by `rec train --data LOG`, which preps a raw log with the same resolved config. */
export async function prepFromConfig(
  inputs: string[],
  out: string,
  config: Config,
  ctx: { cwd: string; env: NodeJS.ProcessEnv; io: import('../../util/run-io.js').RunIO; resolved: { sources: Record<string, string> } },
  force = false,
  append: { appendTo?: string; windowDays?: number; forceWindow?: boolean; exportParquet?: boolean } = {},
) {
  const prep = {
    ...config.prep,
    test: config.prep.test ? resolve(ctx.cwd, config.prep.test) : null,
    valid: config.prep.valid ? resolve(ctx.cwd, config.prep.valid) : null,
    items: config.prep.items.map((p) => resolve(ctx.cwd, p)),
  };
  // Under --append-to, settings left at their defaults come from the base, whose anonymize may be on.
  const explicitKeys = new Set(Object.keys(config.prep).filter((k) => (ctx.resolved.sources[`prep.${k}`] ?? 'default') !== 'default'));
  const keyGiven = prep.anonymize_key_file !== null || (ctx.env.REC_ANON_KEY ?? '') !== '';
  const anonKey = prep.anonymize || (append.appendTo !== undefined && keyGiven) ? await resolveAnonKey(prep.anonymize_key_file, ctx.cwd, ctx.env) : undefined;
  // Loaded here, not at start-up: `rec prep --help` and every other command skip Arrow and csv-parse.
  const { runPrep } = await import('../../data/prep/run.js');
  return runPrep(
    {
      inputs,
      out,
      force,
      config: prep,
      seed: config.seed,
      anonKey,
      recVersion: REC_VERSION,
      resolvedConfig: { prep, seed: config.seed },
      explicitKeys,
      ...(append.appendTo !== undefined ? { appendTo: append.appendTo } : {}),
      ...(append.windowDays !== undefined ? { windowDays: append.windowDays } : {}),
      ...(append.forceWindow === true ? { forceWindow: true } : {}),
      ...(append.exportParquet === true ? { exportParquet: true } : {}),
    },
    ctx.io,
  );
}
