import { describe, expect, it } from 'vitest';
import { LineSplitter, MAX_LINE_BYTES, utf8ErrorOffset } from '../../../src/util/lines.js';
import { Prng } from '../../../src/util/prng.js';

interface Seen {
  lines: [number, string, boolean][];
  long: [number, number][];
}

/** Lines (number, latin1 text, utf8 flag) and long lines the splitter reports for `data` fed in chunks. */
function split(data: Buffer, size: (k: number) => number = () => data.length): Seen {
  const seen: Seen = { lines: [], long: [] };
  const s = new LineSplitter({
    onLine: (buf, start, end, lineNo, utf8) => seen.lines.push([lineNo, buf.toString('latin1', start, end), utf8]),
    onLongLine: (lineNo, _head, bytes) => seen.long.push([lineNo, bytes]),
  });
  for (let pos = 0, k = 0; pos < data.length; k++) {
    const end = Math.min(data.length, pos + Math.max(1, size(k)));
    s.push(data.subarray(pos, end));
    pos = end;
  }
  s.finish();
  return seen;
}

const texts = (seen: Seen): string[] => seen.lines.map((l) => l[1]);

describe('LineSplitter', () => {
  it('ends lines at LF, CRLF and a lone CR, numbering every physical line', () => {
    const seen = split(Buffer.from('a\nb\r\nc\rd\r\r\ne'));
    expect(seen.lines.map((l) => [l[0], l[1]])).toEqual([
      [1, 'a'],
      [2, 'b'],
      [3, 'c'],
      [4, 'd'],
      [5, ''],
      [6, 'e'],
    ]);
  });

  it('reads a CR-only file as lines, not as one row', () => {
    expect(texts(split(Buffer.from('u,i,r\r1,2,3\r4,5,6\r')))).toEqual(['u,i,r', '1,2,3', '4,5,6']);
  });

  it('drops a BOM before the first line only, even when it arrives one byte at a time', () => {
    const data = Buffer.from('\ufeffa,b\n\ufeffc\n');
    expect(texts(split(data, () => 1))).toEqual(['a,b', '\xef\xbb\xbfc']);
    expect(texts(split(Buffer.from([0xef, 0xbb])))).toEqual(['\xef\xbb']);
  });

  it('gives the same lines whatever the chunk sizes, CRLF cut between chunks included', () => {
    const rng = Prng.fromSeed(1, 'lines');
    const parts: string[] = ['\ufeff'];
    for (let i = 0; i < 2000; i++) parts.push('x'.repeat(rng.int(12)), ['\n', '\r\n', '\r', '\r\r\n', '\n\n'][rng.int(5)]);
    const data = Buffer.from(parts.join(''));
    // The utf8 flag may differ (it says "checked", not "invalid"); numbers and text may not.
    const numbered = (seen: Seen): [number, string][] => seen.lines.map((l) => [l[0], l[1]]);
    const whole = split(data);
    for (const size of [1, 2, 3, 5, 64]) expect(numbered(split(data, () => size)), `chunks of ${size}`).toEqual(numbered(whole));
    expect(numbered(split(data, () => 1 + rng.int(50)))).toEqual(numbered(whole));
    const expected = data.toString('latin1').slice(3).split(/\r\n|\r|\n/);
    if (expected[expected.length - 1] === '') expected.pop();
    expect(texts(whole)).toEqual(expected);
  });

  it('reports a line over the limit once, skips it and reads on', () => {
    const big = Buffer.alloc(MAX_LINE_BYTES + 10, 'x');
    const data = Buffer.concat([Buffer.from('a\n'), big, Buffer.from('\r\nb\n'), big]);
    for (const size of [data.length, 1 << 20, 300_001]) {
      const seen = split(data, () => size);
      expect(texts(seen)).toEqual(['a', 'b']);
      expect(seen.lines.map((l) => l[0])).toEqual([1, 3]);
      expect(seen.long.map((l) => l[0])).toEqual([2, 4]);
      expect(seen.long.every((l) => l[1] > MAX_LINE_BYTES)).toBe(true);
    }
  });

  it('flags lines as UTF-8 only when they are', () => {
    const data = Buffer.concat([Buffer.from('é\n'), Buffer.from([0x61, 0xff, 0x0a]), Buffer.from('b\n')]);
    const seen = split(data);
    // One chunk holds a bad byte: no line of it is vouched for; readers then check each.
    expect(seen.lines.map((l) => l[2])).toEqual([false, false, false]);
    expect(split(Buffer.from('é\nb\n')).lines.map((l) => l[2])).toEqual([true, true]);
  });
});

describe('utf8ErrorOffset', () => {
  it('agrees with a fatal TextDecoder on random byte strings', () => {
    const rng = Prng.fromSeed(2, 'utf8');
    const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
    const pool = [0x41, 0x7f, 0x80, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xa0, 0xed, 0x9f, 0xef, 0xf0, 0x90, 0xf4, 0x8f, 0xf5, 0xff, 0x00];
    for (let k = 0; k < 5000; k++) {
      const bytes = Uint8Array.from({ length: 1 + rng.int(6) }, () => pool[rng.int(pool.length)]);
      let valid = true;
      try {
        decoder.decode(bytes);
      } catch {
        valid = false;
      }
      expect(utf8ErrorOffset(bytes, 0, bytes.length) === -1, Buffer.from(bytes).toString('hex')).toBe(valid);
    }
  });

  it('points at the first bad byte', () => {
    expect(utf8ErrorOffset(Buffer.from([0x61, 0x62, 0xff]), 0, 3)).toBe(2);
    expect(utf8ErrorOffset(Buffer.from([0x61, 0xe2, 0x82]), 0, 3)).toBe(1);
    expect(utf8ErrorOffset(Buffer.from('añb'), 0, 4)).toBe(-1);
  });
});
