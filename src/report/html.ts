/**
 * The report page: one HTML string with its styles inline and its charts as inline SVG, so the
 * file opens offline, attaches to a ticket or a CI artifact, and needs no script at all. Pure: the
 * caller reads the checkpoints (read.ts) and writes the file (src/io).
 */
import type { EpochPoint, ReportRun } from './read.js';
import { escapeXml as esc, formatNumber, lineChartSvg, type ChartSeries } from './svg-chart.js';

export interface ReportMeta {
  generated: string;
  recVersion: string;
}

/** Error metrics, losses and times: a smaller value is the better one (PRODUCT §2's gate rule). */
export function lowerIsBetter(metric: string): boolean {
  return /^(rmse|mae|mse|loss|seconds|train seconds)$/.test(metric);
}

/** Indexes of the best finite value (all ties), or none when fewer than two values compete. */
export function bestIndexes(values: readonly (number | null)[], lower: boolean): Set<number> {
  const finite = values.map((v, i) => [v, i] as const).filter((e): e is readonly [number, number] => e[0] !== null && Number.isFinite(e[0]));
  if (finite.length < 2) return new Set();
  const target = lower ? Math.min(...finite.map((e) => e[0])) : Math.max(...finite.map((e) => e[0]));
  return new Set(finite.filter((e) => e[0] === target).map((e) => e[1]));
}

const STYLE = `
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px;color:#222;max-width:1240px}
h1{font-size:22px}h2{font-size:18px;border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:32px}h3{font-size:15px;margin-bottom:6px}
table{border-collapse:collapse;font-size:12px;margin:6px 0 12px}th,td{border:1px solid #ddd;padding:3px 7px;text-align:right}
th{background:#f5f5f5}td,th{white-space:nowrap}td.k,th.k,table.kv td{text-align:left;white-space:normal}.scroll{overflow-x:auto}
td.best{background:#e6f4ea;font-weight:700}.note{color:#666;font-size:12px}.charts{display:flex;flex-wrap:wrap;gap:12px}
code{font-size:12px;background:#f5f5f5;padding:1px 4px}details{margin:6px 0}.src{color:#888}
`;

function table(head: readonly string[] | null, rows: readonly (readonly string[])[], firstIsKey = true): string {
  const th = head === null ? '' : `<thead><tr>${head.map((h, i) => `<th${i === 0 && firstIsKey ? ' class="k"' : ''}>${h}</th>`).join('')}</tr></thead>`;
  const body = rows.map((r) => `<tr>${r.map((c, i) => (c.startsWith('<td') ? c : `<td${i === 0 && firstIsKey ? ' class="k"' : ''}>${c}</td>`)).join('')}</tr>`).join('');
  return `<div class="scroll"><table${head === null ? ' class="kv"' : ''}>${th}<tbody>${body}</tbody></table></div>`;
}

function validMetricNames(epochs: readonly EpochPoint[]): string[] {
  return [...new Set(epochs.flatMap((e) => Object.keys(e.valid)))].sort();
}

const anchor = (i: number) => `run-${i + 1}`;

function curves(runs: readonly ReportRun[], overlaid: boolean): string {
  const name = (r: ReportRun, what: string) => (overlaid ? r.label : what);
  const charts: string[] = [];
  const loss: ChartSeries[] = runs.map((r) => ({ name: name(r, 'loss'), points: r.epochs.map((e) => [e.epoch, e.loss]) }));
  charts.push(lineChartSvg({ title: 'training loss', xLabel: 'epoch', yLabel: 'loss', series: loss, integerX: true }));
  const metrics = [...new Set(runs.flatMap((r) => validMetricNames(r.epochs)))].sort();
  if (overlaid) {
    for (const m of metrics) {
      const series = runs.map((r) => ({ name: r.label, points: r.epochs.filter((e) => m in e.valid).map((e) => [e.epoch, e.valid[m]] as const) }));
      charts.push(lineChartSvg({ title: `validation ${m}`, xLabel: 'epoch', yLabel: m, series, integerX: true }));
    }
  } else if (metrics.length) {
    const r = runs[0];
    const series = metrics.map((m) => ({ name: m, points: r.epochs.filter((e) => m in e.valid).map((e) => [e.epoch, e.valid[m]] as const) }));
    charts.push(lineChartSvg({ title: 'validation metrics', xLabel: 'epoch', yLabel: 'value', series, integerX: true }));
  }
  const time = runs.map((r) => ({ name: name(r, 'seconds'), points: r.epochs.filter((e) => e.seconds !== null).map((e) => [e.epoch, e.seconds as number] as const) }));
  charts.push(lineChartSvg({ title: 'epoch time', xLabel: 'epoch', yLabel: 'seconds', series: time, integerX: true }));
  return `<div class="charts">${charts.join('\n')}</div>`;
}

