/**
 * The state one `rec prep` run hands from step to step (run.ts): what was settled before reading,
 * what reading produced, what shaping the rows decided, and the vocabularies written.
 */
import { performance } from 'node:perf_hooks';
import type { PrepConfig } from '../../config/schema.js';
import { DataError } from '../../util/errors.js';
import type { RunIO } from '../../util/run-io.js';
import type { ManifestWindow } from '../manifest.js';
import type { AppendBase, PreloadedBase } from './append.js';
import type { WrittenHashes } from './arrow-write.js';
import type { CataloguePlan } from './catalogue-spec.js';
import type { DedupeRule } from './dedupe.js';
import type { ColumnContext } from './diagnose.js';
import type { RowSummary, SplitStatsAll } from './finalize.js';
import type { Ingest } from './ingest.js';
import type { KcoreResult } from './kcore.js';
import type { AlreadyPresent } from './nightly.js';
import type { SplitSpec } from './options.js';
import type { InputFile, ReaderSettings, ReadOutcome } from './read.js';
import type { RejectSink } from './rejects.js';
import type { PrepRequest } from './request.js';
import type { QueryVocab } from './search.js';
import type { SplitOutcome } from './split.js';
import type { VocabIds } from './vocab-ids.js';

/** Everything settled before anything is read or written (all usage errors come before). */
export interface PrepPlan {
  /** The effective config: the request's, with an --append-to base's settings inherited. */
  cfg: PrepConfig;
  base: AppendBase | null;
  inherited: string[];
  windowDays: number | null;
  settings: ReaderSettings;
  splitSpec: SplitSpec;
  /** The inputs to read: new logs, then --valid and --test files. */
  files: InputFile[];
  /** Logs skipped because the base (or an earlier input) already holds them. */
  alreadyPresent: AlreadyPresent;
  totalBytes: number;
  /** "Now" for the plausibility of timestamps. */
  now: number;
  /** --items: the catalogue to read; null without one. */
  catalogue: CataloguePlan | null;
}

/** Warnings the run collects, and the debug timing of each phase. */
export interface PrepLog {
  readonly warnings: string[];
  phase(name: string): void;
  /** A warning that --strict leaves a warning (how flags combine, not a surprise in the data). */
  note(msg: string): void;
  /** A surprise in the data: a warning, or under --strict an error. */
  warn(msg: string): void;
}

/** One run in progress: its request, plan, log, reject sink and staged folder. */
export interface PrepJob {
  req: PrepRequest;
  io: RunIO;
  plan: PrepPlan;
  log: PrepLog;
  sink: RejectSink;
  stagedPath: string;
  /** SHA-256 of the files hashed as they were written (by path), for the manifest. */
  written: WrittenHashes;
}

/** What reading every input produced. */
export interface ReadInputs {
  ing: Ingest;
  /** The first new input's column plan; null when only a base was read. */
  columns: ColumnContext | null;
  outcomes: ReadOutcome[];
  pre: PreloadedBase | null;
  /** The first sequence number of a row read from the new logs. */
  seqStart: number;
  /** Rows read from the new logs; the base's rows count as read from its split files. */
  logRead: number;
  read: number;
  /** Why rows were rejected, in the words of the first input's columns ('' when unknown). */
  whyRejected: () => string;
}

/** The rows after --window, de-duplication, k-core and the split. */
export interface ShapedRows {
  /** Per stored row: its split, or why it was dropped (order.ts). */
  assign: Uint8Array;
  feedback: 'explicit' | 'implicit';
  dedupe: DedupeRule;
  deduplicated: number;
  kcore: KcoreResult;
  split: SplitOutcome;
  window: ManifestWindow | null;
  agedOut: number;
  /** Ids before compaction. */
  nUsers0: number;
  nItems0: number;
}

/** The ids that still have rows, with their statistics. */
export interface Vocabularies {
  sum: RowSummary;
  splitStats: SplitStatsAll;
  userIds: VocabIds;
  itemIds: VocabIds;
  /** The fingerprint of the --anonymize key; null without --anonymize. */
  fp: string | null;
  eventNames: readonly string[] | null;
  /** A search log's queries that keep rows; null for a behaviour log. */
  queries: QueryVocab | null;
  /** A search log without a user column (users.arrow empty, user column null). */
  anonymous: boolean;
}

/**
 * Under --strict a surprise in the data is an error; notes on how flags combine (a --split share
 * that a --test file replaces) are not surprises in the data, so they stay warnings.
 */
export function prepLog(io: RunIO, strict: boolean, t0: number): PrepLog {
  const warnings: string[] = [];
  let tPhase = t0;
  const note = (msg: string): void => {
    warnings.push(msg);
    io.log.warn(msg);
  };
  return {
    warnings,
    phase: (name) => {
      const now = performance.now();
      io.log.debug(`prep: ${name} ${((now - tPhase) / 1000).toFixed(3)} s`);
      tPhase = now;
    },
    note,
    warn: (msg) => {
      if (strict) throw new DataError(`${msg} (--strict, config prep.strict, makes this warning an error; no dataset was written.)`);
      note(msg);
    },
  };
}
