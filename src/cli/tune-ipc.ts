/**
 * The child's side of a `rec tune` trial: `rec train --tune-ipc`, spawned by the study with an IPC
 * channel, reports each epoch to the study and waits for its verdict (prune or go on), so a
 * pruning decision is taken at the same epoch however loaded the machine is. A study killed with
 * kill -9 closes the channel: the trial then stops as on SIGTERM, saving a resumable state.
 */
import type { EpochRecord } from '../io/checkpoint-contract.js';
import { UsageError } from '../util/errors.js';

/** Study → trial: whether to stop after the epoch just reported. */
export interface TuneVerdict {
  type: 'verdict';
  stop: boolean;
}

export interface TuneChannel {
  stopAfter: (record: EpochRecord) => Promise<boolean>;
  /** Closes the channel as the run ends (an open channel would keep the process alive). */
  close(): void;
}

export function tuneChannel(): TuneChannel {
  const send = process.send?.bind(process);
  if (send === undefined) throw new UsageError('--tune-ipc is for trials that rec tune starts (it needs the IPC channel rec tune opens); leave it out.');
  const orphaned = (): boolean => process.kill(process.pid, 'SIGTERM');
  process.once('disconnect', orphaned);
  const close = (): void => {
    process.off('disconnect', orphaned);
    if (process.connected) process.disconnect();
  };
  const stopAfter = (record: EpochRecord): Promise<boolean> =>
    new Promise<boolean>((resolve) => {
      const onMessage = (message: unknown): void => {
        if (typeof message !== 'object' || message === null || (message as { type?: unknown }).type !== 'verdict') return;
        process.off('message', onMessage);
        process.off('disconnect', onGone);
        resolve((message as TuneVerdict).stop === true);
      };
      // Without its study the trial goes on only until the SIGTERM sent above stops it with a saved,
      // resumable state (a stop here would end the run as finished, and --resume could not finish it).
      const onGone = (): void => {
        process.off('message', onMessage);
        resolve(false);
      };
      process.on('message', onMessage);
      process.once('disconnect', onGone);
      send({ type: 'epoch', record });
    });
  return { stopAfter, close };
}
