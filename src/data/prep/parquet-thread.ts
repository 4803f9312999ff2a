/**
 * The flat Parquet decoder (parquet-flat.ts) on a second thread (issue #23: DuckDB spreads a prep's
 * work over both cores, rec read on one). The thread reads and decodes a file's row groups ahead of
 * the main thread, at most READ_AHEAD slices, and numbers each id column's ASCII ids in a table of
 * its own (LocalIds, kept from file to file, a new one after LOCAL_IDS ids); the main thread checks
 * and stores the rows as before, mapping each local id to the run's vocabulary the first time an
 * accepted row has it. That is in row order, as before, so the vocabulary and the dataset files do
 * not change; what the main thread no longer does is hash each row's id. Once a file's last slice is
 * taken, the thread starts on the next Parquet input of the run, so it has slices ready for it.
 * A file of fewer than THREAD_MIN_ROWS rows is read on the main thread, as is every file under
 * REC_PARQUET_THREAD=0 (REC_PARQUET_THREAD=1 uses the thread for any file, to test it on small ones).
 */
import { Worker } from 'node:worker_threads';
import { RuntimeFailure } from '../../util/errors.js';
import { envCount } from '../../util/numbers.js';
import { compiledWorkerEntry } from '../../util/worker-thread.js';
import { ColumnReadError, type ColumnGroup, type ColumnarFile } from './columnar.js';
import { keysFromWire, type FlatSlice, type LocalRemap, type WireKeys } from './parquet-flat.js';
import { openParquet } from './parquet.js';

/** Files smaller than this are read on the main thread: starting the thread would cost more than it saves. */
export const THREAD_MIN_ROWS = 1 << 16;
/** Slices the thread decodes ahead of the main thread (memory: that many slices' columns). */
const READ_AHEAD = 4;
/** The main thread decodes one in this many of a run's row groups (mainGroup). */
export const MAIN_EVERY = 6;
/** Ids in one of the thread's tables before it starts another: bounds its memory (about 30 bytes an id, and 4 in the main thread's map). */
export const LOCAL_IDS = 1 << 18;

/** main → thread. */
export type ReaderRequest =
  | { type: 'file'; file: number; path: string; names: string[]; ids: string[]; ahead: number; fresh: boolean; limit: number; stride: number; phase: number; base: number; mainEvery: number; queued: boolean }
  | { type: 'credit'; file: number };

export interface WireSlice {
  name: string;
  codes: Int32Array;
  keys: WireKeys;
  /** The rows' local ids in table `table`, which holds `count` ids now. */
  local: { ids: Int32Array; table: number; count: number } | null;
}

/** thread → main, one per slice of the file in order (slices null: hyparquet must read that group). */
export type ReaderReply =
  | { type: 'slice'; file: number; seq: number; slices: WireSlice[] | null }
  | { type: 'error'; file: number; seq: number; column: string | null; message: string };

/** The main thread's map of one of the thread's tables. */
interface Remap extends LocalRemap {
  of: number;
}

function remapFor(remaps: Map<string, Remap>, name: string, local: NonNullable<WireSlice['local']>): Remap {
  let r = remaps.get(name);
  if (r === undefined || r.of !== local.table) {
    r = { of: local.table, table: new Int32Array(Math.max(1024, local.count)) };
    remaps.set(name, r);
  }
  if (local.count > r.table.length) {
    const table = new Int32Array(Math.max(local.count, r.table.length * 2));
    table.set(r.table);
    r.table = table;
  }
  return r;
}

function fromWire(slices: WireSlice[] | null, remaps: Map<string, Remap>): Map<string, FlatSlice> | null {
  if (slices === null) return null;
  const out = new Map<string, FlatSlice>();
  for (const s of slices) {
    const slice: FlatSlice = { codes: s.codes, keys: keysFromWire(s.keys) };
    if (s.local !== null) slice.local = { ids: s.local.ids, remap: remapFor(remaps, s.name, s.local) };
    out.set(s.name, slice);
  }
  return out;
}

/** A thread, kept from file to file (held, so that the process waits for it, only while it reads a file). */
class ReaderThread {
  /** Reading a file for a stream (two preps at once in one process each get a thread). */
  busy = false;
  private readonly worker: Worker;
  /** The file being taken, the last number given to a file, and the replies of those files (the one read now and the one queued after it). */
  private file = 0;
  private numbered = 0;
  private replies = new Map<number, ReaderReply[]>();
  private wake: (() => void) | null = null;
  private failure: Error | null = null;
  private closing = false;
  /** The run the tables are for (a new run's vocabulary starts empty, so its tables start again). */
  private run: object | null = null;
  private readonly remaps = new Map<string, Remap>();
  /** The file queued to be read after this one (queueNext), to be taken up by open(). */
  private ahead: { path: string; key: string; file: number; phase: number } | null = null;

