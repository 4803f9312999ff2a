import type { Command } from 'commander';
import { addConfigOptions } from '../options.js';
import { addGlobalFlags, runCommand, type Runtime } from '../runtime.js';

const EXAMPLES = `
The switch: DIR/production is a symbolic link to the checkpoint, replaced in one rename, so a
reader sees the old checkpoint or the new one. It happens only when CKPT has a passing gate eval
against the current production, written by
  rec eval CKPT --baseline DIR/production --max-drop ndcg@10=0.01
(the first promotion, with no production yet, needs only a completed run), or with --force.
Before switching, CKPT's model is verified (model.json parses, weights.bin holds the bytes its
manifest describes and the sha256 run.json records). DIR/promotions.jsonl gets a line before the
switch ("status": "intent") that is confirmed after it ("done"). CKPT is marked promoted.json:
rec train, prep and file --out never write into it afterwards.
Refusals leave production unchanged: exit 3 without a passing gate, exit 1 for a damaged model,
exit 2 for a bad CKPT or DIR.

Examples:
  $ rec promote checkpoints/night-2024-06-02 --to serving
  $ rec eval serving/production --json | jq .metrics     # the link works wherever a checkpoint does
  $ rec promote checkpoints/night-2024-05-30 --to serving --force   # roll back`;

export function registerPromote(program: Command, runtime: Runtime): void {
  const cmd = program
    .command('promote')
    .summary('point DIR/production at a checkpoint that passed its gate')
    .description('Atomically point DIR/production at CKPT when CKPT has a passing gate eval against the current production (rec eval CKPT --baseline DIR/production --max-drop ...), or with --force.')
    .argument('<ckpt>', 'checkpoint folder written by rec train')
    .requiredOption('--to <dir>', 'folder holding the production link')
    .option('--force', 'promote without checking the gate (a rollback, or an operator decision)')
    .addHelpText('after', EXAMPLES);
  addConfigOptions(cmd, 'promote');
  addGlobalFlags(cmd).action(async (ckptArg: string, _opts, self: Command) => {
    await runCommand(self, 'promote', runtime, async (ctx) => {
      const o = self.opts<{ to: string; force?: boolean }>();
      const { resolve } = await import('node:path');
      const { runPromote } = await import('../../promote/promote.js');
      const result = await runPromote({ checkpoint: resolve(ctx.cwd, ckptArg), to: resolve(ctx.cwd, o.to), force: o.force === true }, ctx.log);
      const human = result.changed
        ? `${result.production} -> ${result.checkpoint}${result.previous ? ` (was ${result.previous})` : ' (first promotion)'}${result.forced ? ' [--force]' : ''}`
        : `${result.production} already points at ${result.checkpoint}: unchanged`;
      return { result, human };
    });
  });
}
