import type { Logger } from './log.js';
import type { Progress } from './progress.js';

/** What every library entry point (`runPrep`, `runTrain`, …) receives from the CLI or a test. */
export interface RunIO {
  log: Logger;
  progress: Progress;
  /** Aborted on SIGINT/SIGTERM; long-running work checks it at safe points. */
  signal?: AbortSignal;
}
