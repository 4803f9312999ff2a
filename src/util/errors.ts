/**
 * Errors that carry their exit code (docs/design.md#exit-codes) up to the one top-level handler in cli/main.ts.
 * Library code throws these; only the CLI turns them into process.exitCode.
 */
export const EXIT = {
  ok: 0,
  runtime: 1,
  usage: 2,
  qualityGate: 3,
  sigint: 130,
  sigterm: 143,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export class RecError extends Error {
  readonly exitCode: ExitCode;
  constructor(message: string, exitCode: ExitCode, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.exitCode = exitCode;
  }
}

/** Bad flag, bad argument, missing input file: exit 2. */
export class UsageError extends RecError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, EXIT.usage, options);
  }
}

/** Invalid config file or value (names the key path): exit 2. */
export class ConfigError extends RecError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, EXIT.usage, options);
  }
}

/** Corrupt or unusable data, too many bad rows, I/O failure: exit 1. */
export class DataError extends RecError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, EXIT.runtime, options);
  }
}

/** Training diverged (NaN/Inf loss) or another runtime failure during a run: exit 1. */
export class RuntimeFailure extends RecError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, EXIT.runtime, options);
  }
}

/** A --fail-under or --max-drop gate failed: exit 3. */
export class QualityGateError extends RecError {
  constructor(message: string) {
    super(message, EXIT.qualityGate);
  }
}

/** The run was stopped by a signal after saving a resumable state: exit 130 or 143. */
export class InterruptedError extends RecError {
  readonly signal: 'SIGINT' | 'SIGTERM';
  constructor(signal: 'SIGINT' | 'SIGTERM', message: string) {
    super(message, signal === 'SIGINT' ? EXIT.sigint : EXIT.sigterm);
    this.signal = signal;
  }
}

/**
 * What a run stopped by `signal` throws: the abort's reason when a library caller aborted with an
 * error (it says why), otherwise an InterruptedError for the signal the CLI aborted with (exit 130
 * for SIGINT, 143 for SIGTERM) carrying `message`, which says what was and was not written.
 */
export function interruptedError(signal: AbortSignal, message: string | ((which: 'SIGINT' | 'SIGTERM') => string)): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof Error) return reason;
  const which = reason === 'SIGTERM' ? 'SIGTERM' : 'SIGINT';
  return new InterruptedError(which, typeof message === 'string' ? message : message(which));
}

/** Short, single-line rendering of an arbitrary received value for error messages. */
export function describeValue(value: unknown, max = 60): string {
  let text: string;
  if (typeof value === 'string') text = JSON.stringify(value);
  else if (value === undefined) text = 'nothing';
  else {
    try {
      text = JSON.stringify(value) ?? String(value);
    } catch {
      text = String(value);
    }
  }
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
