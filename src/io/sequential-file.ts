/**
 * A file written once from start to end (the dataset's Arrow files): its first DIRECT_FROM bytes
 * through the page cache, the rest around it (O_DIRECT) where the platform allows.
 *
 * Why around it: a buffered write copies every byte into page-cache pages the kernel must first
 * allocate, and on a virtual machine whose host takes freed guest memory back (free page reporting,
 * as on the Firecracker machine rec's benchmarks run on) each fresh page costs a fault in the host.
 * There the 1M-item bench catalogue's 540 MB of files took 5–7 s of system time to write buffered and
 * about 1 s direct (docs/benchmarks.md, "Session 15"). Nothing reads these files back in the same
 * run, so the page cache gained nothing; big sequential outputs go direct for the same reason in
 * DeepSpeed's FastPersist checkpoints and RocksDB's flushes (use_direct_io_for_flush_and_compaction).
 *
 * O_DIRECT wants the memory, the file offset and the length aligned to the device's block: chunks
 * are copied into staging blocks (two of BLOCK bytes, one filled while the other is written), whose
 * aligned start is found by trying offsets into an over-allocated buffer (JavaScript cannot ask for an
 * address), and the last block is padded with zeros and the file truncated to its length. Where the
 * file system or platform refuses O_DIRECT (macOS, Windows, tmpfs before Linux 6.6) the whole file is
 * written buffered, as it is under REC_DIRECT_IO=0.
 */
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';

/** O_DIRECT's flag, where the platform has one (Linux; not macOS or Windows). */
const O_DIRECT = (constants as Record<string, number | undefined>).O_DIRECT;

/** Bytes of one staging block (a multiple of every device block size, 512 or 4096). */
const BLOCK = 1 << 22;
/** The largest device block this aligns for. */
const ALIGN = 4096;
/** Bytes written through the page cache before the rest goes direct: a small file has nothing to gain. */
export const DIRECT_FROM = 2 * BLOCK;

export interface SequentialFile {
  /** Appends the chunks; they may be reused once the promise resolves. */
  write(chunks: readonly Uint8Array[]): Promise<void>;
  /** Writes what is left and closes the file. */
  close(): Promise<void>;
  /** Closes the file after a failure, writing nothing more. */
  abort(): Promise<void>;
  /** Whether the file's bytes past `directFrom` went around the page cache. */
  readonly direct: boolean;
}

export interface SequentialOptions {
  /** Where the direct part starts (a multiple of 4096; DIRECT_FROM; a test's smaller one). */
  directFrom?: number;
}

/**
 * Opens `path` (created or truncated) for writing from start to end: its first `directFrom` bytes
 * buffered, the rest direct where the platform and file system allow it, unless REC_DIRECT_IO=0.
 */
export async function openSequential(path: string, opts: SequentialOptions = {}): Promise<SequentialFile> {
  const from = opts.directFrom ?? DIRECT_FROM;
  if (from % ALIGN !== 0) throw new Error(`directFrom ${from} is not a multiple of ${ALIGN}`);
  return new Sequential(path, await open(path, 'w'), from);
}

class Sequential implements SequentialFile {
  private position = 0;
  private tail: DirectFile | null = null;
  /** Whether O_DIRECT was tried (once, at directFrom). */
  private tried = false;

  private readonly path: string;
  private readonly fh: FileHandle;
  private readonly directFrom: number;

  constructor(path: string, fh: FileHandle, directFrom: number) {
    this.path = path;
    this.fh = fh;
    this.directFrom = directFrom;
  }

  get direct(): boolean {
    return this.tail !== null;
  }

  async write(chunks: readonly Uint8Array[]): Promise<void> {
    if (this.tail !== null) return this.tail.write(chunks);
    let bytes = 0;
    for (const c of chunks) bytes += c.byteLength;
    if (this.tried || this.position + bytes <= this.directFrom || !directAllowed()) {
      await this.writeBuffered(chunks);
      return;
    }
    // The head to directFrom through the page cache, then the rest direct (from an aligned offset).
    const head: Uint8Array[] = [];
    const rest: Uint8Array[] = [];
    let left = this.directFrom - this.position;
    for (const c of chunks) {
      if (left >= c.byteLength) head.push(c);
      else if (left > 0) {
        head.push(c.subarray(0, left));
        rest.push(c.subarray(left));
      } else rest.push(c);
      left -= c.byteLength;
    }
    await this.writeBuffered(head);
    this.tried = true;
    this.tail = await DirectFile.open(this.path, this.position);
    if (this.tail !== null) await this.tail.write(rest);
    else await this.writeBuffered(rest);
  }

