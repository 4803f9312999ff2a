/**
 * Entry of the catalogue's text featuriser thread (text-queue.ts starts it from the compiled dist/ file): it
 * featurises the batches of titles it is sent, in order, while the main thread reads and parses the next rows.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { TextFeaturizer } from '../text.js';
import { featurizeBatch, type TextBatchReply, type TextBatchRequest, type TextWorkerData } from './text-batch.js';

const port = parentPort;
if (port === null) throw new Error('src/data/prep/text-worker.js runs as a worker thread (started by rec prep --items), not as a script.');
const data = workerData as TextWorkerData;
const featurizer = new TextFeaturizer(data.options);

port.on('message', (m: TextBatchRequest) => {
  let reply: TextBatchReply;
  try {
    const r = featurizeBatch(featurizer, m.text, m.ends, data.packing);
    reply = { type: 'result', lens: r.lens, packed: r.packed, hashes: r.hashes, maxCount: r.maxCount };
  } catch (error) {
    const e = error instanceof Error ? error : new Error(String(error));
    reply = { type: 'error', message: e.message, stack: e.stack };
  }
  port.postMessage(reply, reply.type === 'result' ? [reply.lens.buffer as ArrayBuffer, reply.packed.buffer as ArrayBuffer, reply.hashes.buffer as ArrayBuffer] : []);
});
