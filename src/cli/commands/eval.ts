import type { Command } from 'commander';
import { basename, dirname, resolve } from 'node:path';
import { describeFailure, parseGates } from '../../eval/gates.js';
import { parseKList } from '../../eval/metrics/registry.js';
import { parseProtocol, type ProtocolSpec } from '../../eval/protocols.js';
import { pathExists } from '../../io/atomic.js';
import { describeValue, EXIT, UsageError } from '../../util/errors.js';
import type { ItemsMode } from '../../eval/prepare.js';
import type { RelevantItemsRecord } from '../../eval/run.js';
import { REC_VERSION } from '../../util/version.js';
import { resolveAnonKey } from '../anon-key.js';
import { addConfigOptions } from '../options.js';
import { addGlobalFlags, runCommand, type Runtime } from '../runtime.js';
import { plural } from '../../util/plural.js';
import { SEARCH_MODEL_NAMES } from '../../config/model-names.js';

const EXAMPLES = `
Examples:
  $ rec eval checkpoints/mf-ml100k                                # test split, full ranking, all metrics that apply
  $ rec eval checkpoints/mf-ml100k --metrics rmse,mae --json
  $ rec eval ckpt --protocol sampled:100 --k 10 --metrics hr,ndcg
  $ rec eval ckpt --protocol candidates:ml1m.test.candidates.tsv --k 10 --metrics hr,ndcg
  $ rec eval ckpt --fail-under ndcg@10=0.30                      # exit 3 when below
  $ rec eval new --baseline prod --max-drop ndcg@10=2% --max-drop rmse=0.005
  $ rec eval new --baseline serving/production --max-drop ndcg@10=0.01   # the gate rec promote checks
  $ rec eval ckpt --items cold --k 20 --metrics recall,ndcg      # only test items without a training row (new products)
  $ rec eval ckpt --items new --k 20 --metrics recall,ndcg       # of those, only items with no row before the test split

Writes CKPT/eval-<split>-<protocol>.json (e.g. eval-test-full.json, eval-test-sampled100.json);
with --items warm|cold|new|recent, eval-<split>-<protocol>.<items>.json beside it.
A relevant item without a training row (cold) is ranked from its catalogue features when the model
was trained with item features; otherwise it is skipped, counted, and the output says so.`;

const collect = (v: string, prev: string[] | undefined) => [...(prev ?? []), v];

export function registerEval(program: Command, runtime: Runtime): void {
  const cmd = program
    .command('eval')
    .summary('evaluate a checkpoint; optionally gate on quality')
    .description('Evaluate a checkpoint on a dataset split under a protocol (full | sampled:N | candidates:FILE) and write a protocol-stamped eval file into the checkpoint.')
    .argument('<ckpt>', 'checkpoint folder written by rec train')
    .option('-d, --data <dir>', 'dataset folder (default: the one the checkpoint was trained on)')
    .option('--fail-under <metric=value>', 'exit 3 when a metric is worse than this (repeatable; rmse/mae: above it)', collect)
    .option('--baseline <ckpt>', 're-evaluate this checkpoint the same way and compare')
    .option('--max-drop <metric=value[%]>', 'exit 3 when a metric is worse than the baseline by more than this (repeatable)', collect)
    .option(
      '--items <which>',
      'all|warm|cold|new|recent: rank every relevant item, only those with a training row, or only those without (new products; needs a model with item features); new and recent split cold: no row before the evaluated split at all, or rows there (valid, for test) but none in training (default all)',
    )
    .addHelpText('after', EXAMPLES);
  addConfigOptions(cmd, 'eval');
  addGlobalFlags(cmd).action(async (ckptArg: string, _opts, self: Command) => {
    await runCommand(self, 'eval', runtime, async (ctx) => {
      const o = self.opts<{ data?: string; failUnder?: string[]; baseline?: string; maxDrop?: string[]; items?: string }>();
      const items = parseItemsMode(o.items);
      const { config } = ctx.resolved;
      const checkpoint = resolve(ctx.cwd, ckptArg);
      if (!(await pathExists(checkpoint))) throw new UsageError(`Checkpoint ${checkpoint} does not exist. Expected a folder written by rec train.`);
      const given = o.baseline ? resolve(ctx.cwd, o.baseline) : null;
      if (given && !(await pathExists(given))) {
        throw new UsageError(
          basename(given) === 'production'
            ? `--baseline ${given} does not exist: nothing has been promoted there yet. Promote a checkpoint first (rec promote CKPT --to ${dirname(given)}), or pass a checkpoint folder.`
            : `--baseline ${given} does not exist. Expected a folder written by rec train, or a production link written by rec promote.`,
        );
      }
      // DIR/production (rec promote's link) is compared as the checkpoint it points at, and the eval file records both.
      const { resolveCheckpointPath } = await import('../../promote/pointer.js');
      const resolvedBaseline = given ? await resolveCheckpointPath(given) : null;
      const baseline = resolvedBaseline?.path ?? null;
      const failUnder = parseGates(o.failUnder ?? [], '--fail-under', false);
      const maxDrop = parseGates(o.maxDrop ?? [], '--max-drop', true);
      const k = parseKList(config.eval.k);
      const { readRunJson } = await import('../../io/checkpoint.js');
      if ((SEARCH_MODEL_NAMES as readonly string[]).includes((await readRunJson(checkpoint)).model)) {
        await (await import('../../engine/backend.js')).initEngine({ backend: config.backend, log: ctx.log });
        const { evalSearch } = await import('./eval-search.js');
        return evalSearch(ctx, { checkpoint, data: o.data ? resolve(ctx.cwd, o.data) : null, baseline, failUnder, maxDrop, k });
      }
      const parsed = parseProtocol(config.eval.protocol);
      const protocol: ProtocolSpec = parsed.name === 'candidates' ? { name: 'candidates', file: resolve(ctx.cwd, parsed.file) } : parsed;
      const [{ initEngine }, { runEval, coldSkipLine }] = await Promise.all([import('../../engine/backend.js'), import('../../eval/run.js')]);
      const engine = await initEngine({ backend: config.backend, log: ctx.log });
      const result = await runEval(
        {
          checkpoint,
          data: o.data ? resolve(ctx.cwd, o.data) : null,
          split: config.eval.split,
          protocol,
          metrics: config.eval.metrics,
          k,
          relevanceThreshold: config.eval.relevance_threshold,
          items,
          seed: config.seed,
          userBlock: config.eval.user_block,
          workers: config.eval.workers,
          anonKey: () => resolveAnonKey(config.prep.anonymize_key_file, ctx.cwd, ctx.env),
          failUnder,
          baseline,
          baselinePointer: resolvedBaseline?.pointer ?? null,
          maxDrop,
          recVersion: REC_VERSION,
        },
        ctx.io,
      );
      const e = result.eval;
      const failed = result.gates.checks.filter((c) => !c.passed);
      for (const c of failed) ctx.log.error(`quality gate failed: ${describeFailure(c)}`);
      const cold = coldSkipLine(e.relevant_items);
      const lines = [
        `${e.split} split, protocol ${e.protocol.name}${e.protocol.n ? ` (${plural(e.protocol.n, 'negative')})` : ''}: ${plural(e.users.evaluated, 'user')} evaluated, ${e.users.skipped} skipped${skippedWhy(e.users.skipped_by_reason)} (engine ${engine.name})`,
        ...relevantLine(items, e.relevant_items),
        ...(cold === null ? [] : [`  ${cold}`]),
        ...Object.entries(e.metrics).map(([name, v]) => `  ${name.padEnd(14)} ${Number.isNaN(v) ? 'n/a' : v.toFixed(4)}${baselineText(result.baseline, name)}`),
        `written: ${result.file}`,
      ];
      if (result.gates.checks.length) lines.push(result.gates.passed ? 'quality gates passed' : `quality gates FAILED (${failed.length} of ${result.gates.checks.length})`);
      return {
        result: { ...e, file: result.file, baseline: result.baseline, gates: result.gates },
        human: lines.join('\n'),
        exitCode: result.gates.passed ? EXIT.ok : EXIT.qualityGate,
      };
    });
  });
}

