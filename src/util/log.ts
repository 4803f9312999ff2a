/**
 * Logging goes to stderr only (stdout belongs to --json). Library code receives a Logger; it never
 * touches process.stderr itself, so tests can capture logs.
 */
export const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface Logger {
  readonly level: LogLevel;
  error(message: string): void;
  warn(message: string): void;
  info(message: string): void;
  debug(message: string): void;
}

export interface LineSink {
  write(text: string): unknown;
}

export function createLogger(level: LogLevel, sink: LineSink): Logger {
  const rank = LOG_LEVELS.indexOf(level);
  const emit = (at: LogLevel, prefix: string) => (message: string) => {
    if (LOG_LEVELS.indexOf(at) <= rank) sink.write(`${prefix}${message}\n`);
  };
  return {
    level,
    error: emit('error', 'error: '),
    warn: emit('warn', 'warning: '),
    info: emit('info', ''),
    debug: emit('debug', 'debug: '),
  };
}

/** A logger that drops everything: the default for library calls made from tests. */
export const silentLogger: Logger = createLogger('error', { write: () => true });

/** Collects log lines in memory; for tests. */
export function memoryLogger(level: LogLevel = 'debug'): Logger & { lines: string[] } {
  const lines: string[] = [];
  const logger = createLogger(level, { write: (t: string) => lines.push(t.replace(/\n$/, '')) });
  return Object.assign(logger, { lines });
}
