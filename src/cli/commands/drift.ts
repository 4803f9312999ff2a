import type { Command } from 'commander';
import { resolve } from 'node:path';
import { EXIT } from '../../util/errors.js';
import { resolveAnonKey } from '../anon-key.js';
import { addConfigOptions } from '../options.js';
import { addGlobalFlags, runCommand, type Runtime } from '../runtime.js';

const HELP = `
Metrics (shares are of NEW's rows; a dataset counts its rows in train+valid+test, a log its accepted rows):
  new_users, new_items          share of NEW's rows whose user / item has no row in OLD (0..1)
  new_user_ids, new_item_ids    distinct users / items of NEW with no row in OLD
  top100_overlap                shared items among the 100 most frequent of each side (0..1)
  js_items                      Jensen-Shannon divergence of item frequencies (base 2, 0..1)
  js_events                     Jensen-Shannon divergence of the event mix (null without events)
  volume_ratio                  NEW / OLD rows per day when both have timestamps, else rows

A log beside a dataset is read with the dataset's prep settings (flags override); nothing is written.

Examples:
  $ rec drift data/yesterday logs/today.csv
  $ rec drift data/yesterday logs/today.csv --fail-over new_items=0.5,js_items=0.4 --fail-under volume_ratio=0.3
  $ rec drift old.csv new.csv --columns user=0,item=1,event=3,ts=4 --json

Exit 3 when a limit is crossed (the table or JSON is printed first); 2 for an unknown metric.`;

const collect = (v: string, prev: string[] | undefined) => [...(prev ?? []), v];

export function registerDrift(program: Command, runtime: Runtime): void {
  const cmd = program
    .command('drift')
    .summary('how a new log or dataset differs from an old one; gate a nightly job on it')
    .description('Compare NEW with OLD (each a dataset folder or a log file): new users and items, popularity shift, event mix and volume. Reads logs as rec prep does; writes nothing.')
    .argument('<old>', 'dataset folder or log the model was trained on')
    .argument('<new>', 'dataset folder or log to compare with it')
    .option('--fail-over <metric=value>', 'exit 3 when a metric is above this (METRIC=V[,METRIC=V], repeatable)', collect)
    .option('--fail-under <metric=value>', 'exit 3 when a metric is below this, e.g. volume_ratio=0.3 or top100_overlap=0.2 (repeatable)', collect)
    .addHelpText('after', HELP);
  addConfigOptions(cmd, 'drift');
  addGlobalFlags(cmd).action(async (oldArg: string, newArg: string, _opts, self: Command) => {
    await runCommand(self, 'drift', runtime, async (ctx) => {
      const o = self.opts<{ failOver?: string[]; failUnder?: string[] }>();
      const [{ parseDriftLimits, describeDriftFailure }, { runDrift }, { formatDriftTable }] = await Promise.all([
        import('../../drift/gate.js'),
        import('../../drift/run.js'),
        import('../../drift/table.js'),
      ]);
      const limits = [...parseDriftLimits(o.failOver ?? [], 'over'), ...parseDriftLimits(o.failUnder ?? [], 'under')];
      const prep = ctx.resolved.config.prep;
      const keyGiven = prep.anonymize_key_file !== null || (ctx.env.REC_ANON_KEY ?? '') !== '';
      const anonKey = keyGiven ? await resolveAnonKey(prep.anonymize_key_file, ctx.cwd, ctx.env) : undefined;
      const explicitKeys = new Set(Object.keys(prep).filter((k) => (ctx.resolved.sources[`prep.${k}`] ?? 'default') !== 'default'));
      const result = await runDrift({ old: resolve(ctx.cwd, oldArg), new: resolve(ctx.cwd, newArg), config: prep, explicitKeys, anonKey, limits }, ctx.io);
      for (const c of result.checks) if (c.passed === false) ctx.log.error(`drift gate failed: ${describeDriftFailure(c)}`);
      return { result, human: formatDriftTable(result), exitCode: result.passed ? EXIT.ok : EXIT.qualityGate };
    });
  });
}
