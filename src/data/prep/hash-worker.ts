/**
 * Entry of the SHA-256 thread (hash-thread.ts starts it from the compiled dist/ file): it hashes the chunks of each
 * stream it is sent, in order, acknowledging each, and answers a stream's hex digest when asked.
 */
import { createHash, type Hash } from 'node:crypto';
import { parentPort } from 'node:worker_threads';
import type { HashReply, HashRequest } from './hash-thread.js';

const port = parentPort;
if (port === null) throw new Error('src/data/prep/hash-worker.js runs as a worker thread (started by rec prep), not as a script.');
const streams = new Map<number, Hash>();

port.on('message', (m: HashRequest) => {
  let reply: HashReply;
  try {
    let hash = streams.get(m.stream);
    if (hash === undefined) {
      hash = createHash('sha256');
      streams.set(m.stream, hash);
    }
    if (m.type === 'chunk') {
      hash.update(m.bytes);
      reply = { type: 'ack', stream: m.stream, bytes: m.bytes.byteLength };
    } else {
      streams.delete(m.stream);
      if (m.type === 'drop') return;
      reply = { type: 'digest', stream: m.stream, hex: hash.digest('hex') };
    }
  } catch (error) {
    reply = { type: 'error', stream: m.stream, message: error instanceof Error ? error.message : String(error) };
  }
  port.postMessage(reply);
});
