/**
 * SHA-256 of a file as it is written (manifest.files_sha256), either on the main thread or on a
 * thread of its own. Hashing the split files took about 0.16 s of the main thread's time for a
 * 10M-row log (~110 MB written) while the machine's second core sat idle. On the thread, the main
 * thread only copies the bytes (the writer's chunks are views of batch arrays that are refilled)
 * into one of HASH_BUFFERS buffers of HASH_BUFFER_BYTES, which go to the thread and come back once
 * hashed: a fixed 12 MiB whatever the file's size, and no new allocation per chunk (a fresh buffer
 * a chunk cost as much as the hashing it moved).
 */
import { createHash } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { RuntimeFailure } from '../../util/errors.js';
import { compiledWorkerEntry } from '../../util/worker-thread.js';

export type HashRequest = { type: 'bytes'; stream: number; buffer: ArrayBuffer; length: number } | { type: 'digest' | 'drop'; stream: number };
export type HashReply = { type: 'hashed'; stream: number; buffer: ArrayBuffer } | { type: 'digest'; stream: number; hex: string } | { type: 'error'; stream: number; message: string };

export const HASH_BUFFERS = 3;
export const HASH_BUFFER_BYTES = 4 << 20;

export interface StreamHash {
  /** Resolves once the chunk's bytes are copied (or hashed, on the main thread): the chunk may then change. */
  update(chunk: Uint8Array): Promise<void>;
  digest(): Promise<string>;
  /** Forgets the stream (a failed write). */
  drop(): void;
}

/** On the main thread. */
export function localHash(): StreamHash {
  const hash = createHash('sha256');
  return {
    update: (chunk) => {
      hash.update(chunk);
      return Promise.resolve();
    },
    digest: () => Promise.resolve(hash.digest('hex')),
    drop: () => undefined,
  };
}

interface Digest {
  resolve: (hex: string) => void;
  reject: (error: Error) => void;
}

/** The process's hash thread, started on first use; it holds the process open only while a stream is open. */
class HashThread {
  private readonly worker: Worker;
  private readonly free: ArrayBuffer[] = [];
  private made = 0;
  private waiting: (() => void)[] = [];
  private readonly digests = new Map<number, Digest>();
  private open = 0;
  private next = 0;
  failure: Error | null = null;

  constructor() {
    this.worker = new Worker(compiledWorkerEntry(import.meta.url, 'src/data/prep', 'hash thread', 'hash-worker.js'));
    this.worker.on('message', (m: HashReply) => this.answer(m));
    this.worker.on('error', (error) => this.fail(error.message));
    this.worker.on('exit', (code) => this.fail(`it exited with code ${code}`));
    this.worker.unref();
  }

  stream(): StreamHash {
    const stream = this.next++;
    this.opened(1);
    let buffer: ArrayBuffer | null = null;
    let fill = 0;
    let closed = false;
    const send = (): void => {
      if (buffer === null) return;
      this.worker.postMessage({ type: 'bytes', stream, buffer, length: fill } satisfies HashRequest, [buffer]);
      buffer = null;
      fill = 0;
    };
    const close = (): void => {
      if (!closed) this.opened(-1);
      closed = true;
    };
    return {
      update: async (chunk) => {
        for (let off = 0; off < chunk.byteLength; ) {
          buffer ??= await this.take();
          const n = Math.min(HASH_BUFFER_BYTES - fill, chunk.byteLength - off);
          new Uint8Array(buffer, fill, n).set(chunk.subarray(off, off + n));
          fill += n;
          off += n;
          if (fill === HASH_BUFFER_BYTES) send();
        }
      },
      digest: () =>
        new Promise<string>((resolve, reject) => {
          if (this.failure !== null) return reject(this.failure);
          send();
          this.digests.set(stream, { resolve, reject });
          this.worker.postMessage({ type: 'digest', stream } satisfies HashRequest);
        }).finally(close),
      drop: () => {
        if (buffer !== null) this.free.push(buffer);
        buffer = null;
        this.worker.postMessage({ type: 'drop', stream } satisfies HashRequest);
        close();
      },
    };
  }

  /** A buffer to copy into: a free one, a new one while fewer than HASH_BUFFERS exist, else the next one hashed. */
  private async take(): Promise<ArrayBuffer> {
    for (;;) {
      if (this.failure !== null) throw this.failure;
      const b = this.free.pop();
      if (b !== undefined) return b;
      if (this.made < HASH_BUFFERS) {
        this.made++;
        return new ArrayBuffer(HASH_BUFFER_BYTES);
      }
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
  }

  private answer(m: HashReply): void {
    if (m.type === 'hashed') {
      this.free.push(m.buffer);
      this.waiting.shift()?.();
      return;
    }
    const d = this.digests.get(m.stream);
    this.digests.delete(m.stream);
    if (m.type === 'digest') d?.resolve(m.hex);
    else d?.reject(new RuntimeFailure(`The hash thread failed: ${m.message}`));
  }

  /** Holds the process open while a stream is open (a digest is awaited), not otherwise. */
  private opened(delta: number): void {
    this.open += delta;
    if (this.open === 1 && delta > 0) this.worker.ref();
    if (this.open === 0) this.worker.unref();
  }

  private fail(cause: string): void {
    this.failure ??= new RuntimeFailure(`The hash thread failed: ${cause}`);
    for (const d of this.digests.values()) d.reject(this.failure);
    this.digests.clear();
    for (const w of this.waiting) w();
    this.waiting = [];
  }
}

let thread: HashThread | null = null;

/** `REC_HASH_THREAD=0` in the environment hashes every file on the main thread. */
function threadWanted(): boolean {
  return process.env.REC_HASH_THREAD !== '0';
}

/** Starts the hash thread ahead of its first file, so that its start overlaps the main thread's work. */
export function warmHashThread(): void {
  if (threadWanted() && (thread === null || thread.failure !== null)) thread = new HashThread();
}

/** A stream hashed on the hash thread (started now when it is not running yet, or again after it failed). */
export function threadHash(): StreamHash {
  if (!threadWanted()) return localHash();
  warmHashThread();
  return (thread as HashThread).stream();
}