function comparison(runs: readonly ReportRun[]): string {
  const out: string[] = ['<h2 id="comparison">Comparison</h2>', '<h3>Training curves, overlaid</h3>', curves(runs, true)];
  const link = (r: ReportRun, i: number) => `<a href="#${anchor(i)}">${esc(r.label)}</a>`;
  const trainCols: [string, (r: ReportRun) => number | null][] = [
    ['epochs', (r) => r.epochs.length],
    ['final loss', (r) => r.epochs.at(-1)?.loss ?? null],
    ['train seconds', (r) => r.trainSeconds],
  ];
  const bestMetrics = [...new Set(runs.map((r) => r.best?.metric).filter((m): m is string => m !== undefined))].sort();
  for (const m of bestMetrics) trainCols.push([`best valid ${m}`, (r) => (r.best?.metric === m ? r.best.value : null)]);
  out.push('<h3>Training</h3>', metricTable(runs, link, trainCols.map(([h, f]) => [h, f, h === 'epochs' ? null : h.replace(/^best valid /, '').replace(/^final /, '')])));
  const evalNames = [...new Set(runs.flatMap((r) => r.evals.map((e) => e.name)))].sort();
  for (const n of evalNames) {
    const metrics = [...new Set(runs.flatMap((r) => r.evals.filter((e) => e.name === n).flatMap((e) => Object.keys(e.metrics))))].sort();
    const cols = metrics.map((m) => [m, (r: ReportRun) => r.evals.find((e) => e.name === n)?.metrics[m] ?? null, m] as const);
    out.push(`<h3>Eval <code>${esc(n)}</code></h3>`, metricTable(runs, link, cols));
  }
  out.push('<p class="note">Best per column in bold on green (lower is better for rmse, mae, loss and seconds).</p>');
  return out.join('\n');
}

/** `cols`: header, value, and the metric name that decides the direction (null: not compared). */
function metricTable(
  runs: readonly ReportRun[],
  link: (r: ReportRun, i: number) => string,
  cols: readonly (readonly [string, (r: ReportRun) => number | null, string | null])[],
): string {
  const values = cols.map(([, f]) => runs.map(f));
  const best = cols.map(([, , metric], c) => (metric === null ? new Set<number>() : bestIndexes(values[c], lowerIsBetter(metric))));
  const rows = runs.map((r, i) => [
    link(r, i),
    ...cols.map((_, c) => {
      const v = values[c][i];
      const text = v === null ? '—' : formatNumber(v);
      return best[c].has(i) ? `<td class="best" title="best">${text} ★</td>` : `<td>${text}</td>`;
    }),
  ]);
  return table(['checkpoint', ...cols.map(([h]) => esc(h))], rows);
}

