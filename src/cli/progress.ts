import { SingleBar } from 'cli-progress';
import { formatDuration } from '../util/format.js';
import { createRateTracker, formatCount, type Progress, type ProgressBar, type ProgressOptions } from '../util/progress.js';

/**
 * A cli-progress bar on stderr; used only when stderr is a TTY and neither CI nor --json is set.
 * Rate and ETA are computed here (createRateTracker) rather than by cli-progress, whose ETA
 * counts from zero and so is wrong for an epoch resumed mid-way.
 */
export function ttyProgress(stream: NodeJS.WriteStream, now: () => number = () => performance.now()): Progress & { logSink: { write(text: string): unknown } } {
  let active: SingleBar | null = null;
  return {
    /**
     * Where log lines go while bars may be drawn. cli-progress turns line wrapping off for a bar's
     * life and, at stop(), restores the cursor it saved at start(): a log line written under a live
     * bar was cut at the terminal's width and then overwritten by the summary (prep's
     * guessed-columns line vanished so). So the bar's line is cleared, the message written with
     * wrapping on, and the cursor saved again below it, where the bar goes on drawing.
     */
    logSink: {
      write(text: string) {
        if (active === null) return stream.write(text);
        return stream.write(`\r\x1b[2K\x1b[?7h${text}\x1b[?7l\x1b7`);
      },
    },
    start(label: string, total: number, unit: string, options: ProgressOptions = {}): ProgressBar {
      const known = total > 0;
      const bar = new SingleBar({
        stream,
        format: known
          ? `${label} [{bar}] {percentage}% | {value}/{total} ${unit}{speed}{remaining} | {status}`
          : `${label} {value} ${unit}{speed} | {status}`,
        hideCursor: true,
        clearOnComplete: true,
        fps: 5,
      });
      const track = createRateTracker(total, now);
      bar.start(known ? total : 1, 0, { status: '', speed: '', remaining: '' });
      active = bar;
      return {
        update(value: number, status = '') {
          bar.update(value, { status, ...progressPayload(track(value), options) });
        },
        stop() {
          if (active === bar) active = null;
          bar.stop();
        },
      };
    },
  };
}

/** The ` | 12.3k ex/s` and ` | ETA 1m05s` parts of the bar (empty until there is a rate). */
export function progressPayload(figures: { perSecond: number | null; etaSeconds: number | null }, options: ProgressOptions): { speed: string; remaining: string } {
  const { perSecond, etaSeconds } = figures;
  const speed = perSecond !== null && options.rate ? ` | ${formatCount(perSecond * options.rate.scale)} ${options.rate.unit}/s` : '';
  const remaining = etaSeconds !== null ? ` | ETA ${formatDuration(etaSeconds)}` : '';
  return { speed, remaining };
}

/** Seconds between heartbeat lines off a terminal (`--heartbeat`, REC_HEARTBEAT). */
export const DEFAULT_HEARTBEAT_S = 30;

/**
 * Progress off a terminal (a log file, CI, a notebook's subprocess): no bar can be drawn, and one
 * line per epoch leaves minutes of silence on a large log, so every `intervalMs` while a stage
 * runs one line says where it is (`write` is the logger's info, so -q silences it and it never
 * reaches stdout). Only the latest stage ticks: starting one retires the one before.
 */
export function heartbeatProgress(write: (line: string) => void, intervalMs: number, now: () => number = () => performance.now()): Progress {
  let retire: (() => void) | null = null;
  return {
    start(label: string, total: number, unit: string, options: ProgressOptions = {}): ProgressBar {
      retire?.();
      const track = createRateTracker(total, now);
      let value = 0;
      let status = '';
      let figures = track(0);
      const timer = setInterval(() => write(heartbeatLine({ label, total, unit, value, status }, figures, options)), intervalMs);
      // A heartbeat never keeps the process alive on its own.
      timer.unref();
      const stop = () => {
        clearInterval(timer);
        if (retire === stop) retire = null;
      };
      retire = stop;
      return {
        update(v: number, s = '') {
          value = v;
          status = s;
          figures = track(v);
        },
        stop,
      };
    },
  };
}

/** `epoch 2/20: 120/900 steps (13%) | 1.23k ex/s | ETA 4m10s | loss 6.8812`. */
export function heartbeatLine(
  at: { label: string; total: number; unit: string; value: number; status: string },
  figures: { perSecond: number | null; etaSeconds: number | null },
  options: ProgressOptions,
): string {
  const { label, total, unit, value, status } = at;
  // Exact below a million (a step or user count reads better whole), three digits above (bytes).
  const n = (x: number) => (x < 1e6 ? String(Math.round(x)) : formatCount(x));
  const position = total > 0 ? `${n(value)}/${n(total)} ${unit} (${Math.floor((100 * value) / total)}%)` : `${n(value)} ${unit}`;
  const { speed, remaining } = progressPayload(figures, options);
  return `${label}: ${position}${speed}${remaining}${status ? ` | ${status}` : ''}`;
}
