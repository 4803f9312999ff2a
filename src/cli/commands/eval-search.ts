/** `rec eval` of a search checkpoint: the CLI side of src/eval/search-run.ts (flags in, lines and exit code out). */
import { describeFailure, type Gate } from '../../eval/gates.js';
import { runSearchEval } from '../../eval/search-run.js';
import type { SearchProtocol } from '../../eval/search.js';
import { EXIT, UsageError } from '../../util/errors.js';
import { REC_VERSION } from '../../util/version.js';
import type { CommandContext } from '../context.js';

export interface SearchEvalFlags {
  checkpoint: string;
  data: string | null;
  baseline: string | null;
  failUnder: Gate[];
  maxDrop: Gate[];
  k: number[];
}

function protocolOf(ctx: CommandContext): SearchProtocol | null {
  const given = ctx.resolved.config.eval.protocol;
  if ((ctx.resolved.sources['eval.protocol'] ?? 'default') === 'default') return null;
  if (given === 'judged' || given === 'full') return given;
  throw new UsageError(`--protocol ${given}: a search model is evaluated with --protocol judged (rank each query's judged items) or full (retrieve from the whole catalogue).`);
}

export async function evalSearch(ctx: CommandContext, f: SearchEvalFlags): Promise<{ result: unknown; human: string; exitCode: number }> {
  const { file, eval: e, passed } = await runSearchEval({
    checkpoint: f.checkpoint,
    data: f.data,
    split: ctx.resolved.config.eval.split,
    protocol: protocolOf(ctx),
    k: f.k,
    failUnder: f.failUnder,
    baseline: f.baseline,
    maxDrop: f.maxDrop,
    recVersion: REC_VERSION,
    log: ctx.log,
    signal: ctx.io.signal,
  });
  const failed = e.gates?.checks.filter((c) => !c.passed) ?? [];
  for (const c of failed) ctx.log.error(`quality gate failed: ${describeFailure(c)}`);
  const base = e.baseline?.metrics;
  const lines = [
    `${e.split} split, protocol ${e.protocol.name}: ${e.queries.evaluated} queries evaluated, ${e.queries.skipped} skipped${e.queries.skipped > 0 ? ' (no relevant item)' : ''}; ${e.pairs.evaluated} judged pairs${e.pairs.dropped_unknown_item > 0 ? `, ${e.pairs.dropped_unknown_item} dropped (item unknown to the model)` : ''}`,
    ...Object.entries(e.metrics).map(([name, v]) => `  ${name.padEnd(14)} ${Number.isNaN(v) ? 'n/a' : v.toFixed(4)}${base ? `   baseline ${base[name]?.toFixed(4) ?? 'n/a'}` : ''}`),
    `written: ${file}`,
  ];
  if (e.gates) lines.push(passed ? 'quality gates passed' : `quality gates FAILED (${failed.length} of ${e.gates.checks.length})`);
  return { result: { ...e, file }, human: lines.join('\n'), exitCode: passed ? EXIT.ok : EXIT.qualityGate };
}
