/**
 * The CLI shell: parse, call one library function per command, print, set process.exitCode.
 * All errors reach the single handler at the bottom; nothing here calls process.exit() after
 * output has been written, so stdout is never truncated.
 */
import { Command, CommanderError } from 'commander';
import { homedir } from 'node:os';
import { errorCode, fsErrorReason } from '../io/output-dir.js';
import { RecError, EXIT } from '../util/errors.js';
import { REC_VERSION } from '../util/version.js';
import { registerDoctor } from './commands/doctor.js';
import { registerDrift } from './commands/drift.js';
import { registerEval } from './commands/eval.js';
import { registerPrep } from './commands/prep.js';
import { registerPromote } from './commands/promote.js';
import { registerRecommend } from './commands/recommend.js';
import { registerReport } from './commands/report.js';
import { registerRuns } from './commands/runs.js';
import { registerSearch } from './commands/search.js';
import { registerSynth } from './commands/synth.js';
import { registerTrain } from './commands/train.js';
import { registerTune } from './commands/tune.js';
import { expandHomeInPaths } from './paths.js';
import type { Runtime } from './runtime.js';

const EXAMPLES = `
Examples:
  $ rec train                                   # train MF on the bundled shop log (datasets/shop)
  $ rec prep u.data --out data/ml100k --columns user=0,item=1,rating=2,ts=3
  $ rec train --data data/ml100k --model mf --epochs 20 --out checkpoints/mf
  $ rec eval checkpoints/mf --metrics rmse,mae,ndcg@10
  $ rec recommend checkpoints/mf --user 42 --k 10 --json
  $ rec synth --out shop.csv.gz --users 5000 --items 2000 --events 500000
  $ rec drift data/yesterday logs/today.csv --fail-over new_items=0.5
  $ rec doctor

Exit codes: 0 ok, 1 runtime failure, 2 usage or config error, 3 quality gate failed,
130 interrupted (SIGINT), 143 terminated (SIGTERM); 130/143 after saving a resumable state.`;

export function buildProgram(runtime: Runtime): Command {
  const program = new Command('rec')
    .description('Turn e-commerce behaviour logs into trained, fine-tuned and evaluated recommender models.')
    .version(REC_VERSION, '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    // Help and version are the output asked for, so stdout (`rec train --help | grep lr`,
    // `v=$(rec --version)`); usage errors and their hints go to stderr.
    .configureOutput({ writeErr: (s) => process.stderr.write(s), writeOut: (s) => process.stdout.write(s) })
    .exitOverride()
    .addHelpText('after', EXAMPLES)
    .hook('preAction', (_root, action) => expandHomeInPaths(action, homedir()));
  registerPrep(program, runtime);
  registerTrain(program, runtime);
  registerTune(program, runtime);
  registerEval(program, runtime);
  registerRecommend(program, runtime);
  registerSearch(program, runtime);
  registerSynth(program, runtime);
  registerDoctor(program, runtime);
  registerReport(program, runtime);
  registerRuns(program, runtime);
  registerPromote(program, runtime);
  registerDrift(program, runtime);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  const controller = new AbortController();
  let signals = 0;
  const onSignal = (signal: 'SIGINT' | 'SIGTERM') => {
    signals += 1;
    if (signals > 1) {
      // A second signal means "now": the first one is still saving state.
      process.stderr.write(`\n${signal} again: exiting without waiting.\n`);
      process.exit(signal === 'SIGINT' ? EXIT.sigint : EXIT.sigterm);
    }
    controller.abort(signal);
  };
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));

  // A reader that stops early (`rec train --help | head`) closes the pipe: not a failure, and not
  // a stack trace; whatever was being written has nowhere to go.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
  });

  const runtime: Runtime = { signal: controller.signal };
  const program = buildProgram(runtime);
  try {
    if (argv.length <= 2) {
      program.outputHelp();
      return;
    }
    await program.parseAsync(argv);
  } catch (error) {
    process.exitCode = reportError(error);
  }
}

function reportError(error: unknown): number {
  if (error instanceof CommanderError) {
    // Help and version are "errors" only to commander; usage mistakes are exit 2 (docs/design.md#exit-codes).
    if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help') return EXIT.ok;
    return EXIT.usage;
  }
  if (error instanceof RecError) {
    process.stderr.write(`error: ${error.message}\n`);
    return error.exitCode;
  }
  const fs = fsFailure(error);
  if (fs !== null) {
    process.stderr.write(`error: ${fs}\n`);
    return EXIT.runtime;
  }
  const err = error instanceof Error ? error : new Error(String(error));
  process.stderr.write(`error: unexpected failure: ${err.stack ?? err.message}\nThis is a bug in rec; please report it with the command you ran.\n`);
  return EXIT.runtime;
}

/**
 * A file-system error that reached the top without a command naming it (say, a path under a
 * regular file given as --out): the path and the reason are the user's to fix, not a bug in rec.
 */
function fsFailure(error: unknown): string | null {
  if (!(error instanceof Error) || !('path' in error) || typeof error.path !== 'string') return null;
  const code = errorCode(error);
  const reason = fsErrorReason(code);
  if (reason === undefined) return null;
  const syscall = 'syscall' in error && typeof error.syscall === 'string' ? `${error.syscall} ` : '';
  return `Cannot ${syscall}${error.path}: ${reason} (${code}).`;
}
