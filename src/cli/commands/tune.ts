import type { Command } from 'commander';
import { SEARCH_MODEL_NAMES } from '../../config/model-names.js';
import { join, resolve } from 'node:path';
import type { Tree } from '../../config/tree.js';
import type { StudyJson } from '../../tune/study.js';
import { UsageError } from '../../util/errors.js';
import { addConfigOptions } from '../options.js';
import { addGlobalFlags, runCommand, type Runtime } from '../runtime.js';
import type { CommandContext } from '../context.js';

const EXAMPLES = `
The space file maps training config keys to distributions (docs/tuning.md):
  train.lr: {log_uniform: [0.0005, 0.05]}
  train.l2: {log_uniform: [0.001, 1]}
  model.dim: {int: [16, 128], log: true}
  train.lr_schedule: {choice: [constant, cosine]}
  neumf:                      # keys only --model neumf reads
    model.alpha: {uniform: [0.2, 0.8]}

Only validation chooses; the best trial alone is evaluated on the test split, once, at the end.
STUDY/trials.jsonl records every trial, STUDY/best.yaml is a config for rec train --config.

Examples:
  $ rec tune --data data/ml100k --model mf --space space.yaml --trials 40 --metric rmse --budget 20m --out studies/mf
  $ rec tune --data data/shop --model ials --space ials.yaml --trials 30 --metric ndcg@10 --parallel 2 --out studies/ials
  $ rec tune --data data/ml100k-u1 --valid-from-train 0.1 --model mf --space space.yaml --trials 20 --out studies/u1
  $ rec tune --data data/ml100k --model mf --space space.yaml --trials 40 --out studies/mf --resume   # after a kill
  $ rec train --data data/ml100k --config studies/mf/best.yaml --out checkpoints/mf-tuned
  $ rec runs studies/mf                      # the trials, best first
  $ rec report studies/mf --out search.html  # metric by trial, best so far, metric against each parameter`;

interface TuneFlags {
  data?: string;
  space?: string;
  trials: string;
  metric: string;
  budget?: string;
  parallel: string;
  sampler: string;
  prune: string;
  out?: string;
  resume?: boolean;
  refit?: boolean;
}

export function registerTune(program: Command, runtime: Runtime): void {
  const cmd = program
    .command('tune')
    .summary('search hyper-parameters on the validation split')
    .description('Search training hyper-parameters: trials proposed by TPE (or at random), each an ordinary checkpoint under STUDY/trials/, pruned on per-epoch validation, side by side across the cores; the best trial by validation is evaluated once on test.')
    .option('-d, --data <dir>', 'dataset folder from rec prep (with a valid split, or --valid-from-train)')
    .option('--space <file>', 'YAML search space: config keys → distributions (see below)')
    .option('--trials <n>', 'trials to run', '20')
    .option('--metric <name>', 'validation metric to optimise, e.g. rmse, ndcg@10 (auto: rmse on ratings, else ndcg@10)', 'auto')
    .option('--budget <duration>', 'wall-clock limit, e.g. 20m, 1h30m: no trial starts after it and running ones stop at their next epoch end')
    .option('--parallel <n|auto>', 'trials run side by side, each with its share of the cores as --workers (auto: one per core)', 'auto')
    .option('--sampler <name>', 'tpe|random', 'tpe')
    .option('--prune <rule>', 'median|asha|none: stop trials behind their peers on validation', 'median')
    .option('-o, --out <dir>', 'study folder (absent or empty; --resume: the study to continue)')
    .option('--resume', 'continue the study in --out: finished trials are kept, an interrupted one is finished')
    .option('--refit', 'with --valid-from-train: train the best trial\'s config again on all of train (the carve included) for its best epoch count, and evaluate that model on test, once, instead of the trial')
    .addHelpText('after', EXAMPLES);
  addConfigOptions(cmd, 'tune');
  addGlobalFlags(cmd).action(async (_opts, self: Command) => {
    await runCommand(self, 'tune', runtime, async (ctx) => {
      const o = self.opts<TuneFlags>();
      if (!o.data) throw new UsageError('rec tune needs --data DIR: a dataset folder written by rec prep.');
      if (!o.space) throw new UsageError('rec tune needs --space FILE: the parameters to search (docs/tuning.md).');
      if (!o.out) throw new UsageError('rec tune needs --out DIR: the study folder (each trial is a checkpoint under DIR/trials/).');
      const { runStudy } = await import('../../tune/study.js');
      const request = await studyRequest(ctx, o);
      const result = await runStudy(request, ctx.io);
      return { result: { study: request.out, ...result }, human: summary(request.out, result) };
    });
  });
}

