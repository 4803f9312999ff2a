/**
 * Numbers and durations as people read them in the CLI's lines, tables and the HTML report: one
 * formatter each, with a style where two places need different room.
 */

/**
 * At most 4 significant digits, no trailing zeros.
 * - `plain` (a `rec runs` cell): an integer stays whole, so counts and seconds read exactly;
 * - `compact` (a chart tick, a report value): outside [1e-3, 1e5) exponent notation, so a label
 *   never grows past a few characters.
 */
export function formatNumber(v: number, style: 'plain' | 'compact' = 'plain'): string {
  if (style === 'plain') return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(4)));
  if (v === 0) return '0';
  const abs = Math.abs(v);
  if (abs >= 1e5 || abs < 1e-3) return v.toExponential(2).replace(/\.?0+e/, 'e');
  return String(Number(v.toPrecision(4)));
}

/**
 * - `coarse` (what a progress bar has room for): `42s`, `3m05s`, `2h07m`;
 * - `fine` (a run's wall time): `14.8s`, `2m22s`, `1h02m03s`.
 */
export function formatDuration(seconds: number, style: 'coarse' | 'fine' = 'coarse'): string {
  if (style === 'fine') return fineDuration(seconds);
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

function fineDuration(seconds: number): string {
  if (seconds < 60) return `${seconds.toFixed(1)}s`;
  const whole = Math.round(seconds);
  const h = Math.floor(whole / 3600);
  const m = Math.floor((whole % 3600) / 60);
  const s = whole % 60;
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m${String(s).padStart(2, '0')}s` : `${m}m${String(s).padStart(2, '0')}s`;
}
