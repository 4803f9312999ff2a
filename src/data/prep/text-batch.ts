/**
 * A batch of catalogue texts featurised in one call (text-worker.ts runs it in a worker thread, text-queue.ts
 * sends the batches): the texts travel as one string and their end offsets, the lists come back packed as the
 * store keeps them (catalogue-store.ts textPacking), in one array the store keeps as it is.
 */
import type { TextFeaturizer, TextFeaturizerOptions } from '../text.js';

/** What the worker thread is started with. */
export interface TextWorkerData {
  options: Required<TextFeaturizerOptions>;
  packing: { bits: number; maxCount: number };
}

/** main → worker: text i is text.slice(ends[i − 1] (0 for i = 0), ends[i]). */
export interface TextBatchRequest {
  text: string;
  ends: Int32Array;
}

/** worker → main, one per request and in their order. */
export type TextBatchReply = { type: 'result'; lens: Int32Array; packed: Int32Array } | { type: 'error'; message: string; stack?: string };

/** The lists of a batch as they are made, kept from one batch to the next (one batch at a time per thread). */
let scratch = new Int32Array(1 << 18);

/**
 * Featurises the batch's texts: lens[i] ≥ 0 is text i's list length, its values packed (count << bits | bucket) in
 * `packed` after the lists before it; lens[i] < 0 (a count past maxCount) holds −lens[i] buckets then as many counts.
 */
export function featurizeBatch(f: TextFeaturizer, text: string, ends: Int32Array, packing: TextWorkerData['packing']): { lens: Int32Array; packed: Int32Array } {
  const { bits, maxCount } = packing;
  const lens = new Int32Array(ends.length);
  let packed = scratch;
  let size = 0;
  let from = 0;
  for (let i = 0; i < ends.length; i++) {
    const n = f.featurizeInto(text.slice(from, ends[i]));
    from = ends[i];
    if (size + 2 * n > packed.length) {
      const grown = new Int32Array(Math.max(2 * packed.length, size + 2 * n));
      grown.set(packed.subarray(0, size));
      packed = scratch = grown;
    }
    const max = f.packLast(packed, size, bits);
    if (max <= maxCount) {
      lens[i] = n;
      size += n;
    } else {
      packed.set(f.lastBuckets, size);
      packed.set(f.lastCounts, size + n);
      lens[i] = -n;
      size += 2 * n;
    }
  }
  // Sized to its lists: the store keeps this array as it is (TextLists.pushPacked).
  return { lens, packed: packed.slice(0, size) };
}