function runSection(r: ReportRun, i: number, all: readonly ReportRun[]): string {
  const out: string[] = [`<h2 id="${anchor(i)}">${esc(r.label)} <span class="note">${esc(r.model)}</span></h2>`, `<p class="note"><code>${esc(r.path)}</code></p>`];
  const info: [string, string][] = [
    ['model', r.model],
    ['loss', r.loss],
    ['feedback', r.feedback],
    ['status', r.status],
    ['engine', r.engine],
    ['seed', r.seed === null ? '—' : String(r.seed)],
    ['started', r.started ?? '—'],
    ['train seconds', r.trainSeconds === null ? '—' : formatNumber(r.trainSeconds)],
    ['best validation', r.best ? `${r.best.metric} ${formatNumber(r.best.value)} at epoch ${r.best.epoch}` : '—'],
    ['versions', Object.entries(r.versions).map(([k, v]) => `${k} ${v}`).join(', ')],
    ['command', `rec ${r.argv.join(' ')}`],
  ];
  out.push('<h3>Run</h3>', table(null, info.map(([k, v]) => [esc(k), esc(v)])));
  if (r.parents.length) {
    const rows = r.parents.map((p) => {
      const j = all.findIndex((o) => o.path === p.path);
      const where = j >= 0 ? `<a href="#${anchor(j)}">${esc(all[j].label)}</a>` : `<code>${esc(p.path)}</code>`;
      const results = [
        ...(p.best ? [`best valid ${p.best.metric} ${formatNumber(p.best.value)} (epoch ${p.best.epoch})`] : []),
        ...p.evals.map((e) => `${e.name}: ${Object.entries(e.metrics).sort(([x], [y]) => x.localeCompare(y)).slice(0, 4).map(([k, v]) => `${k} ${formatNumber(v)}`).join(', ')}`),
      ];
      const text = !p.readable ? 'folder not readable here' : results.length ? results.join('; ') : 'no validation or eval results';
      return [where, esc(p.model), p.epoch === null ? '—' : String(p.epoch), `<td class="k">${esc(text)}</td>`];
    });
    out.push('<h3>Fine-tuned from</h3>', table(['parent', 'model', 'weights of epoch', 'parent results'], rows));
  }
  const changed = r.config.filter(([, , src]) => src !== '' && src !== 'default');
  out.push('<h3>Config</h3>');
  if (changed.length) out.push(table(['key', 'value', 'source'], changed.map(([k, v, s]) => [esc(k), `<td class="k">${esc(v)}</td>`, `<td class="k src">${esc(s)}</td>`])));
  else out.push('<p class="note">all defaults</p>');
  out.push(`<details><summary>all ${r.config.length} settings</summary>${table(['key', 'value', 'source'], r.config.map(([k, v, s]) => [esc(k), `<td class="k">${esc(v)}</td>`, `<td class="k src">${esc(s)}</td>`]))}</details>`);
  out.push('<h3>Data</h3>');
  if (r.data) {
    const d = r.data;
    const order = ['read', 'rejected', 'accepted', 'deduplicated', 'filtered', 'train', 'valid', 'test'];
    const keys = [...order.filter((k) => k in d.rows), ...Object.keys(d.rows).filter((k) => !order.includes(k))];
    out.push(`<p class="note"><code>${esc(d.path)}</code>: ${d.users ?? '?'} users, ${d.items ?? '?'} items</p>`);
    out.push(table(keys.map(esc), [keys.map((k) => `<td>${String(d.rows[k])}</td>`)], false));
    const reasons = Object.entries(d.rejectedByReason).sort((a, b) => b[1] - a[1]);
    out.push(reasons.length ? table(['rejected because', 'rows'], reasons.map(([k, v]) => [esc(k), String(v)])) : '<p class="note">no rows rejected</p>');
  } else {
    out.push(`<p class="note">${esc(r.dataNote ?? 'no data summary')}${r.datasetPath ? `: <code>${esc(r.datasetPath)}</code>` : ''}</p>`);
  }
  out.push('<h3>Training curves</h3>');
  out.push(r.epochs.length ? curves([r], false) : '<p class="note">no metrics.jsonl (no epoch finished)</p>');
  if (r.epochs.length) {
    const metrics = validMetricNames(r.epochs);
    const rows = r.epochs.map((e) => [String(e.epoch), formatNumber(e.loss), ...metrics.map((m) => (m in e.valid ? formatNumber(e.valid[m]) : '—')), e.seconds === null ? '—' : formatNumber(e.seconds), e.examplesPerS === null ? '—' : formatNumber(e.examplesPerS)]);
    out.push(`<details><summary>per-epoch table</summary>${table(['epoch', 'loss', ...metrics.map((m) => `valid ${esc(m)}`), 'seconds', 'examples/s'], rows, false)}</details>`);
  }
  out.push('<h3>Evaluation</h3>');
  if (r.evals.length === 0) out.push('<p class="note">not evaluated yet (run <code>rec eval</code>)</p>');
  for (const e of r.evals) {
    const keys = Object.keys(e.metrics).sort();
    out.push(`<p class="note">split <b>${esc(e.split)}</b>, protocol <b>${esc(e.protocol)}</b>${e.usersEvaluated === null ? '' : `, ${e.usersEvaluated} users`}</p>`);
    out.push(table(keys.map(esc), [keys.map((k) => `<td>${formatNumber(e.metrics[k])}</td>`)], false));
  }
  return out.join('\n');
}

export function renderReport(runs: readonly ReportRun[], meta: ReportMeta): string {
  const title = runs.length === 1 ? `rec report: ${runs[0].label}` : `rec report: ${runs.length} checkpoints`;
  const toc = runs.map((r, i) => `<li><a href="#${anchor(i)}">${esc(r.label)}</a> <span class="note">${esc(r.model)}</span></li>`).join('');
  const body = [
    `<h1>${esc(title)}</h1>`,
    `<p class="note">generated ${esc(meta.generated)} by rec ${esc(meta.recVersion)}</p>`,
    runs.length > 1 ? `<ul>${runs.length > 1 ? '<li><a href="#comparison">comparison</a></li>' : ''}${toc}</ul>` : '',
    runs.length > 1 ? comparison(runs) : '',
    ...runs.map((r, i) => runSection(r, i, runs)),
  ].join('\n');
  return `<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${esc(title)}</title><style>${STYLE}</style></head>\n<body>\n${body}\n</body></html>\n`;
}
