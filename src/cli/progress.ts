import { SingleBar } from 'cli-progress';
import { createRateTracker, formatCount, formatDuration, type Progress, type ProgressBar, type ProgressOptions } from '../util/progress.js';

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
