import type { Command } from 'commander';
import { resolve } from 'node:path';
import type { ReportResult } from '../../report/report.js';
import { addConfigOptions } from '../options.js';
import { addGlobalFlags, runCommand, type Runtime } from '../runtime.js';

export function registerReport(program: Command, runtime: Runtime): void {
  const cmd = program
    .command('report')
    .summary('one self-contained HTML page comparing checkpoints')
    .description(
      'Write one HTML file (styles and SVG charts inline; opens offline) with, per checkpoint, its config, data summary, training curves, eval results, last gate and production status; for several checkpoints, overlaid curves and metric tables with the best per column marked among checkpoints trained or evaluated alike (same dataset, split, protocol), with a note where they differ. A damaged checkpoint stops the report (exit 1), naming the file.',
    )
    .argument('<ckpt...>', 'checkpoint folders written by rec train')
    .requiredOption('-o, --out <file>', 'HTML file to write (not inside a checkpoint, so --resume still accepts it)')
    .option('--force', 'replace --out if it already exists')
    .addHelpText('after', '\nExamples:\n  $ rec report checkpoints/mf --out mf.html\n  $ rec report checkpoints/gmf checkpoints/mlp checkpoints/neumf --out ncf.html');
  addConfigOptions(cmd, 'report');
  addGlobalFlags(cmd).action(async (ckpts: string[], _opts, self: Command) => {
    await runCommand(self, 'report', runtime, async (ctx) => {
      const o = self.opts<{ out: string; force?: boolean }>();
      const { runReport } = await import('../../report/report.js');
      const result: ReportResult = await runReport({ checkpoints: ckpts.map((c) => resolve(ctx.cwd, c)), out: resolve(ctx.cwd, o.out), force: o.force === true }, ctx.io);
      return { result, human: result.report };
    });
  });
}
