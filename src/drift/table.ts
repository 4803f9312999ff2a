/** The human table of `rec drift` (stdout; --json prints the DriftResult instead). */
import { describeDriftFailure } from './gate.js';
import type { DriftResult, ProfileSummary } from './run.js';
import type { DriftMetric } from './metrics.js';
import { plural } from '../util/plural.js';

function num(x: number | null, digits = 4): string {
  if (x === null) return 'n/a';
  return Number.isInteger(x) ? String(x) : x.toFixed(digits);
}

function side(name: string, p: ProfileSummary): string {
  const span = p.min_iso !== null && p.max_iso !== null ? `, ${p.min_iso} … ${p.max_iso}` : '';
  return `${name} ${p.kind} ${p.source}: ${plural(p.rows, 'row')}, ${plural(p.users, 'user')}, ${plural(p.items, 'item')}${span}`;
}

const ORDER: readonly DriftMetric[] = ['new_users', 'new_items', 'new_user_ids', 'new_item_ids', 'top100_overlap', 'js_items', 'js_events', 'volume_ratio'];

export function formatDriftTable(r: DriftResult): string {
  const lines = [side('OLD', r.old), side('NEW', r.new), ''];
  const limitOf = (m: DriftMetric): string =>
    r.checks
      .filter((c) => c.metric === m)
      .map((c) => `${c.op === 'over' ? '≤' : '≥'} ${num(c.limit)} ${c.passed === null ? 'not checked' : c.passed ? 'ok' : 'FAILED'}`)
      .join('; ');
  lines.push(`${'metric'.padEnd(16)}${'value'.padStart(12)}   limit`);
  for (const m of ORDER) {
    const note = m === 'volume_ratio' ? ` (${r.volume_basis === 'rows_per_day' ? 'rows per day' : 'rows'})` : '';
    lines.push(`${m.padEnd(16)}${num(r.metrics[m]).padStart(12)}   ${limitOf(m)}${note}`);
  }
  const failed = r.checks.filter((c) => c.passed === false);
  if (r.checks.length > 0) lines.push('', failed.length === 0 ? 'drift gates passed' : `drift gates FAILED: ${failed.map(describeDriftFailure).join('; ')}`);
  return lines.join('\n');
}
