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
import type { RunIO } from '../util/run-io.js';
import { type CommandName, envLayer, flagLayer } from './options.js';
import { expandHomeInLayer } from './paths.js';
import { ttyProgress } from './progress.js';

export interface GlobalFlags {
  config?: string[];
  json?: boolean;
  quiet?: boolean;
  verbose?: boolean;
  progress?: boolean;
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
  const progress: Progress = tty ?? noProgress;
  const log = createLogger(level, tty?.logSink ?? process.stderr);
  return { resolved, io: { log, progress, signal }, log, json: flags.json === true, cwd, env: process.env };
}
