import { type Command, Option } from 'commander';
import { stat } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { carveValidFromTrain } from '../../data/carve.js';
import type { Dataset } from '../../data/dataset.js';
import type { CheckpointSession } from '../../io/checkpoint.js';
import type { Validator as ClosableValidator } from '../../eval/validate.js';
import type { TrainData, TrainRequest, TrainResult } from '../../train/run.js';
import { lowerIsBetter } from '../../eval/metrics/registry.js';
import { UsageError } from '../../util/errors.js';
import { formatDuration } from '../../util/format.js';
import { REC_VERSION } from '../../util/version.js';
import { addConfigOptions } from '../options.js';
import { addGlobalFlags, runCommand, type Runtime } from '../runtime.js';
import type { CommandContext } from '../context.js';
import { prepFromConfig } from './prep.js';
import { BUNDLED_DATA } from '../defaults.js';
import { withResumeCommand } from '../resume-command.js';
import { plural } from '../../util/plural.js';
import { SEARCH_MODEL_NAMES } from '../../config/model-names.js';

const EXAMPLES = `
Examples:
  $ rec train                                             # MF on the bundled shop log
  $ rec train --data data/ml100k --model mf --epochs 20 --out checkpoints/mf-ml100k
  $ rec train --data logs/events.csv.gz --event-weights view=1,cart=3,buy=5 --loss bpr
  $ rec train --out checkpoints/mf-ml100k --resume         # continue an interrupted run
  $ rec train --model neumf --init-from ckpt/gmf --init-from ckpt/mlp --lr 0.001   # NeuMF from pretrained GMF + MLP
  $ rec train --data data/day2 --init-from serving/production --lr 0.001 --replay 0.5   # fine-tune on the new days (docs/nightly.md)`;

function timestamp(): string {
  return new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '-');
}

function toTrainData(ds: Dataset, manifestSha256: string): TrainData {
  return {
    dir: ds.dir,
    manifestSha256,
    anonymize: ds.manifest.anonymize ?? null,
    feedback: ds.manifest.feedback.kind,
    numUsers: ds.users.ids.length,
    numItems: ds.items.ids.length,
    train: { users: ds.train.users, items: ds.train.items, values: ds.train.values, numUsers: ds.users.ids.length, numItems: ds.items.ids.length },
    trainTs: ds.train.ts,
    others: [ds.valid, ds.test],
    hasValid: ds.valid.length > 0,
  };
}

/** --data is a dataset folder (has manifest.json) or a raw log prepped into CKPT/data. */
async function resolveData(ctx: CommandContext, data: string | undefined, out: string): Promise<string> {
  const path = resolve(ctx.cwd, data ?? BUNDLED_DATA);
  const { datasetPathExists } = await import('../../data/dataset.js');
  if (!(await datasetPathExists(path))) throw new UsageError(`--data ${path} does not exist. Expected a dataset folder written by rec prep, or a raw log file.`);
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
    // rec tune's trials report each epoch to the study over IPC (src/cli/tune-ipc.ts); not for users.
    .addOption(new Option('--tune-ipc').hideHelp())
    .option('--force', "train into --out even when it holds a checkpoint or other files: the old checkpoint's own files are removed first, other files are kept (never a promoted checkpoint: see rec promote)")
    .addHelpText('after', EXAMPLES);
  addConfigOptions(cmd, 'train');
  addGlobalFlags(cmd).action(async (_opts, self: Command) => {
    // Held from the --out check to the last write, released however the command ends.
    let session: CheckpointSession | null = null;
    await runCommand(self, 'train', runtime, async (ctx) => {
      const o = self.opts<TrainFlags>();
      if (o.resume && !o.out) throw new UsageError('--resume needs --out DIR: the checkpoint folder of the run to continue.');
      const out = resolve(ctx.cwd, o.out ?? join('checkpoints', `${ctx.resolved.config.train.model}-${timestamp()}`));
      // TF.js, the engine and Arrow load here, not at start-up (`rec --help` stays instant: test/cli/startup.test.ts).
      const [{ openCheckpointForTrain }, { runTrain, checkHasUsers }, { checkModelOptions }] = await Promise.all([
        import('../../io/checkpoint.js'),
        import('../../train/run.js'),
        import('../../models/registry.js'),
      ]);
      // Before --force may clear --out: options the model does not read are a usage error.
      if (!o.resume) checkModelOptions(ctx.resolved.config.train.model, ctx.resolved.sources);
      const dataInOut = o.data !== undefined && !relative(join(out, 'data'), resolve(ctx.cwd, o.data)).startsWith('..');
      session = await openCheckpointForTrain(out, { resume: o.resume === true, force: o.force === true, keepData: dataInOut, log: ctx.log });
      const loaded = await loadTrainData(ctx, o, out);
      const { config } = ctx.resolved;
      const engine = await (await import('../../engine/backend.js')).initEngine({ backend: config.backend, log: ctx.log });
      if ((SEARCH_MODEL_NAMES as readonly string[]).includes(config.train.model)) {
        const { trainSearch } = await import('./train-search.js');
        const result = await trainSearch(ctx, loaded.ds, out, o.resume === true, engine).catch(async (error: unknown) => Promise.reject(await withResumeCommand(error, out, ctx.cwd)));
        return { result, human: summary(result) };
      }
      // Before the validator, which ranks items per user: a search log without users has none.
      checkHasUsers({ dir: loaded.dataDir, numUsers: loaded.ds.users.ids.length, trainRows: loaded.ds.train.length }, ctx.resolved.config.train.model);
      const { ds, data } = await withValidSplit(ctx, loaded);
      const { validator, monitor } = await validation(ctx, ds, data);
      const { resolveCheckpointPath } = await import('../../promote/pointer.js');
      const channel = o.tuneIpc ? (await import('../tune-ipc.js')).tuneChannel() : null;
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
          monitor,
          // A `production` link (rec promote) is recorded as the checkpoint it points at today.
          initFrom: await Promise.all(config.train.init_from.map(async (path) => (await resolveCheckpointPath(resolve(ctx.cwd, path))).path)),
          ...(channel ? { stopAfter: channel.stopAfter } : {}),
        },
        ctx.io,
      )
        .catch(async (error: unknown) => Promise.reject(await withResumeCommand(error, out, ctx.cwd)))
        // The validation's ranking threads, if it started any, end with the run whatever its outcome.
        .finally(() => {
          validator?.close();
          channel?.close();
        });
      return { result, human: summary(result) };
    }).finally(() => session?.release());
  });
}

