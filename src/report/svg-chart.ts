/**
 * Line charts as inline SVG strings, for `rec report` (issue #12).
 *
 * Why hand-written rather than ECharts' SSR or Vega: the report needs only line charts over a few
 * dozen epochs (axes, ticks, a legend, one polyline per series). Measured with `npm pack --dry-run`
 * (2026-11-29): echarts 6.1.0 is 60.3 MB unpacked in 1,347 files (plus zrender); vega 6.4.0 is
 * 3.7 MB but brings 27 vega-* packages, and Vega-Lite comes on top. Either would be loaded by one
 * command for a few polylines. This module is
 * pure string building: no DOM, no network, no dependency, deterministic output that a unit test
 * can check, and SVG any browser renders offline. Every label is XML-escaped (metric names and
 * checkpoint paths come from the user's files).
 */
import { formatNumber } from '../util/format.js';

export interface ChartSeries {
  name: string;
  /** [x, y] pairs; non-finite values are skipped (a NaN loss must not draw a line to 0). */
  points: readonly (readonly [number, number])[];
}

export interface LineChartSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  series: readonly ChartSeries[];
  width?: number;
  height?: number;
  /** Integer x ticks only (epochs). */
  integerX?: boolean;
  /** Markers only, no line through them (a scatter: rec tune's metric against a parameter). */
  points?: boolean;
}

/** Colour-blind-safe palette (Okabe–Ito), cycled when there are more series. */
export const PALETTE = ['#0072B2', '#E69F00', '#009E73', '#D55E00', '#CC79A7', '#56B4E9', '#F0E442', '#000000'] as const;

export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

/**
 * About `count` round tick values (1, 2 or 5 × 10^k apart) covering [min, max]: Heckbert's
 * "nice numbers" (Graphics Gems, 1990), the rule most plotting libraries use.
 */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [];
  if (min === max) {
    const pad = min === 0 ? 1 : Math.abs(min) * 0.1;
    min -= pad;
    max += pad;
  }
  const raw = (max - min) / Math.max(1, count);
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? 10 * magnitude;
  const first = Math.floor(min / step) * step;
  const ticks: number[] = [];
  for (let v = first; v <= max + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  if (ticks[ticks.length - 1] < max) ticks.push(Number((ticks[ticks.length - 1] + step).toPrecision(12)));
  return ticks;
}

const MARGIN = { top: 32, right: 16, bottom: 44, left: 60 } as const;
const LEGEND_ROW = 16;

export function lineChartSvg(spec: LineChartSpec): string {
  const width = spec.width ?? 560;
  const series = spec.series.map((s) => ({ name: s.name, points: s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y)) }));
  const legendRows = series.length > 1 ? series.length : 0;
  const height = (spec.height ?? 280) + legendRows * LEGEND_ROW;
  const all = series.flatMap((s) => s.points);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeXml(spec.title)}">`,
    `<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${width / 2}" y="18" text-anchor="middle" font-size="13" font-weight="600" font-family="sans-serif">${escapeXml(spec.title)}</text>`,
  ];
  if (all.length === 0) {
    parts.push(`<text x="${width / 2}" y="${height / 2}" text-anchor="middle" font-size="12" fill="#666" font-family="sans-serif">no data</text>`, '</svg>');
    return parts.join('');
  }
  const plotW = width - MARGIN.left - MARGIN.right;
  const plotH = height - legendRows * LEGEND_ROW - MARGIN.top - MARGIN.bottom;
  const xs = all.map((p) => p[0]);
  const ys = all.map((p) => p[1]);
  let xTicks = niceTicks(Math.min(...xs), Math.max(...xs), 6);
  if (spec.integerX) xTicks = [...new Set(xTicks.map((t) => Math.round(t)))];
  const yTicks = niceTicks(Math.min(...ys), Math.max(...ys), 5);
  const [x0, x1] = [xTicks[0], xTicks[xTicks.length - 1]];
  const [y0, y1] = [yTicks[0], yTicks[yTicks.length - 1]];
  const sx = (x: number) => MARGIN.left + (x1 === x0 ? plotW / 2 : ((x - x0) / (x1 - x0)) * plotW);
  const sy = (y: number) => MARGIN.top + plotH - (y1 === y0 ? plotH / 2 : ((y - y0) / (y1 - y0)) * plotH);
  const r = (v: number) => Math.round(v * 10) / 10;
  const font = 'font-family="sans-serif" font-size="11" fill="#333"';

  for (const t of yTicks) {
    parts.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left + plotW}" y1="${r(sy(t))}" y2="${r(sy(t))}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${MARGIN.left - 6}" y="${r(sy(t)) + 4}" text-anchor="end" ${font}>${escapeXml(formatNumber(t, 'compact'))}</text>`);
  }
  for (const t of xTicks) {
    parts.push(`<line x1="${r(sx(t))}" x2="${r(sx(t))}" y1="${MARGIN.top + plotH}" y2="${MARGIN.top + plotH + 4}" stroke="#333"/>`);
    parts.push(`<text x="${r(sx(t))}" y="${MARGIN.top + plotH + 16}" text-anchor="middle" ${font}>${escapeXml(formatNumber(t, 'compact'))}</text>`);
  }
  parts.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left}" y1="${MARGIN.top}" y2="${MARGIN.top + plotH}" stroke="#333"/>`);
  parts.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left + plotW}" y1="${MARGIN.top + plotH}" y2="${MARGIN.top + plotH}" stroke="#333"/>`);
  parts.push(`<text x="${MARGIN.left + plotW / 2}" y="${MARGIN.top + plotH + 34}" text-anchor="middle" ${font}>${escapeXml(spec.xLabel)}</text>`);
  const yMid = MARGIN.top + plotH / 2;
  parts.push(`<text x="14" y="${yMid}" text-anchor="middle" transform="rotate(-90 14 ${yMid})" ${font}>${escapeXml(spec.yLabel)}</text>`);

  series.forEach((s, i) => {
    const colour = PALETTE[i % PALETTE.length];
    if (s.points.length > 1 && spec.points !== true) {
      const d = s.points.map(([x, y]) => `${r(sx(x))},${r(sy(y))}`).join(' ');
      parts.push(`<polyline fill="none" stroke="${colour}" stroke-width="2" points="${d}"/>`);
    }
    for (const [x, y] of s.points) {
      parts.push(`<circle cx="${r(sx(x))}" cy="${r(sy(y))}" r="3" fill="${colour}"><title>${escapeXml(`${s.name}: ${spec.xLabel} ${formatNumber(x, 'compact')}, ${formatNumber(y, 'compact')}`)}</title></circle>`);
    }
  });
  if (legendRows > 0) {
    series.forEach((s, i) => {
      const y = height - legendRows * LEGEND_ROW + i * LEGEND_ROW + 4;
      parts.push(`<rect x="${MARGIN.left}" y="${y}" width="12" height="3" fill="${PALETTE[i % PALETTE.length]}"/>`);
      parts.push(`<text x="${MARGIN.left + 18}" y="${y + 5}" ${font}>${escapeXml(s.name)}</text>`);
    });
  }
  parts.push('</svg>');
  return parts.join('');
}
