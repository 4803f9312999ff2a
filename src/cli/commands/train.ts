import type { Command } from 'commander';
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { loadDataset, type Dataset } from '../../data/dataset.js';
import { initEngine } from '../../engine/backend.js';
import { pathExists } from '../../io/atomic.js';
import { readRunJson } from '../../io/checkpoint.js';
import { runTrain, type TrainData, type TrainResult } from '../../train/run.js';
import { validateRanking, validateRatings } from '../../eval/validate.js';
import { UsageError } from '../../util/errors.js';
import { REC_VERSION } from '../../util/version.js';
import { resumeConfig } from '../../config/load.js';
import { addConfigOptions } from '../options.js';
import { addGlobalFlags, runCommand, type Runtime } from '../runtime.js';
import type { CommandContext } from '../context.js';
import { prepFromConfig } from './prep.js';
import { BUNDLED_DATA } from '../defaults.js';

const EXAMPLES = `
Examples:
  $ rec train                                             # MF on the bundled shop log
  $ rec train --data data/ml100k --model mf --epochs 20 --out checkpoints/mf-ml100k
  $ rec train --data logs/events.csv.gz --event-weights view=1,cart=3,buy=5 --loss bpr
  $ rec train --out checkpoints/mf-ml100k --resume         # continue an interrupted run`;

function timestamp(): string {
  return new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '-');
}

async function sha256File(path: string): Promise<string> {
  return createHash('sha256').update(await readFile(path)).digest('hex');
}

function toTrainData(ds: Dataset, manifestSha256: string): TrainData {
  return {
    dir: ds.dir,
    manifestSha256,
    feedback: ds.manifest.feedback.kind,
    numUsers: ds.users.ids.length,
    numItems: ds.items.ids.length,
    train: { users: ds.train.users, items: ds.train.items, values: ds.train.values, numUsers: ds.users.ids.length, numItems: ds.items.ids.length },
    others: [ds.valid, ds.test],
    hasValid: ds.valid.length > 0,
  };
}

/** --data is a dataset folder (has manifest.json) or a raw log prepped into CKPT/data. */
async function resolveData(ctx: CommandContext, data: string | undefined, out: string): Promise<string> {
  const path = resolve(ctx.cwd, data ?? BUNDLED_DATA);
  if (!(await pathExists(path))) throw new UsageError(`--data ${path} does not exist. Expected a dataset folder written by rec prep, or a raw log file.`);
  if ((await stat(path)).isDirectory()) return path;
  const dir = join(out, 'data');
  ctx.log.info(`preparing ${path} into ${dir}`);
  await prepFromConfig([path], dir, ctx.resolved.config, ctx);
  return dir;
}

export function registerTrain(program: Command, runtime: Runtime): void {
  const cmd = program
    .command('train')
    .summary('train or resume a recommender model')
    .description('Train a model on a dataset folder (or a raw log, prepped on the fly) and write a checkpoint folder.')
    .option('-d, --data <dir|log>', 'dataset folder from rec prep, or a raw log (default: the bundled shop log)')
    .option('-o, --out <dir>', 'checkpoint folder (default checkpoints/<model>-<timestamp>)')
    .option('--resume', 'continue the run in --out from its last saved state')
    .addHelpText('after', EXAMPLES);
  addConfigOptions(cmd, 'train');
  addGlobalFlags(cmd).action(async (_opts, self: Command) => {
    await runCommand(self, 'train', runtime, async (ctx) => {
      const o = self.opts<{ data?: string; out?: string; resume?: boolean }>();
      if (o.resume && !o.out) throw new UsageError('--resume needs --out DIR: the checkpoint folder of the run to continue.');
      const out = resolve(ctx.cwd, o.out ?? join('checkpoints', `${ctx.resolved.config.train.model}-${timestamp()}`));
      let dataDir: string;
      if (o.resume) {
        const run = await readRunJson(out);
        ctx.resolved = resumeConfig(run, ctx.resolved);
        dataDir = run.dataset.path;
      } else {
        dataDir = await resolveData(ctx, o.data, out);
      }
      const { config } = ctx.resolved;
      const engine = await initEngine({ backend: config.backend, log: ctx.log });
      const ds = await loadDataset(dataDir);
      const data = toTrainData(ds, await sha256File(join(dataDir, 'manifest.json')));
      const explicit = data.feedback === 'explicit' && (config.train.loss === 'auto' || config.train.loss === 'mse');
      const range: [number, number] = [ds.manifest.feedback.value_min ?? 0, ds.manifest.feedback.value_max ?? 0];
      const requested = config.train.early_stopping.metric;
      const metric = requested === 'auto' ? (explicit ? 'rmse' : 'ndcg@10') : requested;
      const lowerBetter = metric === 'rmse' || metric === 'mae';
      const validator = data.hasValid
        ? async (model: Parameters<typeof validateRatings>[0]) =>
            explicit ? validateRatings(model, ds.valid, range) : validateRanking(model, ds.valid, ds.train)
        : null;
      if (!validator) ctx.log.info('no validation split: training for fixed epochs (use --valid-from-train to enable early stopping)');
      const result: TrainResult = await runTrain(
        {
          data,
          out,
          resume: o.resume === true,
          resolved: ctx.resolved,
          argv: process.argv.slice(2),
          recVersion: REC_VERSION,
          engine,
          validator,
          monitor: validator ? { metric, higherIsBetter: !lowerBetter } : null,
        },
        ctx.io,
      );
      const last = result.epochs[result.epochs.length - 1];
      return {
        result,
        human: `trained ${result.model} for ${result.epochs.length} epochs on ${result.engine} in ${result.train_seconds.toFixed(1)}s${last ? `, last loss ${last.loss.toFixed(4)}` : ''}${result.best ? `, best ${result.best.metric} ${result.best.value.toFixed(4)} at epoch ${result.best.epoch}` : ''}\ncheckpoint: ${result.checkpoint}`,
      };
    });
  });
}
