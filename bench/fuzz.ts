/**
 * `rec prep` fuzz run (issue #11): 10,000 mutated logs (bench/fuzz-cases.ts, the same generator as
 * test/unit/data/prep/fuzz.test.ts, which runs the first 1,000) through runPrep, counting outcomes,
 * error classes and reject reasons. Any violation of the contract (a non-RecError exception, a
 * broken row identity, `read` other than the physical data lines, a leftover folder) is listed and
 * makes the bench fail.
 *
 *   node dist/bench/fuzz.js [--quick] [--cases N] [--seed S]   writes bench/results/fuzz.json (fuzz-quick.json)
 *   npm run bench -- fuzz [--quick]                           the same through bench/run.ts
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeJsonAtomic } from '../src/io/atomic.js';
import { FUZZ_SEED, runFuzz, type FuzzSummary } from './fuzz-cases.js';

export interface FuzzBenchOptions {
  quick?: boolean;
  /** Cases to run (default 10,000; quick 1,000). */
  cases?: number;
  seed?: number;
  /** JSON output path; default bench/results/fuzz.json (fuzz-quick.json with quick). null: do not write. */
  out?: string | null;
  log?: (line: string) => void;
}

export interface FuzzBenchResult extends FuzzSummary {
  bench: 'fuzz';
  date: string;
  quick: boolean;
  command: string;
}

export async function runFuzzBench(opts: FuzzBenchOptions = {}): Promise<FuzzBenchResult> {
  const quick = opts.quick ?? false;
  const n = opts.cases ?? (quick ? 1000 : 10_000);
  const seed = opts.seed ?? FUZZ_SEED;
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  // Memory-backed when there is one: each case writes a small dataset, and fsyncs dominate on disk.
  const dir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'rec-fuzz-'));
  try {
    const summary = await runFuzz(seed, n, dir, (i) => {
      if ((i + 1) % 1000 === 0) log(`fuzz: ${i + 1}/${n} cases`);
    });
    const result: FuzzBenchResult = {
      bench: 'fuzz',
      date: new Date().toISOString(),
      quick,
      command: `npm run bench -- fuzz${quick ? ' --quick' : ''}`,
      ...summary,
    };
    const out = opts.out === undefined ? `bench/results/${quick ? 'fuzz-quick' : 'fuzz'}.json` : opts.out;
    if (out !== null) await writeJsonAtomic(resolve(out), result);
    if (summary.violations.length > 0) {
      throw new Error(`prep fuzz: ${summary.outcomes.violation ?? 0} of ${n} cases broke the contract; first: ${JSON.stringify(summary.violations[0])}`);
    }
    return result;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The figures `npm run bench` prints for this bench. */
export function summarizeFuzzBench(r: FuzzBenchResult): Record<string, unknown> {
  return { cases: r.cases, seconds: r.seconds, outcomes: r.outcomes, rejected_by_reason: r.rejected_by_reason };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const argv = process.argv.slice(2);
  const flag = (name: string): number | undefined => {
    const i = argv.indexOf(name);
    return i >= 0 ? Number(argv[i + 1]) : undefined;
  };
  runFuzzBench({ quick: argv.includes('--quick'), cases: flag('--cases'), seed: flag('--seed') }).then(
    (r) => process.stdout.write(`${JSON.stringify(summarizeFuzzBench(r), null, 2)}\n`),
    (error: unknown) => {
      process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
