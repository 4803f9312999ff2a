/**
 * Quality gates of `rec eval` (PRODUCT §2): `--fail-under METRIC=VALUE` holds a metric to a floor
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

export function describeFailure(c: GateCheck): string {
  if (c.kind === 'fail_under') {
    return `${c.metric} = ${c.value} is ${lowerIsBetter(c.metric) ? 'above the ceiling' : 'below the floor'} ${c.threshold} (--fail-under)`;
  }
  return `${c.metric} = ${c.value} dropped ${c.drop} from the baseline's ${c.baseline}; allowed ${c.threshold}${c.percent ? '%' : ''} (--max-drop)`;
}
