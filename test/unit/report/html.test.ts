import { describe, expect, it } from 'vitest';
import { bestIndexes, renderReport } from '../../../src/report/html.js';
import { lowerIsBetter } from '../../../src/util/metric-direction.js';
import type { EvalResult, ReportRun } from '../../../src/report/read.js';

const LIKE = 'dataset aaaa1111bbbb, split test, protocol full';
function evalResult(metrics: Record<string, number>, over: Partial<EvalResult> = {}): EvalResult {
  return { name: 'test-full', split: 'test', protocol: 'full', metrics, usersEvaluated: 3, like: LIKE, dataSha: 'aaaa1111bbbb2222', gate: null, ...over };
}

function run(label: string, over: Partial<ReportRun> = {}): ReportRun {
  return {
    path: `/ckpt/${label}`,
    label,
    model: 'mf',
    loss: 'bce',
    feedback: 'implicit',
    engine: 'cpu',
    seed: 2020,
    status: 'completed',
    started: '2026-01-01T00:00:00.000Z',
    trainSeconds: 1.5,
    argv: ['train', '--out', label],
    versions: { rec: '0.1.0' },
    config: [['train.lr', '0.01', 'flag:--lr'], ['train.epochs', '2', 'default']],
    datasetPath: '/data/shop',
    datasetSha: 'aaaa1111bbbb2222',
    gate: null,
    promotion: null,
    data: { path: '/data/shop', rows: { read: 10, rejected: 2, accepted: 8, deduplicated: 0, filtered: 0, train: 6, valid: 1, test: 1 }, rejectedByReason: { missing_user: 2 }, users: 3, items: 4 },
    dataNote: null,
    epochs: [
      { epoch: 1, loss: 0.7, seconds: 0.2, examplesPerS: 1000, valid: { 'ndcg@10': 0.1 } },
      { epoch: 2, loss: 0.5, seconds: 0.3, examplesPerS: 900, valid: { 'ndcg@10': 0.2 } },
    ],
    best: { metric: 'ndcg@10', value: 0.2, epoch: 2 },
    evals: [evalResult({ 'ndcg@10': 0.25, rmse: 1.1 })],
    parents: [],
    ...over,
  };
}

const META = { generated: '2026-01-01T00:00:00.000Z', recVersion: '0.1.0' };

/** The text of each `td.best` cell of the table under the heading containing `heading`. */
function bestCells(html: string, heading: string): string[] {
  const start = html.indexOf(heading);
  const table = html.slice(start, html.indexOf('</table>', start));
  return [...table.matchAll(/<td class="best"[^>]*>([^<]*)<\/td>/g)].map((m) => m[1]);
}

describe('bestIndexes / lowerIsBetter', () => {
  it('takes the max, or the min for error metrics, with ties all marked', () => {
    expect([...bestIndexes([0.1, 0.3, 0.3, null], false)]).toEqual([1, 2]);
    expect([...bestIndexes([1.2, 0.9, null], true)]).toEqual([1]);
    expect(lowerIsBetter('rmse')).toBe(true);
    expect(lowerIsBetter('ndcg@10')).toBe(false);
  });
  it('marks nothing when only one value competes', () => {
    expect(bestIndexes([0.5, null], false).size).toBe(0);
  });
});

