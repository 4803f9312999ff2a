/**
 * What every command handler gets: the resolved config (with sources), a logger and progress on
 * stderr, an abort signal wired to SIGINT/SIGTERM, and whether --json was asked for. Building it
 * is the only place that reads process.env and the TTY state.
 */
import type { Command } from 'commander';
import { homedir } from 'node:os';
import { resolve } from 'node:path';
import { type ResolvedConfig, resolveConfig } from '../config/load.js';
import { createLogger, type Logger, type LogLevel } from '../util/log.js';
import { noProgress, type Progress } from '../util/progress.js';
import { describeValue, UsageError } from '../util/errors.js';
import { parseDecimal } from '../util/numbers.js';
import type { RunIO } from '../util/run-io.js';
import { type CommandName, envLayer, flagLayer } from './options.js';
import { expandHomeInLayer } from './paths.js';
import { DEFAULT_HEARTBEAT_S, heartbeatProgress, ttyProgress } from './progress.js';

export interface GlobalFlags {
  config?: string[];
  json?: boolean;
  quiet?: boolean;
  verbose?: boolean;
  progress?: boolean;
  heartbeat?: string;
}

export interface CommandContext {
  resolved: ResolvedConfig;
  io: RunIO;
  log: Logger;
  json: boolean;
  cwd: string;
  env: NodeJS.ProcessEnv;
}

export async function buildContext(cmd: Command, command: CommandName, signal: AbortSignal): Promise<CommandContext> {
  const flags = cmd.optsWithGlobals<GlobalFlags>();
  const cwd = process.cwd();
  const files = (flags.config ?? []).map((f) => resolve(cwd, f));
  const home = homedir();
  const resolved = await resolveConfig({
    files,
    env: envLayer(process.env, command),
    flags: flagLayer(cmd, command),
    mapLayer: (layer) => expandHomeInLayer(layer, home),
  });
  let level: LogLevel = resolved.config.log_level;
  if (flags.quiet) level = 'warn';
  if (flags.verbose) level = 'debug';
  const interactive =
    process.stderr.isTTY === true && !process.env.CI && !flags.json && flags.progress !== false && level !== 'warn';
  const tty = interactive ? ttyProgress(process.stderr) : null;
  const log = createLogger(level, tty?.logSink ?? process.stderr);
  const heartbeat = heartbeatSeconds(flags.heartbeat, process.env.REC_HEARTBEAT);
  const chatty = level === 'info' || level === 'debug';
  const progress: Progress = tty ?? (chatty && heartbeat > 0 ? heartbeatProgress((line) => log.info(line), Math.min(heartbeat * 1000, MAX_TIMER_MS)) : noProgress);
  return { resolved, io: { log, progress, signal }, log, json: flags.json === true, cwd, env: process.env };
}

/** setInterval's longest delay; a longer one would fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** `--heartbeat S` over REC_HEARTBEAT over the default; seconds, fractions allowed, 0: no heartbeat. */
function heartbeatSeconds(flag: string | undefined, env: string | undefined): number {
  const [raw, origin] = flag !== undefined ? [flag, '--heartbeat'] : env !== undefined && env !== '' ? [env, 'REC_HEARTBEAT'] : [null, ''];
  if (raw === null) return DEFAULT_HEARTBEAT_S;
  const seconds = parseDecimal(raw);
  if (!Number.isFinite(seconds) || seconds < 0) {
    throw new UsageError(`${origin} ${describeValue(raw)} is not a number of seconds. Expected a number >= 0, e.g. 30 (0 turns the heartbeat off).`);
  }
  return seconds;
}