  constructor() {
    this.worker = new Worker(compiledWorkerEntry(import.meta.url, 'src/data/prep', 'Parquet reader thread', 'parquet-worker.js'));
    this.worker.on('message', (m: ReaderReply) => {
      this.replies.get(m.file)?.push(m);
      this.notify();
    });
    this.worker.on('error', (error) => this.fail(error.message));
    this.worker.on('exit', (code) => {
      if (!this.closing) this.fail(`the thread exited with code ${code}`);
    });
    this.worker.unref();
  }

  /** Starts reading a file's row groups `phase`, `phase + stride`, …; returns its number for take(). */
  open(path: string, cols: Columns, run: object, lane: Lane): number {
    this.busy = true;
    this.worker.ref();
    const key = JSON.stringify([path, cols, lane]);
    const ahead = this.ahead;
    this.ahead = null;
    this.replies.delete(this.file);
    if (ahead !== null && ahead.key === key && run === this.run) {
      this.file = ahead.file;
      return ahead.file;
    }
    return this.start(path, cols, run, lane, false);
  }

  /**
   * Queues the file the run reads next, with the columns and lane of this one (taken up by open() if
   * they match): the thread starts on it as soon as its part of this file is decoded, so its first
   * slices are ready when the main thread comes to it.
   */
  queueNext(path: string, cols: Columns, run: object, lane: Lane): void {
    const file = this.start(path, cols, run, lane, true);
    this.ahead = { path, key: JSON.stringify([path, cols, lane]), file, phase: lane.phase };
  }

  /** Whether the thread started on `path` ahead for `run` (in lane `phase`, when given). */
  holds(path: string, run: object, phase?: number): boolean {
    return this.ahead !== null && run === this.run && this.ahead.path === path && (phase === undefined || this.ahead.phase === phase);
  }

  /** Numbers a file and sends it: to be read now (what the thread was reading is dropped) or once the current one is read. */
  private start(path: string, cols: Columns, run: object, lane: Lane, queued: boolean): number {
    const file = ++this.numbered;
    if (!queued) {
      this.replies.clear();
      this.file = file;
      this.ahead = null;
    }
    this.replies.set(file, []);
    const fresh = run !== this.run;
    this.run = run;
    if (fresh) this.remaps.clear();
    const request: ReaderRequest = { type: 'file', file, path, names: [...cols.names], ids: [...cols.ids], ahead: READ_AHEAD, fresh, limit: localLimit(), ...lane, queued };
    this.worker.postMessage(request);
    return file;
  }

  /** Slice `seq` of file `file`, in order. */
  async take(file: number, seq: number): Promise<Map<string, FlatSlice> | null> {
    const queue = this.replies.get(file) ?? [];
    while (this.failure === null && queue.length === 0) await new Promise<void>((resolve) => (this.wake = resolve));
    if (this.failure !== null) throw this.failure;
    const m = queue.shift() as ReaderReply;
    if (m.seq !== seq || m.file !== file) throw new RuntimeFailure(`The Parquet reader thread sent slice ${m.seq} where ${seq} was expected.`);
    if (m.type === 'error') throw m.column !== null ? new ColumnReadError(m.column, new Error(m.message)) : new Error(m.message);
    const credit: ReaderRequest = { type: 'credit', file };
    this.worker.postMessage(credit);
    return fromWire(m.slices, this.remaps);
  }

  /** The file was read to its end: the process need not wait for the thread. */
  idle(): void {
    this.busy = false;
    this.worker.unref();
  }

  async close(): Promise<void> {
    this.closing = true;
    await this.worker.terminate();
  }

  private fail(cause: string): void {
    this.failure ??= new RuntimeFailure(`The Parquet reader thread failed: ${cause}`);
    this.notify();
  }

  private notify(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }
}

/** The mapped columns a thread decodes, and which of them are ids. */
interface Columns {
  names: readonly string[];
  ids: readonly string[];
}

/**
 * Which of a file's row groups a thread reads: of those the main thread leaves to threads
 * (mainGroup), those whose index % stride is phase. `base`: the file's first group's number in the run.
 */
interface Lane {
  stride: number;
  phase: number;
  base: number;
  mainEvery: number;
}

/**
 * Whether group `group` of a file whose first group is the run's `base`-th is decoded on the main
 * thread: every `mainEvery`-th of the run's groups (0: none). One reader thread decodes more slowly
 * than the main thread checks and stores (10M bench log, idle: the thread busy 4.0 s of a 4.3 s read,
 * the main thread waiting 1.5 s of it), so the main thread decodes a share itself while the thread reads ahead.
 */
export function mainGroup(group: number, lane: Pick<Lane, 'base' | 'mainEvery'>): boolean {
  return lane.mainEvery > 0 && (lane.base + group) % lane.mainEvery === lane.mainEvery - 1;
}

/** The run's groups so far (the next file's `base`), for the runs that read through threads. */
const runGroups = new WeakMap<object, number>();

/** Threads not reading a file now are lent to the next (readers() of them, more when preps run side by side). */
const threads: ReaderThread[] = [];

