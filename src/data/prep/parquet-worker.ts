/**
 * Entry of the Parquet reader thread (parquet-thread.ts starts it from the compiled dist/ file): it
 * reads the files it is sent one at a time, each row group's mapped columns through the flat decoder,
 * numbering the id columns' ASCII ids in its tables (kept over a run's files), a few slices ahead of
 * the main thread.
 */
import { parentPort } from 'node:worker_threads';
import { ColumnReadError } from './columnar.js';
import { keysToWire, LocalIds } from './parquet-flat.js';
import { mainGroup, type ReaderReply, type ReaderRequest, type WireSlice } from './parquet-thread.js';
import { openParquet } from './parquet.js';
import { IdVocab } from './vocab.js';

const port = parentPort;
if (port === null) throw new Error('src/data/prep/parquet-worker.js runs as a worker thread (started by rec prep for Parquet inputs), not as a script.');

let current = 0;
/**
 * Whether the current file is still being read, and the files queued to be read after it, in order
 * (the main thread may queue the one after next before this thread has finished the current one).
 */
let reading = false;
const queued: Extract<ReaderRequest, { type: 'file' }>[] = [];
let credits = 0;
let wake: (() => void) | null = null;
/** Each id column's table of ids, and how many tables were made (their numbers). */
const tables = new Map<string, LocalIds>();
let made = 0;

function tableFor(name: string, limit: number): LocalIds {
  let t = tables.get(name);
  if (t === undefined || t.count >= limit) {
    t = new LocalIds(new IdVocab(), ++made);
    tables.set(name, t);
  }
  return t;
}

function post(reply: ReaderReply, transfer: ArrayBuffer[] = []): void {
  (port as NonNullable<typeof port>).postMessage(reply, transfer);
}

/** Reads the file's row groups of its lane; true once all are sent (false: another file was asked for, or an error was sent). */
async function readFile(m: Extract<ReaderRequest, { type: 'file' }>): Promise<boolean> {
  let seq = 0;
  try {
    const file = await openParquet(m.path);
    try {
      for await (const group of file.groups()) {
        // The other threads' row groups: nothing of theirs is read here.
        if (mainGroup(group.group ?? 0, m) || (group.group ?? 0) % m.stride !== m.phase) continue;
        while (credits === 0 && current === m.file) await new Promise<void>((resolve) => (wake = resolve));
        if (current !== m.file) return false;
        credits--;
        const flat = group.readFlat === undefined ? null : await group.readFlat(m.names, m.ids);
        if (flat === null) {
          post({ type: 'slice', file: m.file, seq: seq++, slices: null });
          continue;
        }
        const slices: WireSlice[] = [];
        const transfer: ArrayBuffer[] = [];
        for (const [name, slice] of flat) {
          const ids = m.ids.includes(name) ? tableFor(name, m.limit) : undefined;
          const keys = keysToWire(slice.keys);
          const wire: WireSlice = { name, codes: slice.codes, keys, local: ids === undefined ? null : { ids: ids.index(slice), table: ids.table, count: ids.count } };
          slices.push(wire);
          transfer.push(wire.codes.buffer as ArrayBuffer, keys.data.buffer as ArrayBuffer, keys.starts.buffer as ArrayBuffer, keys.ends.buffer as ArrayBuffer);
          transfer.push(keys.ascii.buffer as ArrayBuffer, keys.nums.buffer as ArrayBuffer, keys.wide.buffer as ArrayBuffer);
          if (wire.local !== null) transfer.push(wire.local.ids.buffer as ArrayBuffer);
        }
        post({ type: 'slice', file: m.file, seq: seq++, slices }, transfer);
      }
    } finally {
      await file.close();
    }
    return true;
  } catch (error) {
    const e = error instanceof Error ? error : new Error(String(error));
    post({ type: 'error', file: m.file, seq, column: error instanceof ColumnReadError ? error.column : null, message: e.message });
    return false;
  }
}

/** Starts reading a file (any file read before is dropped). */
function begin(m: Extract<ReaderRequest, { type: 'file' }>): void {
  current = m.file;
  credits = m.ahead;
  reading = true;
  if (m.fresh) tables.clear();
  const w = wake;
  wake = null;
  w?.();
  void readFile(m).then((done) => {
    if (m.file !== current) return;
    reading = false;
    const q = queued.shift();
    if (!done) queued.length = 0;
    else if (q !== undefined) begin(q);
  });
}

port.on('message', (m: ReaderRequest) => {
  if (m.type === 'file') {
    if (!m.queued) {
      queued.length = 0;
      begin(m);
    } else if (reading) {
      queued.push(m);
    } else {
      begin(m);
    }
  } else if (m.file === current) {
    credits++;
    const w = wake;
    wake = null;
    w?.();
  }
});
