import { isAbsolute, join, relative } from 'node:path';
import { pathExists } from '../io/atomic.js';
import { InterruptedError } from '../util/errors.js';

/** One argument as POSIX sh reads it back unchanged: bare when it is safe, else single-quoted. */
export function shellQuote(arg: string): string {
  if (/^[\w@%+=:,./-]+$/.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** `rec train --out DIR --resume`, DIR relative to where the user is when it lies below it. */
export function resumeCommand(out: string, cwd: string): string {
  const rel = relative(cwd, out);
  const shown = rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? rel : out;
  return `rec train --out ${shellQuote(shown)} --resume`;
}

/**
 * An interrupted `rec train` ends with the command that continues it, ready to paste, when a
 * resumable state was saved (docs/design.md#the-checkpoint-folder: a state is complete once last/trainer_state.json exists).
 */
export async function withResumeCommand(error: unknown, out: string, cwd: string): Promise<unknown> {
  if (!(error instanceof InterruptedError)) return error;
  if (!(await pathExists(join(out, 'last', 'trainer_state.json')))) return error;
  return new InterruptedError(error.signal, `${error.message} Continue with: ${resumeCommand(out, cwd)}`);
}