describe('renderReport', () => {
  it('one checkpoint: config, data, curves and eval, no comparison, nothing external', () => {
    const html = renderReport([run('a')], META);
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(html).not.toContain('id="comparison"');
    expect(html).toContain('train.lr');
    expect(html).toContain('flag:--lr');
    expect(html).toContain('missing_user');
    expect(html.match(/<svg /g)?.length).toBe(3);
    expect(html).not.toMatch(/\b(src|href)="(https?:)?\/\//);
    expect(html).not.toContain('<script');
  });

  it('several checkpoints: overlaid curves and the best per column marked (max for ndcg, min for rmse)', () => {
    const a = run('a');
    const b = run('b', {
      trainSeconds: 1,
      epochs: [{ epoch: 1, loss: 0.4, seconds: 0.1, examplesPerS: 2000, valid: { 'ndcg@10': 0.3 } }],
      best: { metric: 'ndcg@10', value: 0.3, epoch: 1 },
      evals: [evalResult({ 'ndcg@10': 0.2, rmse: 0.9 })],
    });
    const html = renderReport([a, b], META);
    expect(html).toContain('id="comparison"');
    // One overlaid chart per kind, each with both runs in its legend.
    const overlaid = html.slice(html.indexOf('id="comparison"'), html.indexOf('<h3>Training</h3>'));
    expect(overlaid.match(/<svg /g)?.length).toBe(3);
    expect(overlaid.match(/>a<\/text>/g)?.length).toBe(3);
    expect(overlaid.match(/>b<\/text>/g)?.length).toBe(3);
    // Eval table columns are sorted: ndcg@10 (a best, 0.25) then rmse (b best, 0.9).
    const evalTable = html.slice(html.indexOf('<h3>Eval <code>test-full'));
    const rows = evalTable.slice(0, evalTable.indexOf('</table>')).split('<tr>').slice(2);
    expect(rows[0]).toMatch(/<td class="best"[^>]*>0.25 ★<\/td><td>1.1<\/td>/);
    expect(rows[1]).toMatch(/<td>0.2<\/td><td class="best"[^>]*>0.9 ★<\/td>/);
    // Training table: b has the lower final loss, the shorter training and the higher best validation.
    expect(bestCells(html, '<h3>Training</h3>')).toEqual(['0.4 ★', '1 ★', '0.3 ★']);
  });

  it('stars only among alike checkpoints: another test day, dataset or loss competes with none, and a note says so', () => {
    const a = run('a');
    const b = run('b', { trainSeconds: 1, evals: [evalResult({ 'ndcg@10': 0.2, rmse: 0.9 })], epochs: [{ epoch: 1, loss: 0.4, seconds: 0.1, examplesPerS: 2000, valid: { 'ndcg@10': 0.3 } }], best: { metric: 'ndcg@10', value: 0.3, epoch: 1 } });
    // c: the next night, trained and tested on its own dataset (and with another loss): better numbers, not comparable.
    const c = run('c', {
      datasetSha: 'cccc3333dddd4444',
      loss: 'bpr',
      epochs: [{ epoch: 1, loss: 0.1, seconds: 0.1, examplesPerS: 2000, valid: { 'ndcg@10': 0.9 } }],
      best: { metric: 'ndcg@10', value: 0.9, epoch: 1 },
      trainSeconds: 0.5,
      evals: [evalResult({ 'ndcg@10': 0.8, rmse: 0.1 }, { like: 'dataset cccc3333dddd, split test, protocol full', dataSha: 'cccc3333dddd4444' })],
    });
    const html = renderReport([a, b, c], META);
    // a and b share a dataset: only they compete (c's better numbers are from another day and loss).
    expect(bestCells(html, '<h3>Training</h3>')).toEqual(['0.4 ★', '1 ★', '0.3 ★']);
    expect(bestCells(html, '<h3>Eval <code>test-full')).toEqual(['0.25 ★', '0.9 ★']);
    expect(html).toMatch(/Trained on different datasets \(dataset aaaa1111bbbb: a, b; dataset cccc3333dddd: c\)/);
    expect(html).toMatch(/Final losses of different loss functions or datasets do not compare \(dataset aaaa1111bbbb, loss bce: a, b; dataset cccc3333dddd, loss bpr: c\)/);
    expect(html).toMatch(/Not measured on the same thing \(dataset aaaa1111bbbb, split test, protocol full: a, b; dataset cccc3333dddd, split test, protocol full: c\)/);
    const evalRows = html.slice(html.indexOf('<h3>Eval <code>test-full')).split('<tr>');
    expect(evalRows[1]).toContain('<th>evaluated on</th>');
    // Alike checkpoints get no such note.
    const alike = renderReport([a, b], META);
    expect(alike).not.toMatch(/class="note differ"/);
    expect(alike).not.toContain('evaluated on');
  });

  it('shows the gate (pass/fail against which baseline) and production status, per checkpoint and compared', () => {
    const gate = { file: 'eval-test-full.json', passed: false, created: '2026-06-02T03:20:00.000Z', baseline: '/n/checkpoints/d1', baseline_pointer: '/n/production', baseline_weights_sha256: 'ab', baseline_is_production: true, checks: ['ndcg@10 dropped 11.7% (allowed 10%)'], failed: ['ndcg@10 dropped 11.7% (allowed 10%)'] };
    const prod = { production: true, links: ['/n/production'], promoted_at: '2026-06-01T03:25:00.000Z', forced: false, eval: 'eval-test-full.json' };
    const html = renderReport([run('d1', { promotion: prod }), run('d2', { gate, promotion: { production: false, links: [], promoted_at: null, forced: null, eval: null } })], META);
    const compared = html.slice(html.indexOf('<h3>Gate and production</h3>'), html.indexOf('<h3>Training</h3>'));
    expect(compared).toContain('production since 2026-06-01T03:25:00.000Z (gate eval-test-full.json) (/n/production)');
    expect(compared).toContain('FAIL vs /n/checkpoints/d1 (as /n/production, the current production): ndcg@10 dropped 11.7% (allowed 10%) [eval-test-full.json, 2026-06-02T03:20:00.000Z]');
    expect(compared).toContain('not production');
    const section = html.slice(html.indexOf('id="run-2"'));
    expect(section).toMatch(/<td class="k">gate<\/td><td>FAIL vs/);
    expect(renderReport([run('x')], META)).toContain('no production link found next to it');
  });

  it('a fine-tuned checkpoint links its parent when the parent is in the report, and names it otherwise', () => {
    const parent = run('gmf');
    const child = run('neumf', {
      parents: [
        { path: '/ckpt/gmf', model: 'gmf', epoch: 2, readable: true, best: { metric: 'ndcg@10', value: 0.2, epoch: 2 }, evals: [evalResult({ 'hr@10': 0.61 })] },
        { path: '/elsewhere/mlp', model: 'mlp', epoch: 5, readable: false, best: null, evals: [] },
      ],
    });
    const html = renderReport([parent, child], META);
    const section = html.slice(html.indexOf('id="run-2"'));
    expect(section).toContain('Fine-tuned from');
    expect(section).toContain('<a href="#run-1">gmf</a>');
    expect(section).toContain('<code>/elsewhere/mlp</code>');
    expect(section).toContain('best valid ndcg@10 0.2 (epoch 2); test-full: hr@10 0.61');
    expect(section).toContain('folder not readable here');
  });

  it('escapes what comes from the user files', () => {
    const html = renderReport([run('<b>x</b>', { config: [['train.x', '"<script>"', 'flag:--x']] })], META);
    expect(html).not.toContain('<b>x</b>');
    expect(html).not.toContain('<script>');
    expect(html).toContain('&lt;b&gt;x&lt;/b&gt;');
  });

  it('says why there is no data summary', () => {
    const html = renderReport([run('a', { data: null, dataNote: 'dataset folder not reachable here' })], META);
    expect(html).toContain('dataset folder not reachable here');
  });
});
