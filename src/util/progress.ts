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

export interface Progress {
  /** `total` may be 0 when unknown (e.g. bytes of a gzipped stream). */
  start(label: string, total: number, unit: string): ProgressBar;
}

export const noProgress: Progress = {
  start: () => ({ update: () => undefined, stop: () => undefined }),
};