  private async writeBuffered(chunks: readonly Uint8Array[]): Promise<void> {
    let rest = chunks;
    while (rest.length > 0) {
      let n = (await this.fh.writev(rest as Uint8Array[], this.position)).bytesWritten;
      this.position += n;
      // A short write continues where it stopped.
      let k = 0;
      while (k < rest.length && n >= rest[k].byteLength) n -= rest[k++].byteLength;
      rest = rest.slice(k);
      if (n > 0) rest = [rest[0].subarray(n), ...rest.slice(1)];
    }
  }

  async close(): Promise<void> {
    try {
      await this.tail?.close();
    } finally {
      await this.fh.close();
    }
  }

  async abort(): Promise<void> {
    try {
      await this.tail?.abort();
    } finally {
      await this.fh.close();
    }
  }
}

function directAllowed(): boolean {
  return O_DIRECT !== undefined && process.env.REC_DIRECT_IO !== '0';
}

/** A staging block: BLOCK aligned bytes from `base` in the file's buffer, filled to `fill`. */
interface Stage {
  base: number;
  fill: number;
  /** Its write, while one is in flight. */
  writing: Promise<void> | null;
}

/** The file's bytes from an aligned offset on, written through a second handle opened O_DIRECT. */
class DirectFile {
  private position: number;
  private readonly stages: [Stage, Stage];
  private current = 0;
  private failure: unknown = null;

  private readonly fh: FileHandle;
  /** Both stages: the first from an aligned offset, the second BLOCK after it. */
  private readonly buf: Uint8Array;

  private constructor(fh: FileHandle, buf: Uint8Array, at: number, position: number) {
    this.fh = fh;
    this.buf = buf;
    this.position = position;
    this.stages = [
      { base: at, fill: 0, writing: null },
      { base: at + BLOCK, fill: 0, writing: null },
    ];
  }

  /**
   * The file from `position` on, once a first aligned write there went through; null when the
   * platform or file system refuses O_DIRECT (the caller writes on buffered).
   */
  static async open(path: string, position: number): Promise<DirectFile | null> {
    let fh: FileHandle;
    try {
      fh = await open(path, constants.O_WRONLY | (O_DIRECT ?? 0));
    } catch {
      // EINVAL: the file system has no O_DIRECT (tmpfs before Linux 6.6, some FUSE file systems).
      return null;
    }
    const buf = new Uint8Array(2 * BLOCK + ALIGN);
    for (let at = 0; at < ALIGN; at += 16) {
      try {
        // A block of zeros where the direct part starts, overwritten by its first block.
        await fh.write(buf, at, ALIGN, position);
        return new DirectFile(fh, buf, at, position);
      } catch {
        // EINVAL: memory not aligned at this offset.
      }
    }
    await fh.close();
    return null;
  }

  async write(chunks: readonly Uint8Array[]): Promise<void> {
    for (const chunk of chunks) {
      let from = 0;
      while (from < chunk.byteLength) {
        const stage = this.stages[this.current];
        const n = Math.min(BLOCK - stage.fill, chunk.byteLength - from);
        this.buf.set(chunk.subarray(from, from + n), stage.base + stage.fill);
        stage.fill += n;
        from += n;
        if (stage.fill === BLOCK) await this.send(stage, BLOCK);
      }
    }
    if (this.failure !== null) throw this.failure;
  }

  /** Starts writing the stage's block and makes the other stage current, once its own write is done. */
  private async send(stage: Stage, bytes: number): Promise<void> {
    const at = this.position;
    this.position += bytes;
    stage.writing = this.writeBlock(stage.base, bytes, at).then(
      () => undefined,
      (error: unknown) => {
        this.failure ??= error;
      },
    );
    this.current = 1 - this.current;
    const next = this.stages[this.current];
    if (next.writing !== null) await next.writing;
    next.writing = null;
    next.fill = 0;
    if (this.failure !== null) throw this.failure;
  }

  private async writeBlock(base: number, bytes: number, position: number): Promise<void> {
    let done = 0;
    while (done < bytes) {
      const { bytesWritten } = await this.fh.write(this.buf, base + done, bytes - done, position + done);
      if (bytesWritten === 0 || bytesWritten % 512 !== 0) throw new Error(`a direct write stopped after ${done + bytesWritten} of ${bytes} bytes`);
      done += bytesWritten;
    }
  }

  async close(): Promise<void> {
    try {
      const stage = this.stages[this.current];
      const size = this.position + stage.fill;
      if (stage.fill > 0) {
        const padded = Math.ceil(stage.fill / ALIGN) * ALIGN;
        this.buf.fill(0, stage.base + stage.fill, stage.base + padded);
        await this.send(stage, padded);
      }
      for (const s of this.stages) if (s.writing !== null) await s.writing;
      if (this.failure !== null) throw this.failure;
      await this.fh.truncate(size);
    } finally {
      await this.fh.close();
    }
  }

  async abort(): Promise<void> {
    for (const s of this.stages) if (s.writing !== null) await s.writing;
    await this.fh.close();
  }
}