const ITEMS_MODES: readonly ItemsMode[] = ['all', 'warm', 'cold', 'new', 'recent'];

function parseItemsMode(text: string | undefined): ItemsMode {
  if (text === undefined) return 'all';
  const v = text.trim().toLowerCase();
  const mode = ITEMS_MODES.find((m) => m === v);
  if (mode !== undefined) return mode;
  throw new UsageError(`--items expects one of ${ITEMS_MODES.join('|')}. Received: ${describeValue(text)}.`);
}

/** What `--items X` leaves out, for the summary line. */
const OTHER_KINDS: Record<ItemsMode, string> = { all: '', warm: 'cold', cold: 'warm', new: 'warm or recent', recent: 'warm or new' };

/**
 * `relevant items: 812 warm ranked, 40 cold ranked from features, 5 cold skipped (model_without_features)`;
 * nothing when every relevant item was warm and ranked.
 */
function relevantLine(items: ItemsMode, r: RelevantItemsRecord): string[] {
  if (items === 'all' && r.cold_ranked + r.cold_skipped + r.unknown === 0) return [];
  const parts = [`${r.warm_ranked} warm ranked`, `${r.cold_ranked} cold ranked from features`];
  if (r.cold_skipped > 0) parts.push(`${r.cold_skipped} cold skipped (${r.cold_skip_reason ?? 'no features'})`);
  if (r.unknown > 0) parts.push(`${r.unknown} unknown to the model`);
  if (r.not_selected > 0) parts.push(`${r.not_selected} ${OTHER_KINDS[items]} not selected`);
  return [`relevant items${items === 'all' ? '' : ` (--items ${items})`}: ${parts.join(', ')}`];
}

/** `   baseline 0.2085`, or on the users both evaluate `   on 184 common users: 0.2131 vs baseline 0.2085`. */
function baselineText(b: { metrics: Record<string, number>; compared: { users: number; metrics: Record<string, number> } | null } | null, name: string): string {
  if (b === null) return '';
  const f = (v: number | undefined) => (v === undefined || Number.isNaN(v) ? 'n/a' : v.toFixed(4));
  if (b.compared === null) return `   baseline ${f(b.metrics[name])}`;
  return `   on ${b.compared.users} common users: ${f(b.compared.metrics[name])} vs baseline ${f(b.metrics[name])}`;
}

/** ` (cold_user 6928, cold_item 1233)`: why users were skipped, largest first; empty when none were. */
function skippedWhy(byReason: Record<string, number>): string {
  const parts = Object.entries(byReason)
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1])
    .map(([reason, n]) => `${reason} ${n}`);
  return parts.length > 0 ? ` (${parts.join(', ')})` : '';
}
