/**
 * `rec report STUDY`: the page of a `rec tune` study (docs/tuning.md): the validation metric by
 * trial, the best so far against wall time, the metric against each searched parameter, and the
 * trials best first. Pure: the caller reads study.json and trials.jsonl (src/io/study.ts).
 */
import type { SpaceParam, StudyJson, TrialRecord } from '../io/study.js';
import { formatNumber } from '../util/format.js';
import { escapeXml as esc, lineChartSvg, type ChartSeries } from './svg-chart.js';

const STYLE = `
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px;color:#222;max-width:1240px}
h1{font-size:22px}h2{font-size:18px;border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:32px}
table{border-collapse:collapse;font-size:12px;margin:6px 0 12px}th,td{border:1px solid #ddd;padding:3px 7px;text-align:right;white-space:nowrap}
th{background:#f5f5f5}td.k{text-align:left;white-space:normal}.note{color:#666;font-size:12px}.charts{display:flex;flex-wrap:wrap;gap:12px}
tr.best td{background:#e6f4ea;font-weight:700}.scroll{overflow-x:auto}
`;

const num = (v: number | null | undefined): string => (typeof v === 'number' && Number.isFinite(v) ? formatNumber(v, 'compact') : '–');

/** Trials best first by validation (completed, then pruned, then the rest), ties by trial. */
export function sortTrials(trials: readonly TrialRecord[], higherIsBetter: boolean): TrialRecord[] {
  const rank = (r: TrialRecord) => (r.status === 'completed' && r.value !== null ? 0 : r.status === 'pruned' && r.value !== null ? 1 : 2);
  return [...trials].sort((a, b) => rank(a) - rank(b) || (a.value !== null && b.value !== null ? (higherIsBetter ? b.value - a.value : a.value - b.value) : 0) || a.trial - b.trial);
}

/** [minutes since the study began, best completed value so far] at each trial's end. */
export function bestOverTime(study: Pick<StudyJson, 'started' | 'higher_is_better'>, trials: readonly TrialRecord[]): [number, number][] {
  const t0 = Date.parse(study.started);
  const done = trials.filter((r) => r.status === 'completed' && r.value !== null).sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
  const out: [number, number][] = [];
  let best = Number.NaN;
  for (const r of done) {
    const v = r.value as number;
    if (Number.isNaN(best) || (study.higher_is_better ? v > best : v < best)) best = v;
    out.push([(Date.parse(r.at) - t0) / 60000, best]);
  }
  return out;
}

function byStatus(trials: readonly TrialRecord[], x: (r: TrialRecord) => number): ChartSeries[] {
  return (['completed', 'pruned'] as const)
    .map((status) => ({ name: status, points: trials.filter((r) => r.status === status && r.value !== null).map((r) => [x(r), r.value as number] as const) }))
    .filter((s) => s.points.length > 0);
}

function paramChart(p: SpaceParam, trials: readonly TrialRecord[], metric: string): string {
  const log = p.kind === 'log_uniform' || (p.kind === 'int' && p.log === true);
  const values = p.values ?? [];
  const x = (r: TrialRecord): number => {
    const v = r.params[p.key];
    if (p.kind === 'choice') return values.findIndex((c) => c === v);
    return log ? Math.log10(v as number) : (v as number);
  };
  const label = p.kind === 'choice' ? `${p.key} (${values.map((v, i) => `${i}: ${String(v)}`).join(', ')})` : log ? `log10 ${p.key}` : p.key;
  return lineChartSvg({ title: `${metric} against ${p.key}`, xLabel: label, yLabel: `valid ${metric}`, series: byStatus(trials, x), points: true, integerX: p.kind === 'choice', width: 400, height: 260 });
}

export function renderStudyReport(study: StudyJson, trials: readonly TrialRecord[], meta: { generated: string; recVersion: string; path: string }): string {
  const m = study.metric;
  const sorted = sortTrials(trials, study.higher_is_better);
  const keys = study.space.params.map((p) => p.key);
  const c = study.counts;
  const head = [
    `<h1>rec tune: ${esc(meta.path)}</h1>`,
    `<p class="note">generated ${esc(meta.generated)} by rec ${esc(meta.recVersion)}</p>`,
    `<p>${esc(study.model)} on <code>${esc(study.data)}</code>; ${esc(study.sampler)} sampler, ${esc(study.pruner)} pruning, seed ${study.seed}; ${c.completed} completed, ${c.pruned} pruned, ${c.failed} failed${c.running ? `, ${c.running} running` : ''}; status ${esc(study.status)}.</p>`,
    study.best ? `<p><b>Best trial ${study.best.trial}</b>: validation ${esc(m)} ${num(study.best.value)} at epoch ${study.best.epoch ?? '–'} (<code>best.yaml</code>).</p>` : '<p>No completed trial yet.</p>',
    study.test ? `<p><b>Test</b> (trial ${study.test.trial}, evaluated ${study.test.evaluations === 1 ? 'once' : `${study.test.evaluations} times`}): ${Object.entries(study.test.metrics).map(([k, v]) => `${esc(k)} ${num(v)}`).join(', ')}</p>` : '',
    `<p class="note">${esc(study.honesty)}</p>`,
  ];
  const charts = [
    lineChartSvg({ title: `validation ${m} by trial`, xLabel: 'trial', yLabel: `valid ${m}`, series: byStatus(trials, (r) => r.trial), points: true, integerX: true, width: 400, height: 260 }),
    lineChartSvg({ title: `best ${m} so far`, xLabel: 'minutes since the study began', yLabel: `best valid ${m}`, series: [{ name: 'best so far', points: bestOverTime(study, trials) }], width: 400, height: 260 }),
    ...study.space.params.map((p) => paramChart(p, trials, m)),
  ];
  const rows = sorted.map((r) => {
    const cls = study.best?.trial === r.trial ? ' class="best"' : '';
    const cells = [String(r.trial), r.status, num(r.value), String(r.epochs), num(r.seconds), ...keys.map((k) => esc(String(r.params[k] ?? '–'))), `<td class="k">${esc(r.message ?? r.reason ?? (r.stopped ? 'stopped by --budget' : ''))}</td>`];
    return `<tr${cls}>${cells.map((x) => (x.startsWith('<td') ? x : `<td>${x}</td>`)).join('')}</tr>`;
  });
  const header = ['trial', 'status', `valid ${m}`, 'epochs', 'seconds', ...keys, 'note'].map((h) => `<th>${esc(h)}</th>`).join('');
  const body = [...head, '<h2>Search</h2>', `<div class="charts">${charts.join('')}</div>`, '<h2>Trials, best first</h2>', `<div class="scroll"><table><thead><tr>${header}</tr></thead><tbody>${rows.join('')}</tbody></table></div>`].join('\n');
  return `<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>rec tune: ${esc(meta.path)}</title><style>${STYLE}</style></head>\n<body>\n${body}\n</body></html>\n`;
}
