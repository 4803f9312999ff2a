/**
 * `rec runs`: sorting the rows by a metric and drawing them as an aligned text table. Pure
 * functions over the rows that src/io/runs.ts reads.
 *
 * Sort keys (`--sort`), best first; rows without the value always go last:
 *   METRIC                        a validation metric of the best epoch (best.json `valid`), e.g. ndcg@10, rmse
 *   eval:SPLIT:PROTOCOL:METRIC    a metric of eval-SPLIT-PROTOCOL.json, e.g. eval:test:sampled100:hr@10
 *   name | model | status | epochs | age | wall_seconds | train_seconds
 * "Best" is higher for metrics except the error metrics (rmse, mae), lower for age and seconds,
 * and A→Z for names; `reverse` flips the order of the rows that have a value.
 */
import { lowerIsBetter } from '../eval/metrics/registry.js';
import type { RunRow } from '../io/runs.js';
import { describeValue, UsageError } from '../util/errors.js';
import { formatNumber } from '../util/format.js';

const FIELDS = ['name', 'model', 'status', 'epochs', 'age', 'wall_seconds', 'train_seconds'] as const;
type Field = (typeof FIELDS)[number];

export type SortKey =
  | { kind: 'field'; field: Field }
  | { kind: 'valid'; metric: string }
  | { kind: 'eval'; split: string; protocol: string; metric: string };

export const SORT_HELP = 'METRIC (validation, e.g. ndcg@10), eval:SPLIT:PROTOCOL:METRIC (e.g. eval:test:sampled100:hr@10), or one of name, model, status, epochs, age, wall_seconds, train_seconds';

export function parseSortKey(text: string): SortKey {
  if ((FIELDS as readonly string[]).includes(text)) return { kind: 'field', field: text as Field };
  if (text.startsWith('eval:')) {
    const parts = text.split(':');
    if (parts.length !== 4 || parts.slice(1).some((p) => p === '')) {
      throw new UsageError(`--sort: ${describeValue(text)} is not an eval key. Expected eval:SPLIT:PROTOCOL:METRIC, e.g. eval:test:sampled100:hr@10 or eval:test:full:ndcg@10.`);
    }
    return { kind: 'eval', split: parts[1], protocol: parts[2], metric: parts[3] };
  }
  if (text === '' || /[\s:]/.test(text)) throw new UsageError(`--sort: ${describeValue(text)} is not a sort key. Expected ${SORT_HELP}.`);
  return { kind: 'valid', metric: text };
}

/** The row's value for `key`, or null when it has none. */
export function sortValue(row: RunRow, key: SortKey): number | string | null {
  if (key.kind === 'valid') return row.best?.valid[key.metric] ?? null;
  if (key.kind === 'eval') return row.evals.find((e) => e.split === key.split && e.protocol === key.protocol)?.metrics[key.metric] ?? null;
  switch (key.field) {
    case 'age':
      return row.age_seconds;
    case 'epochs':
      return row.epochs;
    case 'wall_seconds':
      return row.wall_seconds;
    case 'train_seconds':
      return row.train_seconds;
    default:
      return row[key.field];
  }
}

/** Whether smaller values sort first for `key`. */
function ascending(key: SortKey): boolean {
  if (key.kind === 'field') return key.field !== 'epochs';
  return lowerIsBetter(key.metric);
}

/** The rows, best first by `key` (a stable sort: ties keep their order); missing values last. */
export function sortRuns(rows: readonly RunRow[], key: SortKey, reverse = false): RunRow[] {
  const sign = (ascending(key) ? 1 : -1) * (reverse ? -1 : 1);
  return rows
    .map((row, i) => ({ row, i, v: sortValue(row, key) }))
    .sort((a, b) => {
      if (a.v === null || b.v === null) return a.v === null && b.v === null ? a.i - b.i : a.v === null ? 1 : -1;
      const c = typeof a.v === 'number' && typeof b.v === 'number' ? a.v - b.v : String(a.v).localeCompare(String(b.v));
      return c !== 0 ? sign * c : a.i - b.i;
    })
    .map((x) => x.row);
}

