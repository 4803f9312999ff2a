/**
 * Progress reporting seen by library code. The CLI decides the implementation: a cli-progress bar
 * on an interactive stderr, or nothing (callers print one summary line themselves) in CI, under
 * --json or with --no-progress. Library code never checks isTTY itself.
 */
export interface ProgressBar {
  /** Set the absolute position (and optionally a short status text). */
  update(value: number, status?: string): void;
  /** Remove the bar; the caller then logs its own summary line. */
  stop(): void;
}

export interface ProgressOptions {
  /**
   * A throughput to show beside the bar, in another unit than the bar's: `scale` of `unit` per bar
   * unit (training counts steps but people compare examples/s: `{ unit: 'ex', scale: batchSize }`).
   */
  rate?: { unit: string; scale: number };
}

export interface Progress {
  /** `total` may be 0 when unknown (e.g. bytes of a gzipped stream). */
  start(label: string, total: number, unit: string, options?: ProgressOptions): ProgressBar;
}

export const noProgress: Progress = {
  start: () => ({ update: () => undefined, stop: () => undefined }),
};

/**
 * Throughput and time left from the positions a bar has been given. The first reading is the
 * baseline, not zero: a resumed epoch starts mid-way, and counting the steps done before the
 * restart as instant would promise an ETA that is far too short.
 */
export function createRateTracker(total: number, now: () => number): (value: number) => { perSecond: number | null; etaSeconds: number | null } {
  let first: { value: number; ms: number } | null = null;
  return (value) => {
    const ms = now();
    if (first === null) first = { value, ms };
    const done = value - first.value;
    const seconds = (ms - first.ms) / 1000;
    if (done <= 0 || seconds <= 0) return { perSecond: null, etaSeconds: null };
    const perSecond = done / seconds;
    return { perSecond, etaSeconds: total > 0 ? Math.max(0, total - value) / perSecond : null };
  };
}

/** `950`, `12.3k`, `4.56M`: three significant digits. */
export function formatCount(x: number): string {
  if (x < 1000) return x.toFixed(0);
  if (x < 1e6) return `${(x / 1e3).toPrecision(3)}k`;
  if (x < 1e9) return `${(x / 1e6).toPrecision(3)}M`;
  return `${(x / 1e9).toPrecision(3)}G`;
}
