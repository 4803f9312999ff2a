/**
 * Quality gates of `rec eval` (docs/evaluation.md#quality-gates-exit-3): `--fail-under METRIC=VALUE` holds a metric to a floor
 * and `--max-drop METRIC=VALUE[%]` to a baseline. Error metrics (rmse, mae) are better when lower,
 * so for them "under" means "above the ceiling" and a drop is an increase.
 */
import { describeValue, UsageError } from '../util/errors.js';
import { parseDecimal } from '../util/numbers.js';
import { lowerIsBetter } from './metrics/registry.js';

export interface Gate {
  metric: string;
  value: number;
  /** --max-drop only: the allowed drop is a share of the baseline value. */
  percent: boolean;
  /** The flag it came from, for messages. */
  flag: string;
}

export interface GateCheck {
  kind: 'fail_under' | 'max_drop';
  metric: string;
  /** The value the gate was given (a bound, or an allowed drop; a percentage when `percent`). */
  threshold: number;
  percent: boolean;
  value: number;
  baseline?: number;
  /** How far the metric moved in the bad direction from the baseline (max_drop). */
  drop?: number;
  passed: boolean;
}

/** `--fail-under ndcg@10=0.3,recall@10=0.2` (repeatable) → gates; `%` only where `allowPercent`. */
export function parseGates(entries: readonly string[], flag: string, allowPercent: boolean): Gate[] {
  const gates: Gate[] = [];
  for (const entry of entries.flatMap((e) => e.split(','))) {
    const text = entry.trim();
    if (text === '') continue;
    const m = /^([a-z0-9@]+)\s*=\s*([^%]*?)\s*(%?)$/i.exec(text);
    // Plain finite decimals only (util/numbers.ts): `1e999` would make a gate that can never pass
    // (or never fail), `0x10` is a typo.
    const value = m ? parseDecimal(m[2]) : Number.NaN;
    if (!m || !Number.isFinite(value) || (m[3] === '%' && !allowPercent)) {
      throw new UsageError(
        `${flag}: cannot read ${describeValue(text)}. Expected METRIC=VALUE${allowPercent ? '[%]' : ''} with VALUE a finite decimal number, e.g. ${flag} ndcg@10=${allowPercent ? '0.01 or ndcg@10=2%' : '0.30'}.`,
      );
    }
    if (allowPercent && value < 0) throw new UsageError(`${flag}: the allowed drop must not be negative. Received: ${describeValue(text)}.`);
    gates.push({ metric: m[1].toLowerCase(), value, percent: m[3] === '%', flag });
  }
  return gates;
}

function valueOf(metrics: Readonly<Record<string, number>>, gate: Gate, what: string): number {
  const v = metrics[gate.metric];
  if (v === undefined) {
    throw new UsageError(
      `${gate.flag}: metric ${describeValue(gate.metric)} was not computed${what}. Computed: ${Object.keys(metrics).join(', ')}. Add it to --metrics / --k.`,
    );
  }
  return v;
}

export function checkFailUnder(metrics: Readonly<Record<string, number>>, gates: readonly Gate[]): GateCheck[] {
  return gates.map((g) => {
    const value = valueOf(metrics, g, '');
    const passed = lowerIsBetter(g.metric) ? value <= g.value : value >= g.value;
    return { kind: 'fail_under', metric: g.metric, threshold: g.value, percent: false, value, passed: passed && !Number.isNaN(value) };
  });
}

/** Slack for float noise when a metric sits exactly on the allowed drop. */
const EPS = 1e-12;

export function checkMaxDrop(
  metrics: Readonly<Record<string, number>>,
  baseline: Readonly<Record<string, number>>,
  gates: readonly Gate[],
): GateCheck[] {
  return gates.map((g) => {
    const value = valueOf(metrics, g, '');
    const base = valueOf(baseline, g, ' for the baseline');
    const drop = lowerIsBetter(g.metric) ? value - base : base - value;
    const allowed = g.percent ? (Math.abs(base) * g.value) / 100 : g.value;
    const passed = !Number.isNaN(drop) && drop <= allowed + EPS;
    return { kind: 'max_drop', metric: g.metric, threshold: g.value, percent: g.percent, value, baseline: base, drop, passed };
  });
}

/**
 * One line per failed gate, in the gate's own unit: a `%` limit is met by the drop as a share of
 * the baseline, an absolute one by the absolute drop, so the line shows the drop that way, e.g.
 * `ndcg@20 0.0522 vs baseline 0.0591: dropped 11.7% (allowed 10%) (--max-drop)`.
 */
export function describeFailure(c: GateCheck): string {
  const worse = lowerIsBetter(c.metric) ? 'rose' : 'dropped';
  if (c.kind === 'fail_under') {
    const where = lowerIsBetter(c.metric) ? 'above the ceiling' : 'below the floor';
    if (Number.isNaN(c.value)) return `${c.metric} NaN is not a number, so not within the limit ${c.threshold} (--fail-under)`;
    return `${c.metric} ${shownBeyond(c.value, formatMetric(c.value), c.threshold, lowerIsBetter(c.metric))} is ${where} ${c.threshold} (--fail-under)`;
  }
  const base = c.baseline ?? Number.NaN;
  const drop = c.drop ?? Number.NaN;
  const head = `${c.metric} ${formatMetric(c.value)} vs baseline ${formatMetric(base)}`;
  if (Number.isNaN(drop)) return `${head}: cannot be compared (allowed ${c.threshold}${c.percent ? '%' : ''}) (--max-drop)`;
  if (!c.percent) return `${head}: ${worse} ${shownBeyond(drop, formatMetric(drop), c.threshold)} (allowed ${c.threshold}) (--max-drop)`;
  // A share of a zero baseline allows no drop at all; a percentage of it means nothing.
  if (base === 0) return `${head}: ${worse} ${formatMetric(drop)} (allowed ${c.threshold}% of 0, i.e. none) (--max-drop)`;
  const share = (100 * drop) / Math.abs(base);
  return `${head}: ${worse} ${shownBeyond(share, share.toFixed(1), c.threshold)}% (allowed ${c.threshold}%) (--max-drop)`;
}

function formatMetric(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  return Math.abs(x) >= 0.001 || x === 0 ? x.toFixed(4) : x.toPrecision(3);
}

/**
 * `x` as usually formatted (`shown`), or with as many more decimals as it takes to read on the
 * failing side of `limit` (above it, or below it when `!above`): a drop of 10.04 % against 10 %
 * reads "10.04%", not "10.0%".
 */
function shownBeyond(x: number, shown: string, limit: number, above = true): string {
  const beyond = (s: string) => (above ? Number(s) > limit : Number(s) < limit);
  if (beyond(shown)) return shown;
  const decimals = /\.(\d+)$/.exec(shown)?.[1].length ?? 0;
  for (let digits = decimals + 1; digits <= 20; digits++) {
    const more = x.toFixed(digits);
    if (beyond(more)) return more;
  }
  return String(x);
}
