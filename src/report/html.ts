/**
 * The report page: one HTML string with its styles inline and its charts as inline SVG, so the
 * file opens offline, attaches to a ticket or a CI artifact, and needs no script at all. Pure: the
 * caller reads the checkpoints (read.ts) and writes the file (src/io).
 */
import type { GateSummary, Promotion } from '../io/standing.js';
import { lowerIsBetter } from '../util/metric-direction.js';
import type { EpochPoint, ReportRun } from './read.js';
import { formatNumber } from '../util/format.js';
import { escapeXml as esc, lineChartSvg, type ChartSeries } from './svg-chart.js';

export interface ReportMeta {
  generated: string;
  recVersion: string;
}


/**
 * `bestIndexes` within each group of alike rows (same `groups[i]`): values measured on different
 * data, splits, protocols or losses never compete. A null group takes part in no comparison.
 */
export function bestIndexesByGroup(values: readonly (number | null)[], groups: readonly (string | null)[], lower: boolean): Set<number> {
  const out = new Set<number>();
  for (const g of new Set(groups)) {
    if (g === null) continue;
    const members = values.map((v, i) => (groups[i] === g ? v : null));
    for (const i of bestIndexes(members, lower)) out.add(i);
  }
  return out;
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
td.best{background:#e6f4ea;font-weight:700}.note{color:#666;font-size:12px}.differ{color:#8a4b00}.charts{display:flex;flex-wrap:wrap;gap:12px}
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

type Column = readonly [string, (r: ReportRun) => number | null, string | null, ((r: ReportRun) => string)?];

const shortSha = (sha: string | null): string => (sha === null ? '?' : sha.slice(0, 12));

/** "A: a, b; B: c" for the rows of each distinct key, or null when all rows share one. */
function groupsNote(runs: readonly ReportRun[], key: (r: ReportRun) => string): string | null {
  const byKey = new Map<string, string[]>();
  for (const r of runs) byKey.set(key(r), [...(byKey.get(key(r)) ?? []), r.label]);
  if (byKey.size < 2) return null;
  return [...byKey].map(([k, labels]) => `${esc(k)}: ${labels.map(esc).join(', ')}`).join('; ');
}

function trainingTable(runs: readonly ReportRun[], link: (r: ReportRun, i: number) => string): string {
  const data = (r: ReportRun) => `dataset ${shortSha(r.datasetSha)}`;
  const dataLoss = (r: ReportRun) => `${data(r)}, loss ${r.loss}`;
  const cols: Column[] = [
    ['epochs', (r) => r.epochs.length, null],
    ['final loss', (r) => r.epochs.at(-1)?.loss ?? null, 'loss', dataLoss],
    ['train seconds', (r) => r.trainSeconds, 'train seconds', data],
  ];
  const bestMetrics = [...new Set(runs.map((r) => r.best?.metric).filter((m): m is string => m !== undefined))].sort();
  for (const m of bestMetrics) cols.push([`best valid ${m}`, (r) => (r.best?.metric === m ? r.best.value : null), m, data]);
  const out = [metricTable(runs, link, cols, [['dataset', (r) => shortSha(r.datasetSha)], ['loss', (r) => r.loss]])];
  const datasets = groupsNote(runs, data);
  if (datasets !== null) out.push(`<p class="note differ">Trained on different datasets (${datasets}): validation metrics and times are marked ★ only among checkpoints of the same dataset.</p>`);
  const losses = groupsNote(runs, dataLoss);
  if (losses !== null) out.push(`<p class="note differ">Final losses of different loss functions or datasets do not compare (${losses}): marked ★ only within each.</p>`);
  return out.join('\n');
}

function evalTable(runs: readonly ReportRun[], link: (r: ReportRun, i: number) => string, name: string): string {
  const like = (r: ReportRun) => r.evals.find((e) => e.name === name)?.like ?? null;
  const metrics = [...new Set(runs.flatMap((r) => r.evals.filter((e) => e.name === name).flatMap((e) => Object.keys(e.metrics))))].sort();
  const cols: Column[] = metrics.map((m) => [m, (r: ReportRun) => r.evals.find((e) => e.name === name)?.metrics[m] ?? null, m, (r: ReportRun) => like(r) ?? '']);
  const evaluated = runs.filter((r) => like(r) !== null);
  const differ = groupsNote(evaluated, (r) => like(r) ?? '');
  const out = [metricTable(runs, link, cols, differ === null ? [] : [['evaluated on', (r) => like(r) ?? '—']])];
  if (differ !== null) out.push(`<p class="note differ">Not measured on the same thing (${differ}): each value is marked ★ only among the checkpoints evaluated alike.</p>`);
  return out.join('\n');
}

/** A gate in words: pass/FAIL, against which baseline, the failed checks. */
export function gateText(g: GateSummary | null): string {
  if (g === null) return 'no gated eval';
  const now = g.baseline_is_production === null ? '' : g.baseline_is_production ? ', the current production' : ', not the current production';
  const against = g.baseline === null ? ' (floors only, no baseline)' : ` vs ${g.baseline}${g.baseline_pointer ? ` (as ${g.baseline_pointer}${now})` : now ? ` (${now.slice(2)})` : ''}`;
  const checks = g.passed ? g.checks : g.failed;
  return `${g.passed ? 'pass' : 'FAIL'}${against}${checks.length ? `: ${checks.join('; ')}` : ''} [${g.file}${g.created ? `, ${g.created}` : ''}]`;
}

export function promotionText(p: Promotion | null): string {
  if (p === null) return 'no production link found next to it';
  const how = p.promoted_at === null ? '' : ` ${p.production ? 'since' : 'on'} ${p.promoted_at}${p.forced ? ' (--force)' : p.eval ? ` (gate ${p.eval})` : ''}`;
  if (p.production) return `production${how} (${p.links.join(', ')})`;
  return p.promoted_at === null ? 'not production' : `was production: promoted${how}`;
}

function comparison(runs: readonly ReportRun[]): string {
  const out: string[] = ['<h2 id="comparison">Comparison</h2>', '<h3>Training curves, overlaid</h3>', curves(runs, true)];
  const link = (r: ReportRun, i: number) => `<a href="#${anchor(i)}">${esc(r.label)}</a>`;
  out.push('<h3>Gate and production</h3>', table(['checkpoint', 'gate', 'production'], runs.map((r, i) => [link(r, i), `<td class="k">${esc(gateText(r.gate))}</td>`, `<td class="k">${esc(promotionText(r.promotion))}</td>`])));
  out.push('<h3>Training</h3>', trainingTable(runs, link));
  const evalNames = [...new Set(runs.flatMap((r) => r.evals.map((e) => e.name)))].sort();
  for (const n of evalNames) out.push(`<h3>Eval <code>${esc(n)}</code></h3>`, evalTable(runs, link, n));
  out.push('<p class="note">Best per column in bold on green (lower is better for rmse, mae, loss and seconds), among checkpoints trained or evaluated alike only.</p>');
  return out.join('\n');
}

/**
 * `cols`: header, value, the metric name that decides the direction (null: not compared) and the
 * group of alike rows a value competes in; `info`: text columns shown after the checkpoint.
 */
function metricTable(
  runs: readonly ReportRun[],
  link: (r: ReportRun, i: number) => string,
  cols: readonly Column[],
  info: readonly (readonly [string, (r: ReportRun) => string])[] = [],
): string {
  const values = cols.map(([, f]) => runs.map(f));
  const best = cols.map(([, , metric, group], c) =>
    metric === null ? new Set<number>() : bestIndexesByGroup(values[c], runs.map((r) => (group ? group(r) : '')), lowerIsBetter(metric)),
  );
  const rows = runs.map((r, i) => [
    link(r, i),
    ...info.map(([, f]) => `<td class="k">${esc(f(r))}</td>`),
    ...cols.map((_, c) => {
      const v = values[c][i];
      const text = v === null ? '—' : formatNumber(v, 'compact');
      return best[c].has(i) ? `<td class="best" title="best">${text} ★</td>` : `<td>${text}</td>`;
    }),
  ]);
  return table(['checkpoint', ...info.map(([h]) => esc(h)), ...cols.map(([h]) => esc(h))], rows);
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
    ['train seconds', r.trainSeconds === null ? '—' : formatNumber(r.trainSeconds, 'compact')],
    ['best validation', r.best ? `${r.best.metric} ${formatNumber(r.best.value, 'compact')} at epoch ${r.best.epoch}` : '—'],
    ['gate', gateText(r.gate)],
    ['production', promotionText(r.promotion)],
    ['dataset', r.datasetSha === null ? '—' : `manifest sha256 ${r.datasetSha}`],
    ['versions', Object.entries(r.versions).map(([k, v]) => `${k} ${v}`).join(', ')],
    ['command', `rec ${r.argv.join(' ')}`],
  ];
  out.push('<h3>Run</h3>', table(null, info.map(([k, v]) => [esc(k), esc(v)])));
  if (r.parents.length) {
    const rows = r.parents.map((p) => {
      const j = all.findIndex((o) => o.path === p.path);
      const where = j >= 0 ? `<a href="#${anchor(j)}">${esc(all[j].label)}</a>` : `<code>${esc(p.path)}</code>`;
      const results = [
        ...(p.best ? [`best valid ${p.best.metric} ${formatNumber(p.best.value, 'compact')} (epoch ${p.best.epoch})`] : []),
        ...p.evals.map((e) => `${e.name}: ${Object.entries(e.metrics).sort(([x], [y]) => x.localeCompare(y)).slice(0, 4).map(([k, v]) => `${k} ${formatNumber(v, 'compact')}`).join(', ')}`),
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
    const rows = r.epochs.map((e) => [String(e.epoch), formatNumber(e.loss, 'compact'), ...metrics.map((m) => (m in e.valid ? formatNumber(e.valid[m], 'compact') : '—')), e.seconds === null ? '—' : formatNumber(e.seconds, 'compact'), e.examplesPerS === null ? '—' : formatNumber(e.examplesPerS, 'compact')]);
    out.push(`<details><summary>per-epoch table</summary>${table(['epoch', 'loss', ...metrics.map((m) => `valid ${esc(m)}`), 'seconds', 'examples/s'], rows, false)}</details>`);
  }
  out.push('<h3>Evaluation</h3>');
  if (r.evals.length === 0) out.push('<p class="note">not evaluated yet (run <code>rec eval</code>)</p>');
  for (const e of r.evals) {
    const keys = Object.keys(e.metrics).sort();
    out.push(`<p class="note">split <b>${esc(e.split)}</b>, protocol <b>${esc(e.protocol)}</b>${e.usersEvaluated === null ? '' : `, ${e.usersEvaluated} users`}, dataset ${esc(shortSha(e.dataSha))}${e.gate ? `; gate ${esc(gateText(e.gate))}` : ''}</p>`);
    out.push(table(keys.map(esc), [keys.map((k) => `<td>${formatNumber(e.metrics[k], 'compact')}</td>`)], false));
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
