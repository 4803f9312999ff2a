import { SingleBar } from 'cli-progress';
import type { Progress, ProgressBar } from '../util/progress.js';

/** A cli-progress bar on stderr; used only when stderr is a TTY and neither CI nor --json is set. */
export function ttyProgress(stream: NodeJS.WriteStream): Progress {
  return {
    start(label: string, total: number, unit: string): ProgressBar {
      const known = total > 0;
      const bar = new SingleBar({
        stream,
        format: known
          ? `${label} [{bar}] {percentage}% | {value}/{total} ${unit} | {status}`
          : `${label} {value} ${unit} | {status}`,
        hideCursor: true,
        clearOnComplete: true,
        etaBuffer: 50,
        fps: 5,
      });
      bar.start(known ? total : 1, 0, { status: '' });
      return {
        update(value: number, status = '') {
          bar.update(value, { status });
        },
        stop() {
          bar.stop();
        },
      };
    },
  };
}
