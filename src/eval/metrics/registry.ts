/**
 * Metric names (docs/evaluation.md#metrics): `rmse`, `mae`, `auc`, and `<name>@k` for the ranking metrics and
 * coverage. `--metrics` and `--k` are parsed here so every command reports the same keys.
 */
import { describeValue, UsageError } from '../../util/errors.js';

export const RANKING_METRICS = ['precision', 'recall', 'f1', 'ndcg', 'hr', 'mrr', 'map'] as const;
export type RankingMetric = (typeof RANKING_METRICS)[number];
export const ERROR_METRICS = ['rmse', 'mae'] as const;
export type ErrorMetric = (typeof ERROR_METRICS)[number];

export type MetricSpec =
  | { kind: 'ranking'; key: string; name: RankingMetric; k: number }
  | { kind: 'coverage'; key: string; k: number }
  | { kind: 'auc'; key: 'auc' }
  | { kind: 'error'; key: ErrorMetric; name: ErrorMetric };

export const METRIC_NAMES = [
  'rmse',
  'mae',
  ...RANKING_METRICS.map((m) => `${m}@k`),
  'auc',
  'coverage@k',
] as const;

// Error metrics are better when lower; quality gates invert for them. The rule is shared with io
// and report, which sit below eval.
export { lowerIsBetter } from '../../util/metric-direction.js';

function validNames(): string {
  return `${METRIC_NAMES.join(', ')} (k a positive integer, e.g. ndcg@10; a name without @k uses every --k value)`;
}

/** `--k 5,10,20` → [5, 10, 20]: positive integers, sorted, duplicates removed. */
export function parseKList(value: string | readonly number[], flag = '--k'): number[] {
  const parts = typeof value === 'string' ? value.split(',').map((s) => s.trim()) : value.map(String);
  const ks: number[] = [];
  for (const p of parts) {
    const k = /^\d+$/.test(p) ? Number(p) : NaN;
    if (!Number.isSafeInteger(k) || k < 1) {
      throw new UsageError(
        `${flag} must be a comma-separated list of positive integers. Received: ${describeValue(
          typeof value === 'string' ? value : value.join(','),
        )} (bad entry ${describeValue(p)}). Example: ${flag} 5,10,20.`,
      );
    }
    ks.push(k);
  }
  return [...new Set(ks)].sort((a, b) => a - b);
}

/**
 * `--metrics ndcg@10,recall,rmse` with `--k 5,10` → specs keyed `ndcg@10`, `recall@5`,
 * `recall@10`, `rmse`, in the order given, duplicates removed. Names are case-insensitive.
 */
export function parseMetrics(value: string | readonly string[], ks: readonly number[], flag = '--metrics'): MetricSpec[] {
  const names = (typeof value === 'string' ? value.split(',') : [...value]).map((s) => s.trim().toLowerCase());
  const specs: MetricSpec[] = [];
  const seen = new Set<string>();
  const push = (spec: MetricSpec) => {
    if (seen.has(spec.key)) return;
    seen.add(spec.key);
    specs.push(spec);
  };
  for (const raw of names) {
    if (raw === '') continue;
    const at = raw.indexOf('@');
    const base = at < 0 ? raw : raw.slice(0, at);
    const kText = at < 0 ? null : raw.slice(at + 1);
    let explicitK: number | null = null;
    if (kText !== null) {
      explicitK = /^\d+$/.test(kText) ? Number(kText) : NaN;
      if (!Number.isSafeInteger(explicitK) || explicitK < 1) {
        throw new UsageError(`${flag}: bad k in ${describeValue(raw)}. Expected a positive integer after @, e.g. ndcg@10.`);
      }
    }
    const kList = explicitK !== null ? [explicitK] : ks;
    if ((RANKING_METRICS as readonly string[]).includes(base) || base === 'coverage') {
      if (kList.length === 0) {
        throw new UsageError(`${flag}: ${describeValue(raw)} needs a cutoff: write ${base}@10 or give --k.`);
      }
      for (const k of kList) {
        if (base === 'coverage') push({ kind: 'coverage', key: `coverage@${k}`, k });
        else push({ kind: 'ranking', key: `${base}@${k}`, name: base as RankingMetric, k });
      }
    } else if (base === 'auc' || (ERROR_METRICS as readonly string[]).includes(base)) {
      if (explicitK !== null) {
        throw new UsageError(`${flag}: ${base} takes no cutoff. Received: ${describeValue(raw)}. Write ${base}.`);
      }
      if (base === 'auc') push({ kind: 'auc', key: 'auc' });
      else push({ kind: 'error', key: base as ErrorMetric, name: base as ErrorMetric });
    } else {
      throw new UsageError(`${flag}: unknown metric ${describeValue(raw)}. Expected one of: ${validNames()}.`);
    }
  }
  if (specs.length === 0) {
    throw new UsageError(`${flag} is empty. Expected one or more of: ${validNames()}.`);
  }
  return specs;
}

/** The cutoffs the specs need (for the eval file's `k` and for how deep to rank), ascending. */
export function cutoffsOf(specs: readonly MetricSpec[]): number[] {
  const ks = new Set<number>();
  for (const s of specs) if (s.kind === 'ranking' || s.kind === 'coverage') ks.add(s.k);
  return [...ks].sort((a, b) => a - b);
}
