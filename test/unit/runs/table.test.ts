import { describe, expect, it } from 'vitest';
import type { RunRow } from '../../../src/io/runs.js';
import type { GateSummary } from '../../../src/io/standing.js';
import { formatAge, formatRunsTable, gateCell, parseSortKey, productionCell, sortRuns } from '../../../src/runs/table.js';

function row(name: string, over: Partial<RunRow> = {}): RunRow {
  return {
    name,
    path: `/ck/${name}`,
    status: 'completed',
    reason: null,
    model: 'mf',
    dataset: { path: '/data/shop', manifest_sha256: 'abcdef0123456789', manifest_short: 'abcdef01' },
    epochs: 3,
    best: null,
    evals: [],
    parents: [],
    started: null,
    finished: null,
    age_seconds: 120,
    wall_seconds: 10,
    train_seconds: 8,
    gate: null,
    promotion: { production: false, links: [], promoted_at: null, forced: null, eval: null },
    link_to: null,
    ...over,
  };
}

const valid = (v: Record<string, number>, metric = 'ndcg@10'): RunRow['best'] => ({ epoch: 2, metric, value: v[metric] ?? null, valid: v });
const evalOf = (metrics: Record<string, number>, protocol = 'sampled100'): RunRow['evals'] => [
  { file: `eval-test-${protocol}.json`, split: 'test', protocol, metrics, created: null, data_manifest_sha256: null, gate: null },
];
const gate = (over: Partial<GateSummary> = {}): GateSummary => ({
  file: 'eval-test-full.json',
  passed: true,
  created: '2026-06-02T03:20:00.000Z',
  baseline: '/nightly/checkpoints/2026-06-01',
  baseline_pointer: '/nightly/production',
  baseline_weights_sha256: 'ab',
  baseline_is_production: true,
  checks: ['ndcg@10 dropped 2% (allowed 10%)'],
  failed: [],
  ...over,
});

describe('parseSortKey', () => {
  it('reads validation metrics, eval keys and columns', () => {
    expect(parseSortKey('ndcg@10')).toEqual({ kind: 'valid', metric: 'ndcg@10' });
    expect(parseSortKey('eval:test:sampled100:hr@10')).toEqual({ kind: 'eval', split: 'test', protocol: 'sampled100', metric: 'hr@10' });
    expect(parseSortKey('age')).toEqual({ kind: 'field', field: 'age' });
  });

  it.each(['eval:test:hr@10', 'eval:test::hr@10', 'eval:a:b:c:d'])('refuses the malformed eval key %s, naming the expected form', (key) => {
    expect(() => parseSortKey(key)).toThrow(/--sort: .* is not an eval key\. Expected eval:SPLIT:PROTOCOL:METRIC/);
  });

  it.each(['', 'a b', 'test:hr@10'])('refuses %j', (key) => {
    expect(() => parseSortKey(key)).toThrow(/--sort: .* is not a sort key/);
  });
});

describe('sortRuns', () => {
  const rows = [
    row('none'),
    row('low', { best: valid({ 'ndcg@10': 0.1, rmse: 0.95 }), evals: evalOf({ 'hr@10': 0.5 }) }),
    row('high', { best: valid({ 'ndcg@10': 0.3, rmse: 0.9 }) }),
    row('mid', { best: valid({ 'ndcg@10': 0.2 }), evals: evalOf({ 'hr@10': 0.7 }) }),
  ];
  const names = (rs: RunRow[]) => rs.map((r) => r.name);

  it('ranking metrics: highest first, runs without the metric last', () => {
    expect(names(sortRuns(rows, parseSortKey('ndcg@10')))).toEqual(['high', 'mid', 'low', 'none']);
  });

  it('error metrics: lowest first; missing stays last', () => {
    expect(names(sortRuns(rows, parseSortKey('rmse')))).toEqual(['high', 'low', 'none', 'mid']);
  });

  it('reverse flips the rows with a value and keeps missing ones last', () => {
    expect(names(sortRuns(rows, parseSortKey('ndcg@10'), true))).toEqual(['low', 'mid', 'high', 'none']);
  });

  it('eval keys match split and protocol', () => {
    expect(names(sortRuns(rows, parseSortKey('eval:test:sampled100:hr@10')))).toEqual(['mid', 'low', 'none', 'high']);
    expect(names(sortRuns(rows, parseSortKey('eval:test:full:hr@10')))).toEqual(['none', 'low', 'high', 'mid']);
  });

  it('columns: age youngest first, epochs most first, names A to Z; ties keep their order', () => {
    const rs = [row('b', { age_seconds: 50, epochs: 1 }), row('a', { age_seconds: 10, epochs: 1 }), row('c', { age_seconds: null, epochs: 5 })];
    expect(names(sortRuns(rs, parseSortKey('age')))).toEqual(['a', 'b', 'c']);
    expect(names(sortRuns(rs, parseSortKey('epochs')))).toEqual(['c', 'b', 'a']);
    expect(names(sortRuns(rs, parseSortKey('name')))).toEqual(['a', 'b', 'c']);
  });
});

