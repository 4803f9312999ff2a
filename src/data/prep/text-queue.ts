/**
 * Featurising a catalogue's texts in a worker thread (issue #21: the featuriser is about half of a prep's CPU time,
 * and the machine's other core was idle while one thread read, parsed and featurised). The reader hands each text
 * to the queue (the store's DeferredTexts) and goes on with the next rows; the texts go to the thread TEXT_BATCH at
 * a time, and their lists come back, in order, into the store's columns. At most MAX_IN_FLIGHT batches are out:
 * past that the reader waits (`room`), so memory stays flat whatever the catalogue's size. The lists are those the
 * main thread would have computed (the same featuriser and settings), so the files written do not change.
 */
import { Worker } from 'node:worker_threads';
import { RuntimeFailure } from '../../util/errors.js';
import { envCount } from '../../util/numbers.js';
import { compiledWorkerEntry } from '../../util/worker-thread.js';
import type { TextFeaturizer } from '../text.js';
import { textPacking, type DeferredTexts, type SlotColumn } from './catalogue-store.js';
import { featurizeBatch, type TextBatchReply, type TextBatchRequest, type TextWorkerData } from './text-batch.js';

/** Texts per batch: large enough that a message's cost is small beside its featurising (≈10 ms). */
export const TEXT_BATCH = 2048;
/** A batch is also sent once its texts hold this many UTF-16 units (long descriptions). */
const BATCH_CHARS = 1 << 22;
/** Batches sent and not yet back before the reader waits. */
const MAX_IN_FLIGHT = 8;
/**
 * Every how many batches the main thread featurises one itself: the thread alone was the slower of the two
 * (1M-item bench catalogue: it busy all through the read, the main thread about 70 %), so the main thread
 * takes a share while the thread works on the batches before it. REC_TEXT_MAIN_EVERY overrides it (0: none).
 */
const MAIN_EVERY = 5;

interface SentBatch {
  columns: SlotColumn[];
  slots: Int32Array;
  /** Its lists once they are in (the thread's reply, or featurised here at once); stored once every batch before it is. */
  lists: Extract<TextBatchReply, { type: 'result' }> | null;
}

export class TextQueue implements DeferredTexts {
  private readonly worker: Worker;
  private readonly maxChars: number;
  private parts: string[] = [];
  private columns: SlotColumn[] = [];
  private slots = new Int32Array(TEXT_BATCH);
  private ends = new Int32Array(TEXT_BATCH);
  private chars = 0;
  private readonly sent: SentBatch[] = [];
  private failure: Error | null = null;
  private wake: (() => void) | null = null;
  private closing = false;
  private readonly featurizer: TextFeaturizer;
  private readonly packing: TextWorkerData['packing'];
  private readonly mainEvery: number;
  /** Batches made so far (which of them this thread featurises). */
  private made = 0;

  constructor(featurizer: TextFeaturizer) {
    const spec = featurizer.spec();
    const data: TextWorkerData = {
      options: { numBuckets: spec.num_buckets, seed: spec.seed, maxChars: spec.max_chars, maxUnits: spec.max_units },
      packing: textPacking(spec.num_buckets),
    };
    this.featurizer = featurizer;
    this.packing = data.packing;
    this.mainEvery = envCount('REC_TEXT_MAIN_EVERY', MAIN_EVERY);
    this.maxChars = spec.max_chars;
    this.worker = new Worker(compiledWorkerEntry(import.meta.url, 'src/data/prep', 'catalogue featuriser thread', 'text-worker.js'), { workerData: data });
    this.worker.on('message', (m: TextBatchReply) => this.onReply(m));
    this.worker.on('error', (error) => this.fail(error.message));
    this.worker.on('exit', (code) => {
      if (!this.closing) this.fail(`the thread exited with code ${code}`);
    });
  }

  add(column: SlotColumn, slot: number, text: string): void {
    // The featuriser reads maxChars units at most; one more keeps its cut (never inside a surrogate pair) the same.
    const t = text.length > this.maxChars + 1 ? text.slice(0, this.maxChars + 1) : text;
    const n = this.parts.length;
    this.parts.push(t);
    this.columns.push(column);
    this.slots[n] = slot;
    this.chars += t.length;
    this.ends[n] = this.chars;
    if (n + 1 === TEXT_BATCH || this.chars >= BATCH_CHARS) this.send();
  }

  /** Resolves once few enough batches are out for the reader to go on. */
  async room(): Promise<void> {
    while (this.failure === null && this.sent.length > MAX_IN_FLIGHT) await new Promise<void>((resolve) => (this.wake = resolve));
    if (this.failure !== null) throw this.failure;
  }

  /** Sends what is left and resolves once every list is in the store. */
  async finish(): Promise<void> {
    if (this.parts.length > 0) this.send();
    while (this.failure === null && this.sent.length > 0) await new Promise<void>((resolve) => (this.wake = resolve));
    if (this.failure !== null) throw this.failure;
  }

  async close(): Promise<void> {
    this.closing = true;
    await this.worker.terminate();
  }

  private send(): void {
    const n = this.parts.length;
    const request: TextBatchRequest = { text: this.parts.join(''), ends: this.ends.subarray(0, n) };
    const batch: SentBatch = { columns: this.columns, slots: this.slots.subarray(0, n), lists: null };
    this.made++;
    if (this.mainEvery > 0 && this.made % this.mainEvery === 0) {
      // The same lists the thread would make (one featuriser's settings), so the files do not change.
      batch.lists = { type: 'result', ...featurizeBatch(this.featurizer, request.text, request.ends, this.packing) };
      this.sent.push(batch);
      this.storeReady();
    } else {
      this.worker.postMessage(request, [this.ends.buffer]);
      this.sent.push(batch);
    }
    this.parts = [];
    this.columns = [];
    this.slots = new Int32Array(TEXT_BATCH);
    this.ends = new Int32Array(TEXT_BATCH);
    this.chars = 0;
  }

  private onReply(m: TextBatchReply): void {
    if (m.type === 'error') return this.fail(m.message);
    // Replies come in the order the thread was sent its batches: this one is the oldest still out.
    const batch = this.sent.find((b) => b.lists === null);
    if (batch === undefined) return this.fail('a reply came with no batch sent');
    batch.lists = m;
    this.storeReady();
    this.notify();
  }

  /** Stores the lists of the batches at the head of the queue whose lists are in, in order. */
  private storeReady(): void {
    while (this.sent.length > 0 && this.sent[0].lists !== null) {
      const batch = this.sent.shift() as SentBatch;
      const m = batch.lists as NonNullable<SentBatch['lists']>;
      let at = 0;
      for (let i = 0; i < m.lens.length; i++) {
        const len = m.lens[i];
        batch.columns[i].resolveText(batch.slots[i], m.packed, at, len, m.hashes, 2 * i, m.maxCount);
        at += len >= 0 ? len : -2 * len;
      }
    }
  }

  private fail(cause: string): void {
    this.failure ??= new RuntimeFailure(`The catalogue's text featuriser thread failed: ${cause}`);
    this.notify();
  }

  private notify(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }
}