function lend(path: string, run: object, phase: number): ReaderThread {
  let t = threads.find((x) => !x.busy && x.holds(path, run, phase)) ?? threads.find((x) => !x.busy);
  if (t === undefined) {
    t = new ReaderThread();
    threads.push(t);
  }
  return t;
}

/**
 * Threads that read one file, taking its row groups in turn: one unless REC_PARQUET_READERS=2. Once
 * the next file was queued to the thread, one reader kept the main thread's checks fed on the idle
 * machine (10M bench log: the same wall time as two, 1-2 s less CPU and 100 MiB less memory), so the
 * second is for a reader-bound log (long text ids, many columns).
 */
function readers(): number {
  return process.env.REC_PARQUET_READERS === '2' ? 2 : 1;
}

/** LOCAL_IDS, or REC_PARQUET_LOCAL_IDS (a test's small table, to go through a change of tables). */
function localLimit(): number {
  const n = Number(process.env.REC_PARQUET_LOCAL_IDS);
  return Number.isInteger(n) && n > 0 ? n : LOCAL_IDS;
}

/** Ends a thread (its memory given back); the next file that needs one starts another. */
async function retire(thread: ReaderThread): Promise<void> {
  const at = threads.indexOf(thread);
  if (at >= 0) threads.splice(at, 1);
  await thread.close();
}

/**
 * Runs of more Parquet rows than this read on the main thread. Past it the row store nears PRODUCT.md's
 * 2 GB for 100M rows, and the thread's memory stays resident after it ends (its allocator's pages):
 * the 100M-row bench peaked at 1,911 MiB with the thread against 1,823 without, both in the write phase
 * after the thread had ended (docs/benchmarks.md, Warehouse, session 13).
 */
export const THREAD_MAX_RUN_ROWS = 1 << 26;

/** Whether a file of `rows` rows, in a run of `runRows` Parquet rows, is read through the thread. */
export function useReaderThread(rows: number, runRows = rows): boolean {
  if (process.env.REC_PARQUET_READER === 'hyparquet') return false;
  const mode = process.env.REC_PARQUET_THREAD;
  if (mode === '0') return false;
  return mode === '1' || (rows >= THREAD_MIN_ROWS && runRows <= THREAD_MAX_RUN_ROWS);
}

/**
 * openParquet, with the flat decoder's slices read on the thread when useReaderThread says so
 * (hyparquet's `read` stays on the main thread, for a group the flat decoder cannot read). `run`
 * stands for the prep run (its ReadState): one run's files share the thread's tables of ids. `next`:
 * the Parquet input the run reads after this one, if any; `runRows`: the rows of all the run's Parquet inputs.
 */
export async function openParquetThreaded(path: string, run: object, next: string | null = null, runRows = 0): Promise<ColumnarFile> {
  const file = await openParquet(path);
  if (!useReaderThread(file.rows ?? 0, Math.max(runRows, file.rows ?? 0))) {
    // A small file after a large one: the thread started on it ahead is not needed.
    for (const t of threads.filter((x) => !x.busy && x.holds(path, run))) await retire(t);
    return file;
  }
  // A file of one row group has nothing to share between threads.
  const groups = file.groupCount ?? 1;
  const stride = Math.min(readers(), groups);
  const base = runGroups.get(run) ?? 0;
  // REC_PARQUET_MAIN_EVERY overrides MAIN_EVERY (0: the main thread decodes none).
  const every = envCount('REC_PARQUET_MAIN_EVERY', MAIN_EVERY);
  runGroups.set(run, base + groups);
  let lanes: { thread: ReaderThread; file: number; taken: number }[] | null = null;
  let complete = false;
  return {
    columns: file.columns,
    rows: file.rows,
    async *groups(): AsyncGenerator<ColumnGroup> {
      for await (const group of file.groups()) {
        yield {
          ...group,
          readFlat: async (names, ids) => {
            if (lanes === null) {
              const cols = { names, ids };
              lanes = [];
              for (let phase = 0; phase < stride; phase++) {
                const thread = lend(path, run, phase);
                const lane = { stride, phase, base, mainEvery: every };
                lanes.push({ thread, file: thread.open(path, cols, run, lane), taken: 0 });
                if (next !== null) thread.queueNext(next, cols, run, { ...lane, base: base + groups });
              }
            }
            if (mainGroup(group.group ?? 0, { base, mainEvery: every })) return group.readFlat?.(names, ids) ?? null;
            const l = lanes[(group.group ?? 0) % stride];
            return l.thread.take(l.file, l.taken++);
          },
        };
      }
      complete = true;
      if (lanes === null) return;
      for (const l of lanes) l.thread.idle();
      // The run's last Parquet input: the threads' memory (heaps, tables of ids) goes back before prep
      // sorts and writes, an idle one's too (started ahead on a file read with fewer threads).
      if (next === null) for (const t of threads.filter((x) => !x.busy)) await retire(t);
    },
    close: async () => {
      // Stopped part way (a bad row group, too many rejects): the threads may be mid-file; new ones serve the next.
      if (!complete) for (const l of lanes ?? []) await retire(l.thread);
      await file.close();
    },
  };
}