describe('formatting', () => {
  it('ages in the largest whole unit', () => {
    expect([0, 59, 60, 3599, 3600, 86_399, 86_400, null].map(formatAge)).toEqual(['0s', '59s', '1m', '59m', '1h', '23h', '1d', '-']);
  });

  it('aligns the columns, shows headline metrics, parents and reasons', () => {
    const text = formatRunsTable([
      row('shop/neumf', { best: valid({ 'ndcg@10': 0.41234, 'recall@10': 0.6 }), evals: evalOf({ 'hr@10': 0.7, 'ndcg@10': 0.45, mrr: 0.3 }), parents: [{ path: '/ck/shop/gmf', model: 'gmf', epoch: 4 }] }),
      row('x', { status: 'invalid', reason: '/ck/x/run.json is not valid JSON', model: null, dataset: null, epochs: null, age_seconds: null, train_seconds: null }),
    ]);
    const lines = text.split('\n');
    expect(lines[0]).toBe('RUN         STATUS     PRODUCTION  GATE  MODEL  DATASET              EPOCHS  BEST VALID             EVAL                                    PARENT      AGE  TRAIN S');
    expect(lines[1]).toBe('shop/neumf  completed  -           -     mf     /data/shop@abcdef01  3       ndcg@10=0.4123 (ep 2)  test/sampled100 ndcg@10=0.45 hr@10=0.7  …/shop/gmf  2m   8');
    expect(lines[2]).toBe('x           invalid    -           -     -      -                    -       -                      -                                       -           -    -');
    expect(lines.slice(3)).toEqual(['', 'x: invalid: /ck/x/run.json is not valid JSON']);
  });

  it('production: yes since when, was (promoted once), or the link itself pointing at its checkpoint', () => {
    const prod = { production: true, links: ['/nightly/production'], promoted_at: '2026-06-02T03:25:10.000Z', forced: false, eval: 'eval-test-full.json' };
    expect(productionCell(row('n2', { promotion: prod }))).toBe('yes since 2026-06-02 03:25');
    expect(productionCell(row('production', { promotion: prod, link_to: 'checkpoints/n2' }))).toBe('→ checkpoints/n2');
    expect(productionCell(row('n1', { promotion: { ...prod, production: false, links: [], forced: true } }))).toBe('was on 2026-06-02 03:25 (forced)');
    expect(productionCell(row('n0'))).toBe('-');
  });

  it('gate: pass or FAIL, against which baseline (and whether it is still production), the first failed check', () => {
    expect(gateCell(row('a', { gate: gate() }))).toBe('pass vs …/checkpoints/2026-06-01 (production)');
    const failed = gate({ passed: false, baseline_is_production: false, failed: ['ndcg@10 dropped 11.7% (allowed 10%)', 'hr@10 dropped 12% (allowed 10%)'] });
    expect(gateCell(row('a', { gate: failed }))).toBe('FAIL vs …/checkpoints/2026-06-01 (not production now): ndcg@10 dropped 11.7% (allowed 10%) (+1)');
    expect(gateCell(row('a', { gate: gate({ baseline: null, baseline_is_production: null }) }))).toBe('pass (floors only)');
    expect(gateCell(row('a'))).toBe('-');
  });

  it('cuts each line to the terminal width', () => {
    const lines = formatRunsTable([row('a')], 30).split('\n');
    expect(lines.every((l) => l.length <= 30)).toBe(true);
    expect(lines[0].endsWith('…')).toBe(true);
  });

  it('says so when there are no checkpoints', () => {
    expect(formatRunsTable([])).toBe('no checkpoints found');
  });
});
