/**
 * Lines of a small text file the user hands to a command (a candidates file, a list of user ids),
 * split by the same splitter as `rec prep` (util/lines.ts): LF, CRLF or a lone CR end a line, a
 * UTF-8 BOM is dropped only before the first line, `.gz` files are decompressed, UTF-16/32 text is
 * refused (util/lines.ts sniffWideEncoding).
 *
 * Unlike prep, which rejects and counts a bad row, these readers stop at the first line that is
 * not UTF-8 or is over MAX_LINE_BYTES, with a DataError naming file:line. Such files hold ids, and
 * decoding a bad byte to U+FFFD would merge distinct ids into one, silently; a partial list (bad
 * lines skipped) would change which users are evaluated or served, so the whole file is refused.
 */
import { isUtf8 } from 'node:buffer';
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { DataError, UsageError } from '../util/errors.js';
import { LineSplitter, MAX_LINE_BYTES, sniffWideEncoding, utf8Detail, wideEncodingMessage } from '../util/lines.js';

export interface TextLine {
  /** The line without its terminator (and without the BOM on line 1). */
  text: string;
  /** 1-based physical line number, counting blank lines too. */
  line: number;
}

/**
 * Yields every physical line of `path`, in order. `what` names the file in messages (e.g.
 * `--protocol candidates file`). A missing file is a UsageError (exit 2); an unreadable, corrupt
 * .gz, non-UTF-8 or over-long line a DataError (exit 1) naming path:line.
 */
export async function* readTextLines(path: string, what: string): AsyncGenerator<TextLine> {
  const stream = createReadStream(path);
  try {
    await new Promise<void>((resolve, reject) => {
      stream.once('open', () => resolve());
      stream.once('error', reject);
    });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new UsageError(`${what} not found: ${path}. Expected an existing text file.`, { cause: error });
    throw new DataError(`Cannot read ${what} ${path}: ${code ?? (error as Error).message}.`, { cause: error });
  }
  // pipeline, not pipe: a read error on the file must reach the gunzip stream we iterate, or the
  // loop below would wait forever.
  const gzip = path.toLowerCase().endsWith('.gz');
  const input: AsyncIterable<Buffer> = gzip ? pipeline(stream, createGunzip(), () => {}) : stream;
  let pending: TextLine[] = [];
  const splitter = new LineSplitter({
    onLine(buf, start, end, line, utf8) {
      if (!utf8 && !isUtf8(buf.subarray(start, end))) throw new DataError(`${path}:${line}: ${utf8Detail(buf, start, end)}.`);
      pending.push({ text: buf.toString('utf8', start, end), line });
    },
    onLongLine(line, _head, bytes) {
      throw new DataError(`${path}:${line}: line of ${bytes} bytes or more. Expected lines under ${MAX_LINE_BYTES} bytes (${what}).`);
    },
  });
  let first = true;
  try {
    for await (const chunk of input) {
      if (first) {
        first = false;
        // UTF-16/32 lines are valid UTF-8 with a NUL after every character: ids that match nothing.
        const wide = sniffWideEncoding(chunk);
        if (wide !== null) throw new DataError(`${wideEncodingMessage(path, wide, gzip)} Expected UTF-8 text (${what}).`);
      }
      splitter.push(chunk);
      yield* drain();
    }
    splitter.finish();
    yield* drain();
  } catch (error) {
    if (error instanceof DataError) throw error;
    throw new DataError(`${path}:${splitter.line + 1}: cannot read ${what}: ${(error as Error).message}.`, { cause: error });
  } finally {
    // The caller may stop early (a bad line of its own): release the file either way.
    stream.destroy();
  }

  function drain(): TextLine[] {
    const out = pending;
    pending = [];
    return out;
  }
}
