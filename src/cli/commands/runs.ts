import type { Command } from 'commander';
import { addConfigOptions } from '../options.js';
import { addGlobalFlags, runCommand, type Runtime } from '../runtime.js';

const HELP = `
Sort keys (--sort), best first, rows without the value last:
  METRIC                       validation metric of the best epoch (best.json), e.g. ndcg@10, rmse
  eval:SPLIT:PROTOCOL:METRIC   from CKPT/eval-SPLIT-PROTOCOL.json, e.g. eval:test:sampled100:hr@10
  name, model, status, epochs, age, wall_seconds, train_seconds
Higher is better except rmse/mae (and age, seconds); --reverse flips.

PRODUCTION: yes when a production link (rec promote --to, in DIR, a folder under it or DIR's
parent) points at the checkpoint, with when it was promoted (promotions.jsonl); was: promoted
once, no longer production. GATE: the last gated eval (rec eval --baseline/--max-drop/
--fail-under): pass or FAIL, against which baseline, the first failed check.

Folders that are not a usable checkpoint are listed with status invalid (corrupt, a folder or an
unreadable file where a record should be, deleted while read, or not a checkpoint), incomplete
(no run.json or model/ yet, or killed) or running (a live rec train); the others are still listed.

Examples:
  $ rec runs
  $ rec runs checkpoints/ml1m --sort eval:test:sampled100:ndcg@10
  $ rec runs studies/mf                  # a rec tune study: its trials, best first by the study's metric
  $ rec runs --sort ndcg@10 --json | jq -r '.runs[] | select(.status == "completed") | .path' | head -1`;

export function registerRuns(program: Command, runtime: Runtime): void {
  const cmd = program
    .command('runs')
    .summary('a table of the checkpoints under a folder')
    .description('List the checkpoints under DIR (default checkpoints/), searched recursively: status, whether it is production, its last gate, model, dataset, epochs, best validation metric, eval results, parents, age and training time.')
    .argument('[dir]', 'folder of checkpoints', 'checkpoints')
    .option('--sort <key>', 'sort by a metric or column, best first (see below)')
    .option('--reverse', 'reverse the sort order (rows without the value stay last)')
    .addHelpText('after', HELP);
  addConfigOptions(cmd, 'runs');
  addGlobalFlags(cmd).action(async (dir: string, _opts, self: Command) => {
    await runCommand(self, 'runs', runtime, async (ctx) => {
      const o = self.opts<{ sort?: string; reverse?: boolean }>();
      const { resolve } = await import('node:path');
      const { listRuns } = await import('../../io/runs.js');
      const { formatRunsTable, parseSortKey, sortRuns } = await import('../../runs/table.js');
      const { readStudyJson } = await import('../../io/study.js');
      // A rec tune study lists its trials best first by the study's metric unless --sort says otherwise.
      const study = o.sort === undefined ? await readStudyJson(resolve(ctx.cwd, dir)) : null;
      const key = o.sort !== undefined ? parseSortKey(o.sort) : study !== null ? parseSortKey(study.metric) : null;
      const rows = await listRuns(resolve(ctx.cwd, dir), new Date(), (message) => ctx.io.log.warn(message));
      const runs = key ? sortRuns(rows, key, o.reverse === true) : o.reverse ? [...rows].reverse() : rows;
      const width = process.stdout.isTTY ? process.stdout.columns : null;
      return { result: { runs }, human: formatRunsTable(runs, width ?? null) };
    });
  });
}
