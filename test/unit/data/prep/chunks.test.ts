import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { analyzeDelimitedHead, FastDelimitedReader } from '../../../../src/data/prep/delimited.js';
import { Ingest } from '../../../../src/data/prep/ingest.js';
import { fileKind } from '../../../../src/data/prep/options.js';
import { RejectSink } from '../../../../src/data/prep/rejects.js';
import { makeTsParser } from '../../../../src/data/prep/timestamps.js';
import { Prng } from '../../../../src/util/prng.js';
import { delimitedDataRows } from '../../../../bench/fuzz-cases.js';
import { tempRoot } from './helpers.js';

const out = tempRoot();

/**
 * A CSV with a BOM, quoted ids (delimiters, quotes, and newlines: rows over two lines), LF, CRLF
 * and CR line ends, invalid UTF-8, blank and bad rows, a stray quote, an unclosed quote.
 */
function trickyCsv(seed: number, lines: number): Buffer {
  const rng = Prng.fromSeed(seed, 'chunks');
  const pick = <T>(xs: readonly T[]): T => xs[rng.int(xs.length)];
  const id = (): string => pick([String(rng.int(500)), String(rng.int(500)), `"u,${rng.int(30)}"`, `"line\n${rng.int(9)}"`, `"say ""${rng.int(9)}"""`, `0${rng.int(9)}`]);
  const parts: Buffer[] = [Buffer.from('\ufeffuser,item,rating,ts\n')];
  for (let i = 0; i < lines; i++) {
    const eol = pick(['\n', '\n', '\r\n', '\r']);
    let line = `${id()},${id()},${pick(['1', '2.5', '5', 'x', ''])},${pick([String(1600000000 + rng.int(1e6)), '2021-03-04T05:06:07Z', 'bad'])}`;
    if (rng.int(50) === 0) line = `${id()},${id()}`;
    if (rng.int(60) === 0) line = '';
    // A stray quote: its line alone is rejected, the rows after it read.
    if (rng.int(300) === 0) line = `"${line}`;
    parts.push(Buffer.from(line));
    // A lone 0xff or a cut 3-byte sequence: not UTF-8.
    if (rng.int(80) === 0) parts.push(Buffer.from(pick([[0xff], [0xe2, 0x82]])));
    parts.push(Buffer.from(eol));
  }
  // A quote that never closes: the reader rejects its line and reads on from the next.
  parts.push(Buffer.from('5,"never closed,3,1600000000\n7,8,3,1600000001\n'));
  return Buffer.concat(parts);
}

/** Rows after the header (RFC 4180 rows over lines), counted independently of the reader. */
function dataLines(data: Buffer): number {
  return delimitedDataRows(data, ',', true, { maxLines: 100, maxBytes: 1 << 20 });
}

/** Everything the reader hands on: stored columns, vocabularies, rejects, line and row counts. */
async function readInChunks(data: Buffer, sizes: (k: number) => number): Promise<string> {
  const kind = fileKind('x.csv', 'auto');
  const head = data.subarray(0, 1 << 16).toString('utf8');
  const setup = analyzeDelimitedHead(head, data.length <= 1 << 16, kind, { delimiter: null, header: null, spec: null }, 'x.csv');
  const rejectsPath = `${out()}-rejects.jsonl`;
  const sink = await RejectSink.create(rejectsPath, true);
  const ingest = new Ingest({
    feedback: 'explicit',
    hasTs: true,
    hasEvents: false,
    eventWeights: null,
    tsUnit: 'auto',
    tsPattern: null,
    tsParser: makeTsParser('auto', null, null),
    rejects: sink,
    onReject: () => undefined,
  });
  ingest.beginFile({ file: 'x.csv', plan: { user: 0, item: 1, rating: 2, event: -1, ts: 3, query: -1 }, columnCount: setup.columnCount });
  const reader = new FastDelimitedReader(setup, ingest);
  for (let pos = 0, k = 0; pos < data.length; k++) {
    const end = Math.min(data.length, pos + sizes(k));
    reader.push(data.subarray(pos, end));
    pos = end;
  }
  reader.finish();
  await sink.close();
  const s = ingest.store;
  const n = s.length;
  return JSON.stringify({
    rows: reader.dataRows,
    line: reader.line,
    users: Array.from(s.users.subarray(0, n)),
    items: Array.from(s.items.subarray(0, n)),
    values: Array.from({ length: n }, (_, i) => s.valueAt(i)),
    ts: s.hasTs ? Array.from({ length: n }, (_, i) => s.tsAt(i)) : [],
    seq: Array.from({ length: n }, (_, i) => s.seqOf(i)),
    userIds: Array.from({ length: ingest.users.size }, (_, k) => ingest.users.idAt(k)),
    itemIds: Array.from({ length: ingest.items.size }, (_, k) => ingest.items.idAt(k)),
    rejects: readFileSync(rejectsPath, 'utf8'),
  });
}

describe('FastDelimitedReader and chunk boundaries', () => {
  it('reads the same rows, ids, rejects and line numbers whatever the chunk sizes', async () => {
    const data = trickyCsv(5, 3000);
    const whole = await readInChunks(data, () => data.length);
    expect(JSON.parse(whole).rows).toBe(dataLines(data));
    // Rows over lines (the quoted newlines) are one row each.
    expect(JSON.parse(whole).rows).toBeLessThan(data.toString('latin1').split(/\r\n|\r|\n/).filter((l) => l !== '').length - 1);
    expect(JSON.parse(whole).rejects).toContain('unclosed_quote');
    expect(JSON.parse(whole).rejects).toContain('invalid_utf8');
    for (const size of [1, 2, 3, 7, 64, 4096]) {
      expect(await readInChunks(data, () => size), `chunks of ${size} bytes`).toBe(whole);
    }
    const rng = Prng.fromSeed(3, 'chunk-sizes');
    expect(await readInChunks(data, () => 1 + rng.int(300)), 'random chunk sizes').toBe(whole);
  });
});