async function studyRequest(ctx: CommandContext, o: TuneFlags): Promise<Parameters<typeof import('../../tune/study.js').runStudy>[0]> {
  const [{ loadSpace }, pre, { processRunner }, { SAMPLERS }, { PRUNERS }] = await Promise.all([
    import('../../tune/space.js'),
    import('../../tune/preflight.js'),
    import('../../tune/process-runner.js'),
    import('../../tune/samplers.js'),
    import('../../tune/pruners.js'),
  ]);
  const { config } = ctx.resolved;
  const data = resolve(ctx.cwd, o.data as string);
  const out = resolve(ctx.cwd, o.out as string);
  const trials = Number(o.trials);
  if (!/^[1-9]\d*$/.test(o.trials)) throw new UsageError(`--trials ${o.trials} is not a positive integer. Expected e.g. 20.`);
  if (!(SAMPLERS as readonly string[]).includes(o.sampler)) throw new UsageError(`--sampler ${o.sampler} is not one of ${SAMPLERS.join(', ')}.`);
  if (!(PRUNERS as readonly string[]).includes(o.prune)) throw new UsageError(`--prune ${o.prune} is not one of ${PRUNERS.join(', ')}.`);
  const budgetSeconds = o.budget === undefined ? null : pre.parseDuration(o.budget);
  const { parallel, workers } = pre.parallelPlan(o.parallel, trials);
  const validFromTrain = config.train.valid_from_train;
  const studyData = await pre.checkStudyData(data, validFromTrain);
  const model = config.train.model;
  if ((SEARCH_MODEL_NAMES as readonly string[]).includes(model)) {
    throw new UsageError(`rec tune searches the hyper-parameters of the recommendation models; --model ${model} is a search model, which it does not tune yet. Train it with rec train --model ${model} and its flags (docs/search.md).`);
  }
  if (o.refit && studyData.validRows > 0) {
    throw new UsageError(`--refit trains the best config again on train plus the validation carved from it; ${data} has its own valid split (${studyData.validRows} rows), which stays out of training. Leave out --refit, or prep the data with --split none and use --valid-from-train.`);
  }
  const space = await loadSpace(resolve(ctx.cwd, o.space as string), model);
  const metric = pre.resolveMetric(o.metric, studyData);
  const base = userTree(ctx);
  for (const p of space.params) if (hasPath(base, p.key)) ctx.log.warn(`${p.key} is set for every trial (${ctx.resolved.sources[p.key]}) and searched by --space: the space wins`);
  ctx.log.info(`study: ${trials} trials of ${model} on ${data}, ${metric} on validation, ${o.sampler} sampler, ${o.prune} pruning, ${parallel} at a time with ${workers} worker${workers === 1 ? '' : 's'} each${budgetSeconds ? `, budget ${o.budget}` : ''}`);
  return {
    data,
    model,
    space,
    trials,
    metric,
    budgetSeconds,
    parallel,
    workers,
    out,
    resume: o.resume === true,
    sampler: o.sampler as (typeof SAMPLERS)[number],
    pruner: o.prune as (typeof PRUNERS)[number],
    seed: config.seed,
    base,
    validFromTrain: studyData.validRows > 0 ? null : validFromTrain,
    refit: o.refit === true,
    runner: processRunner({ cli: [process.execPath, process.argv[1]], data }),
  };
}

/** Keys every trial shares are those the user set (files, environment, flags), less what the study owns. */
const STUDY_OWNED = /^(train\.model|train\.valid_from_train|train\.workers|eval\.workers|log_level|progress|seed)$/;

function userTree(ctx: CommandContext): Tree {
  const tree: Tree = {};
  for (const [path, source] of Object.entries(ctx.resolved.sources)) {
    if (source === 'default' || source.startsWith('configs/models/') || STUDY_OWNED.test(path)) continue;
    let node: unknown = ctx.resolved.config;
    for (const part of path.split('.')) node = (node as Tree)[part];
    const parts = path.split('.');
    let at = tree;
    for (const part of parts.slice(0, -1)) at = (at[part] ??= {}) as Tree;
    at[parts[parts.length - 1]] = node;
  }
  return tree;
}

function hasPath(tree: Tree, path: string): boolean {
  let node: unknown = tree;
  for (const part of path.split('.')) {
    if (typeof node !== 'object' || node === null || !(part in node)) return false;
    node = (node as Tree)[part];
  }
  return true;
}

function summary(out: string, s: StudyJson): string {
  const lines = [
    `study ${out}: ${s.counts.completed} completed, ${s.counts.pruned} pruned, ${s.counts.failed} failed in ${s.wall_seconds.toFixed(0)}s (${Math.round(s.trials_per_hour)} trials/hour)${s.stopped_by_budget ? '; stopped by --budget' : ''}`,
  ];
  if (s.best) lines.push(`best: trial ${s.best.trial}, validation ${s.metric} ${s.best.value.toFixed(4)} at epoch ${s.best.epoch}: ${Object.entries(s.best.params).map(([k, v]) => `${k}=${v}`).join(' ')}`);
  if (s.refit) lines.push(`refit: trial ${s.refit.trial}'s config trained again on all of train for ${s.refit.epochs} epochs in ${s.refit.seconds.toFixed(0)}s (${join(out, s.refit.checkpoint)})`);
  if (s.test) lines.push(`test (evaluated once, for the ${s.test.refit ? "best trial's refit" : 'best trial'} only): ${Object.entries(s.test.metrics).filter(([k]) => k === s.metric || k === 'rmse' || k === 'mae').map(([k, v]) => `${k} ${v.toFixed(4)}`).join(', ') || JSON.stringify(s.test.metrics)}`);
  lines.push(`config: ${join(out, 'best.yaml')} (rec train --config)`);
  return lines.join('\n');
}