export function formatAge(seconds: number | null): string {
  if (seconds === null) return '-';
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)}h`;
  return `${Math.floor(seconds / 86_400)}d`;
}

const HEADLINE = ['ndcg@10', 'hr@10', 'recall@10', 'rmse', 'mae'];

/** The metrics a table cell shows: the headline ones present, else the first two. */
function headline(metrics: Record<string, number>): string {
  const keys = HEADLINE.filter((k) => k in metrics);
  const shown = keys.length > 0 ? keys : Object.keys(metrics).sort().slice(0, 2);
  return shown.map((k) => `${k}=${formatNumber(metrics[k])}`).join(' ');
}

function bestCell(row: RunRow): string {
  const b = row.best;
  if (!b) return '-';
  if (b.metric !== null && b.value !== null) return `${b.metric}=${formatNumber(b.value)}${b.epoch !== null ? ` (ep ${b.epoch})` : ''}`;
  const h = headline(b.valid);
  return h || '-';
}

/** The shortest tail of a path that is still recognisable: its last two parts. */
function shortPath(path: string): string {
  const parts = path.split(/[\\/]/).filter(Boolean);
  return parts.length <= 2 ? path : `…/${parts.slice(-2).join('/')}`;
}

/** An ISO time to the minute, in UTC as written (`2026-06-02 03:15`); anything else as it is. */
function minute(iso: string): string {
  return /^\d{4}-\d\d-\d\dT\d\d:\d\d/.test(iso) ? `${iso.slice(0, 10)} ${iso.slice(11, 16)}` : iso;
}

/** Whether production points here (since when), was promoted once, or (for the link itself) where it points. */
export function productionCell(row: RunRow): string {
  if (row.link_to !== null && row.promotion.production) return `→ ${row.link_to}`;
  const p = row.promotion;
  const when = p.promoted_at === null ? '' : ` ${p.production ? 'since' : 'on'} ${minute(p.promoted_at)}${p.forced ? ' (forced)' : ''}`;
  if (p.production) return `yes${when}`;
  return p.promoted_at === null ? '-' : `was${when}`;
}

/** The last gate: passed or failed, against which baseline, and the first failed check. */
export function gateCell(row: RunRow): string {
  const g = row.gate;
  if (g === null) return '-';
  const now = g.baseline_is_production === null ? '' : g.baseline_is_production ? ' (production)' : ' (not production now)';
  const against = g.baseline === null ? ' (floors only)' : ` vs ${shortPath(g.baseline)}${now}`;
  return g.passed ? `pass${against}` : `FAIL${against}: ${g.failed[0] ?? 'no check passed'}${g.failed.length > 1 ? ` (+${g.failed.length - 1})` : ''}`;
}

const HEADERS = ['RUN', 'STATUS', 'PRODUCTION', 'GATE', 'MODEL', 'DATASET', 'EPOCHS', 'BEST VALID', 'EVAL', 'PARENT', 'AGE', 'TRAIN S'];

export function tableCells(row: RunRow): string[] {
  const evals = row.evals.map((e) => `${e.split}/${e.protocol} ${headline(e.metrics)}`.trim()).join('; ');
  return [
    row.name,
    row.status,
    productionCell(row),
    gateCell(row),
    row.model ?? '-',
    row.dataset ? `${shortPath(row.dataset.path)}@${row.dataset.manifest_short}` : '-',
    row.epochs === null ? '-' : String(row.epochs),
    bestCell(row),
    evals || '-',
    row.parents.length ? row.parents.map((p) => shortPath(p.path)).join(', ') : '-',
    formatAge(row.age_seconds),
    row.train_seconds === null ? '-' : formatNumber(Math.round(row.train_seconds * 100) / 100),
  ];
}

/**
 * The rows as an aligned table, one line each, then the reasons of rows that have one. With a
 * `width` (a terminal's columns) each line is cut to it with `…`, so the table never wraps.
 */
export function formatRunsTable(rows: readonly RunRow[], width: number | null = null): string {
  if (rows.length === 0) return 'no checkpoints found';
  const cells = [HEADERS, ...rows.map(tableCells)];
  const widths = HEADERS.map((_, c) => Math.max(...cells.map((r) => r[c].length)));
  const fit = (line: string) => (width !== null && width > 1 && line.length > width ? `${line.slice(0, width - 1)}…` : line);
  const lines = cells.map((r) => fit(r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]))).join('  ').trimEnd()));
  const notes = rows.filter((r) => r.reason !== null).map((r) => fit(`${r.name}: ${r.status}: ${r.reason}`));
  return [...lines, ...(notes.length ? ['', ...notes] : [])].join('\n');
}
