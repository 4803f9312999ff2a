import type { Command } from 'commander';
import { EXIT } from '../util/errors.js';
import { stableJson } from '../io/atomic.js';
import type { CommandContext } from './context.js';
import type { CommandName } from './options.js';

export interface Runtime {
  signal: AbortSignal;
}

/**
 * Runs one command handler: builds its context, calls the library, prints the result (the one
 * JSON document under --json, a human summary otherwise) and sets the exit code it returns.
 */
export async function runCommand<R>(
  cmd: Command,
  name: CommandName,
  runtime: Runtime,
  handler: (ctx: CommandContext) => Promise<{ result: R; human: string; exitCode?: number }>,
): Promise<void> {
  // The config schema, YAML and progress bars load only when a command runs, not for --help.
  const { buildContext } = await import('./context.js');
  const ctx = await buildContext(cmd, name, runtime.signal);
  const { result, human, exitCode } = await handler(ctx);
  if (ctx.json) process.stdout.write(stableJson(result));
  else if (human) process.stdout.write(human.endsWith('\n') ? human : `${human}\n`);
  process.exitCode = exitCode ?? EXIT.ok;
}

/** Common flags every command accepts. */
export function addGlobalFlags(cmd: Command): Command {
  return cmd
    .option('-c, --config <file>', 'YAML config file (repeatable; later files win)', (v: string, prev: string[] | undefined) => [...(prev ?? []), v])
    .option('--json', 'print one JSON document on stdout; logs go to stderr')
    .option('-q, --quiet', 'only warnings and errors on stderr')
    .option('-v, --verbose', 'debug logging')
    .option('--no-progress', 'no progress bars (one line per stage instead)')
    .option('--heartbeat <seconds>', 'without a progress bar (stderr not a terminal, CI, --json, --no-progress): a progress line on stderr every N seconds while a stage runs (default 30, env REC_HEARTBEAT; 0: none)');
}
