/**
 * A batch of catalogue texts featurised in one call (text-worker.ts runs it in a worker thread, text-queue.ts
 * sends the batches): the texts travel as one string and their end offsets, the lists come back packed as the
 * store keeps them (catalogue-store.ts textPacking), in one array the store keeps as it is.
 */
import type { TextFeaturizer, TextFeaturizerOptions } from '../text.js';
import { FNV_OFFSET, LANE2_OFFSET, laneUnits, mix } from './string-hash.js';

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
/** `maxCount`: the largest count of the batch's packed lists (catalogue-build.ts skips its pass over the counts when ≤ 255). */
export type TextBatchReply = { type: 'result'; lens: Int32Array; packed: Int32Array; hashes: Int32Array; maxCount: number } | { type: 'error'; message: string; stack?: string };

/**
 * Two 32-bit hashes of s[from, to)'s UTF-16 units (FNV-1a and a multiply-xorshift lane, two units a step) into
 * out[at], out[at + 1]: the part of a catalogue row's duplicate check that reads its text, taken on the featuriser
 * thread, which reads the text anyway (catalogue-store.ts).
 */
export function unitsHash(s: string, from: number, to: number, out: Int32Array, at: number): void {
  lanes[0] = FNV_OFFSET;
  lanes[1] = LANE2_OFFSET;
  laneUnits(lanes, s, from, to);
  out[at] = mix(lanes[0]);
  out[at + 1] = mix(lanes[1]);
}

/** The two lanes' running values, reused by every call (one thread, no reentry). */
const lanes = new Int32Array(2);

/** The lists of a batch as they are made, kept from one batch to the next (one batch at a time per thread). */
let scratch = new Int32Array(1 << 18);

/**
 * Featurises the batch's texts (and hashes each, unitsHash: hashes[2i], hashes[2i + 1]): lens[i] ≥ 0 is text i's list length, its values packed (count << bits | bucket) in
 * `packed` after the lists before it; lens[i] < 0 (a count past maxCount) holds −lens[i] buckets then as many counts.
 */
export function featurizeBatch(f: TextFeaturizer, text: string, ends: Int32Array, packing: TextWorkerData['packing']): { lens: Int32Array; packed: Int32Array; hashes: Int32Array; maxCount: number } {
  const { bits } = packing;
  const lens = new Int32Array(ends.length);
  const hashes = new Int32Array(2 * ends.length);
  let packed = scratch;
  let size = 0;
  let from = 0;
  let maxCount = 0;
  for (let i = 0; i < ends.length; i++) {
    const n = f.featurizeInto(text.slice(from, ends[i]));
    unitsHash(text, from, ends[i], hashes, 2 * i);
    from = ends[i];
    if (size + 2 * n > packed.length) {
      const grown = new Int32Array(Math.max(2 * packed.length, size + 2 * n));
      grown.set(packed.subarray(0, size));
      packed = scratch = grown;
    }
    const max = f.packLast(packed, size, bits);
    if (max <= packing.maxCount) {
      if (max > maxCount) maxCount = max;
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
  return { lens, packed: packed.slice(0, size), hashes, maxCount };
}
