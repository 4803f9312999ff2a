/**
 * SHA-256 of a file as it is written (manifest.files_sha256), either on the main thread or on a
 * thread of its own. Hashing the split files took about 0.16 s of the main thread's time for a
 * 10M-row log (~110 MB written) while the machine's second core sat idle; on the thread, the main
 * thread only copies each chunk (its arrays are refilled for the next batch) and goes on building
 * the next batch. At most HASH_BACKLOG bytes of copies wait for the thread, so memory stays the
 * same whatever the file's size.
 */
import { createHash } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { RuntimeFailure } from '../../util/errors.js';
import { compiledWorkerEntry } from '../../util/worker-thread.js';

export type HashRequest = { type: 'chunk'; stream: number; bytes: Uint8Array } | { type: 'digest' | 'drop'; stream: number };
export type HashReply = { type: 'ack'; stream: number; bytes: number } | { type: 'digest'; stream: number; hex: string } | { type: 'error'; stream: number; message: string };

/** Bytes of copies a stream may have waiting for the thread before update()'s caller waits (room()). */
export const HASH_BACKLOG = 8 << 20;

export interface StreamHash {
  update(chunk: Uint8Array): void;
  /** Resolves once the backlog is under HASH_BACKLOG. */
  room(): Promise<void>;
  digest(): Promise<string>;
  /** Forgets the stream (a failed write). */
  drop(): void;
}

/** On the main thread. */
export function localHash(): StreamHash {
  const hash = createHash('sha256');
  return {
    update: (chunk) => hash.update(chunk),
    room: () => Promise.resolve(),
    digest: () => Promise.resolve(hash.digest('hex')),
    drop: () => undefined,
  };
}

interface Pending {
  backlog: number;
  wake: (() => void) | null;
  digest: ((hex: string) => void) | null;
  failure: Error | null;
  fail: ((error: Error) => void) | null;
}

/** The process's hash thread, started on first use; it holds the process open only while a stream is open. */
class HashThread {
  private readonly worker: Worker;
  private readonly streams = new Map<number, Pending>();
  private next = 0;
  dead = false;

  constructor() {
    this.worker = new Worker(compiledWorkerEntry(import.meta.url, 'src/data/prep', 'hash thread', 'hash-worker.js'));
    this.worker.on('message', (m: HashReply) => this.answer(m));
    this.worker.on('error', (error) => this.failAll(error.message));
    this.worker.on('exit', (code) => {
      this.dead = true;
      this.failAll(`it exited with code ${code}`);
    });
    this.worker.unref();
  }

  open(): StreamHash {
    const stream = this.next++;
    const p: Pending = { backlog: 0, wake: null, digest: null, failure: null, fail: null };
    this.streams.set(stream, p);
    this.worker.ref();
    const check = (): void => {
      if (p.failure !== null) throw p.failure;
    };
    return {
      update: (chunk) => {
        check();
        const bytes = chunk.slice();
        p.backlog += bytes.byteLength;
        this.worker.postMessage({ type: 'chunk', stream, bytes } satisfies HashRequest, [bytes.buffer as ArrayBuffer]);
      },
      room: async () => {
        while (p.failure === null && p.backlog > HASH_BACKLOG) await new Promise<void>((resolve) => (p.wake = resolve));
        check();
      },
      digest: () =>
        new Promise<string>((resolve, reject) => {
          if (p.failure !== null) return reject(p.failure);
          p.digest = resolve;
          p.fail = reject;
          this.worker.postMessage({ type: 'digest', stream } satisfies HashRequest);
        }),
      drop: () => {
        this.worker.postMessage({ type: 'drop', stream } satisfies HashRequest);
        this.close(stream);
      },
    };
  }

  private answer(m: HashReply): void {
    const p = this.streams.get(m.stream);
    if (p === undefined) return;
    if (m.type === 'ack') {
      p.backlog -= m.bytes;
      const w = p.wake;
      p.wake = null;
      w?.();
    } else if (m.type === 'digest') {
      this.close(m.stream);
      p.digest?.(m.hex);
    } else this.failStream(m.stream, p, m.message);
  }

  private close(stream: number): void {
    this.streams.delete(stream);
    if (this.streams.size === 0) this.worker.unref();
  }

  private failAll(cause: string): void {
    for (const [stream, p] of [...this.streams]) this.failStream(stream, p, cause);
  }

  private failStream(stream: number, p: Pending, cause: string): void {
    p.failure ??= new RuntimeFailure(`The hash thread failed: ${cause}`);
    this.close(stream);
    p.wake?.();
    p.fail?.(p.failure);
  }
}

let thread: HashThread | null = null;

/** A stream hashed on the hash thread (started now when it is not running yet). */
export function threadHash(): StreamHash {
  if (thread === null || thread.dead) thread = new HashThread();
  return thread.open();
}
