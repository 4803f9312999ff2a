/**
 * Entry of the SHA-256 thread (hash-thread.ts starts it from the compiled dist/ file): it hashes the bytes of each
 * stream it is sent, in order, sending every buffer back once hashed, and answers a stream's hex digest when asked
 * (or the error that stopped its hashing).
 */
import { createHash, type Hash } from 'node:crypto';
import { parentPort } from 'node:worker_threads';
import type { HashReply, HashRequest } from './hash-thread.js';

const port = parentPort;
if (port === null) throw new Error('src/data/prep/hash-worker.js runs as a worker thread (started by rec prep), not as a script.');
const streams = new Map<number, Hash | Error>();

port.on('message', (m: HashRequest) => {
  const state = streams.get(m.stream);
  if (m.type === 'bytes') {
    if (!(state instanceof Error)) {
      try {
        const hash = state ?? createHash('sha256');
        streams.set(m.stream, hash);
        hash.update(new Uint8Array(m.buffer, 0, m.length));
      } catch (error) {
        streams.set(m.stream, error instanceof Error ? error : new Error(String(error)));
      }
    }
    port.postMessage({ type: 'hashed', stream: m.stream, buffer: m.buffer } satisfies HashReply, [m.buffer]);
    return;
  }
  streams.delete(m.stream);
  if (m.type === 'drop') return;
  const reply: HashReply =
    state instanceof Error ? { type: 'error', stream: m.stream, message: state.message } : { type: 'digest', stream: m.stream, hex: (state ?? createHash('sha256')).digest('hex') };
  port.postMessage(reply);
});