interface TrainFlags {
  data?: string;
  out?: string;
  resume?: boolean;
  force?: boolean;
  tuneIpc?: boolean;
}

/**
 * The dataset a run trains on (a resumed run's own, a new run's --data), with the model's defaults
 * for its feedback kind layered in.
 */
async function loadTrainData(ctx: CommandContext, o: TrainFlags, out: string): Promise<{ ds: Dataset; dataDir: string }> {
  const [{ datasetPathExists, loadDataset }, { readRunJson }, { resumeConfig, withFeedbackDefaults }] = await Promise.all([
    import('../../data/dataset.js'),
    import('../../io/checkpoint.js'),
    import('../../config/load.js'),
  ]);
  let dataDir: string;
  if (o.resume) {
    const run = await readRunJson(out);
    ctx.resolved = resumeConfig(run, ctx.resolved);
    dataDir = run.dataset.path;
    if (!(await datasetPathExists(dataDir))) {
      throw new UsageError(`--resume continues on the dataset ${out} was trained on, ${dataDir} (dataset.path in its run.json), which no longer exists. Move the folder back there, or start a new run from this one with --data DIR --init-from ${out} --out NEW_DIR.`);
    }
  } else {
    dataDir = await resolveData(ctx, o.data, out);
  }
  const ds = await loadDataset(dataDir);
  if (!o.resume) ctx.resolved = await withFeedbackDefaults(ctx.resolved, ds.manifest.feedback.kind);
  return { ds, dataDir };
}

/** A validation split carved from train when asked (and the dataset has none), and the trainer's view of the data. */
async function withValidSplit(ctx: CommandContext, loaded: { ds: Dataset; dataDir: string }): Promise<{ ds: Dataset; data: TrainData }> {
  const { manifestSha256 } = await import('../../data/dataset.js');
  const { dataDir } = loaded;
  let { ds } = loaded;
  const { config } = ctx.resolved;
  const carve = config.train.valid_from_train;
  if (carve !== null && ds.valid.length > 0) {
    ctx.log.warn(`--valid-from-train ${carve} ignored: ${dataDir} has its own valid split (${ds.valid.length} rows)`);
  } else if (carve !== null) {
    const before = ds.train.length;
    ds = carveValidFromTrain(ds, carve, config.seed);
    ctx.log.info(`validation: ${ds.valid.length} of ${before} train rows carved out (--valid-from-train ${carve})`);
  }
  const data = toTrainData(ds, await manifestSha256(dataDir));
  if (config.train.features === 'auto') {
    const { loadItemFeatures } = await import('../../data/item-features.js');
    data.itemFeatures = await loadItemFeatures(dataDir, ds.manifest);
  }
  return { ds, data };
}

/** The per-epoch validator and what it monitors, as the model family says (null without a valid split). */
async function validation(ctx: CommandContext, ds: Dataset, data: TrainData): Promise<{ validator: ClosableValidator | null; monitor: TrainRequest['monitor'] }> {
  const [{ createValidator }, { family, trainingMonitor }, { parseProtocol }] = await Promise.all([import('../../eval/validate.js'), import('../../models/registry.js'), import('../../eval/protocols.js')]);
  const { config } = ctx.resolved;
  const { metric, ratings } = trainingMonitor(config.train, data.feedback);
  const fromHistory = family(config.train.model).scoresFrom === 'history';
  const validator = data.hasValid
    ? createValidator(ds, {
        ratings,
        monitor: metric,
        userBlock: config.eval.user_block,
        maxUsers: config.train.valid_users,
        protocol: parseProtocol(config.train.valid_protocol, '--valid-protocol'),
        seed: config.seed,
        historyThreshold: fromHistory ? config.train.positive_threshold : null,
        workers: config.train.workers,
        epochs: config.train.epochs,
        log: ctx.log,
        progress: ctx.io.progress,
        signal: ctx.io.signal,
      })
    : null;
  if (!validator) ctx.log.info('no validation split: training for fixed epochs (use --valid-from-train to enable early stopping)');
  return { validator, monitor: validator ? { metric, higherIsBetter: !lowerIsBetter(metric) } : null };
}

function summary(result: Pick<TrainResult, 'epochs' | 'model' | 'engine' | 'train_seconds' | 'wall_seconds' | 'best' | 'checkpoint'>): string {
  const last = result.epochs[result.epochs.length - 1];
  return `trained ${result.model} for ${plural(result.epochs.length, 'epoch')} on ${result.engine} in ${result.train_seconds.toFixed(1)}s of training (${formatDuration(result.wall_seconds, 'fine')} wall)${last ? `, last loss ${last.loss.toFixed(4)}` : ''}${result.best ? `, best ${result.best.metric} ${result.best.value.toFixed(4)} at epoch ${result.best.epoch}` : ''}\ncheckpoint: ${result.checkpoint}`;
}
