/**
 * `rec drift --fail-over METRIC=V[,METRIC=V]` / `--fail-under METRIC=V`: limits on the drift
 * metrics, so a nightly job stops on a broken upstream log before it trains (exit 3).
 */
import { UsageError, describeValue } from '../util/errors.js';
import { DRIFT_METRICS, type DriftMetric, type DriftMetrics } from './metrics.js';

export interface DriftLimit {
  metric: DriftMetric;
  /** `over`: fails when the value is above the limit; `under`: below it. */
  op: 'over' | 'under';
  limit: number;
}

export interface DriftCheck extends DriftLimit {
  value: number | null;
  /** False when the limit is crossed; null when the metric has no value here (e.g. js_events without events). */
  passed: boolean | null;
}

/** Parses every occurrence of a flag (each `METRIC=V[,METRIC=V]`); unknown metrics list the valid ones. */
export function parseDriftLimits(values: readonly string[], op: 'over' | 'under'): DriftLimit[] {
  const flag = op === 'over' ? '--fail-over' : '--fail-under';
  const out: DriftLimit[] = [];
  for (const value of values) {
    for (const part of value.split(',')) {
      const eq = part.indexOf('=');
      const name = (eq > 0 ? part.slice(0, eq) : part).trim();
      const text = eq > 0 ? part.slice(eq + 1).trim() : '';
      if (!(DRIFT_METRICS as readonly string[]).includes(name)) {
        throw new UsageError(`${flag} ${value}: unknown metric ${describeValue(name)}. Expected METRIC=VALUE with METRIC one of ${DRIFT_METRICS.join(', ')}, e.g. ${flag} new_items=0.5,js_items=0.3.`);
      }
      const limit = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text) ? Number(text) : Number.NaN;
      if (!Number.isFinite(limit)) throw new UsageError(`${flag} ${value}: the limit of ${name} is ${describeValue(text)}. Expected a number, e.g. ${name}=0.5.`);
      out.push({ metric: name as DriftMetric, op, limit });
    }
  }
  return out;
}

export function checkDrift(metrics: DriftMetrics, limits: readonly DriftLimit[]): DriftCheck[] {
  return limits.map((l) => {
    const value = metrics[l.metric];
    const passed = value === null ? null : l.op === 'over' ? !(value > l.limit) : !(value < l.limit);
    return { ...l, value, passed };
  });
}

export function describeDriftFailure(c: DriftCheck): string {
  return `${c.metric} = ${c.value === null ? 'null' : fmt(c.value)} is ${c.op === 'over' ? 'over' : 'under'} the limit ${fmt(c.limit)} (--fail-${c.op} ${c.metric}=${c.limit})`;
}

function fmt(x: number): string {
  return Number.isInteger(x) ? String(x) : x.toFixed(4);
}
