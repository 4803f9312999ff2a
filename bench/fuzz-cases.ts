/**
 * The prep fuzzer shared by test/unit/data/prep/fuzz.test.ts (~1,000 cases) and
 * `npm run bench -- fuzz` (10,000): small synthetic behaviour logs (CSV, TSV, `::`, JSONL, some
 * gzipped) mutated the way real files break (byte flips, truncation mid-line and mid-gzip, NULs,
 * invalid UTF-8, BOMs, CR and CRLF line ends, open quotes, quoted fields over lines, huge lines,
 * NaN/Infinity/1e39, hex numbers, far timestamps, JSON ids beyond 2^53), each run through the
 * library runPrep.
 *
 * Every outcome must be one of (issue #11, docs/design.md#exit-codes, docs/datasets.md):
 *  - success, with the row accounting identities holding and `read` equal to the input's data
 *    rows counted here independently: JSON Lines' non-empty lines, delimited files' RFC 4180 rows
 *    (delimitedDataRows), less the header;
 *  - a RecError with exit 1 or 2 whose message names the file, and no dataset folder or staged
 *    `.tmp-` folder left behind.
 * Anything else (another exception, a broken identity, a leftover) is a violation.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { tableFromIPC } from 'apache-arrow';
import { prepSchema } from '../src/config/schema.js';
import type { DatasetManifest } from '../src/data/manifest.js';
import { runPrep } from '../src/data/prep/run.js';
import { RecError } from '../src/util/errors.js';
import { silentLogger } from '../src/util/log.js';
import { MAX_LINE_BYTES } from '../src/util/lines.js';
import { Prng } from '../src/util/prng.js';
import { noProgress } from '../src/util/progress.js';

/** The seed of the unit test and the bench, so the test's 1,000 cases are the bench's first 1,000. */
export const FUZZ_SEED = 11;

export type FuzzFormat = 'csv' | 'tsv' | 'dat' | 'jsonl';

export interface FuzzCase {
  index: number;
  format: FuzzFormat;
  gzip: boolean;
  /** The file name (its extension tells prep the format). */
  name: string;
  /** The bytes written to disk (gzipped when `gzip`). */
  bytes: Buffer;
  /** What was done to the base log, for reports. */
  mutations: string[];
  config: Record<string, unknown>;
}

export interface FuzzOutcome {
  kind: 'ok' | 'rec_error' | 'violation';
  /** Exit code of a RecError. */
  exitCode?: number;
  /** A short class of the error message (its start, with numbers and paths taken out). */
  error?: string;
  rejected_by_reason?: Record<string, number>;
  read?: number;
  /** What broke the contract; empty unless kind is 'violation'. */
  violations: string[];
}

const EVENTS = ['view', 'cart', 'buy', 'click'];

/** A clean log of 20–300 rows in one format, with a header or not; `events` when it has an event column. */
function baseRows(rng: Prng, format: FuzzFormat): { lines: string[]; events: boolean } {
  const n = 20 + rng.int(280);
  const users = 3 + rng.int(40);
  const items = 3 + rng.int(80);
  const withEvent = rng.int(2) === 0;
  const isoTs = rng.int(4) === 0;
  const stringIds = rng.int(3) === 0;
  const uid = (k: number): string => (stringIds ? `u${k}` : String(k));
  const lines: string[] = [];
  let ts = 1_600_000_000 + rng.int(1e6);
  const tsText = (): string => (isoTs ? new Date(ts * 1000).toISOString() : String(ts));
  if (format === 'jsonl') {
    for (let i = 0; i < n; i++) {
      ts += rng.int(100);
      const row: Record<string, unknown> = { user_id: stringIds ? uid(rng.int(users)) : rng.int(users), item_id: `i${rng.int(items)}`, timestamp: isoTs ? tsText() : ts };
      if (withEvent) row.event = EVENTS[rng.int(EVENTS.length)];
      else row.rating = 1 + rng.int(5);
      lines.push(JSON.stringify(row));
    }
    return { lines, events: withEvent };
  }
  const d = format === 'csv' ? ',' : format === 'tsv' ? '\t' : '::';
  const header = rng.int(2) === 0;
  if (header) lines.push(['user_id', 'item_id', withEvent ? 'event' : 'rating', 'timestamp'].join(d));
  for (let i = 0; i < n; i++) {
    ts += rng.int(100);
    const third = withEvent && header ? EVENTS[rng.int(EVENTS.length)] : String(1 + rng.int(5));
    lines.push([uid(rng.int(users)), `i${rng.int(items)}`, third, tsText()].join(d));
  }
  return { lines, events: withEvent && header };
}

/** Values that look like numbers to a lax parser but must not be read as ones. */
const BAD_NUMBERS = ['NaN', 'Infinity', '-Infinity', '1e39', '-1e39', '0x10', '0b11', '0o7', '1e400', '١٢', '+', '.', '5e', '1_000'];
const FAR_TS = ['99999999999999999', '-99999999999999999', '999999999999999', '9999-12-31T23:59:59Z', '0000-01-01', '275760-09-13T00:00:00Z', '0x5f5e1000', '1e300'];
const BAD_UTF8 = [[0xff], [0xc3], [0xe2, 0x82], [0xed, 0xa0, 0x80], [0xc0, 0xaf], [0xf8, 0x88, 0x80, 0x80, 0x80], [0x80]];

/** A raw JSON token for a bad value: a number literal where JSON allows one, else a string. */
function jsonToken(rng: Prng, bad: string): string {
  const literal = /^-?\d+(\.\d+)?([eE][+-]?\d+)?$/.test(bad);
  return literal && rng.int(2) === 0 ? bad : JSON.stringify(bad);
}

/** One mutation of the rows' text (before they become bytes); returns its name. */
function mutateRows(rng: Prng, lines: string[], format: FuzzFormat): string {
  const r = rng.int(lines.length);
  const k = rng.int(3);
  if (format === 'jsonl') {
    const obj = JSON.parse(lines[r]) as Record<string, unknown>;
    let key: string;
    let token: string;
    let name: string;
    if (k === 0) {
      key = 'rating' in obj ? 'rating' : 'timestamp';
      token = jsonToken(rng, BAD_NUMBERS[rng.int(BAD_NUMBERS.length)]);
      name = 'bad_number';
    } else if (k === 1) {
      key = 'timestamp';
      token = jsonToken(rng, FAR_TS[rng.int(FAR_TS.length)]);
      name = 'far_ts';
    } else {
      key = 'user_id';
      token = ['9007199254740993', '9007199254740992', '18446744073709551617', '1.5', '-0', '1e400', '"\\ud800"', '"\\udc00x"'][rng.int(8)];
      name = 'bad_json_id';
    }
    obj[key] = '__FUZZ__';
    lines[r] = JSON.stringify(obj).replace('"__FUZZ__"', token);
    return name;
  }
  const d = format === 'csv' ? ',' : format === 'tsv' ? '\t' : '::';
  const fields = lines[r].split(d);
  if (k === 1) {
    fields[fields.length - 1] = FAR_TS[rng.int(FAR_TS.length)];
    lines[r] = fields.join(d);
    return 'far_ts';
  }
  fields[2 + rng.int(2)] = BAD_NUMBERS[rng.int(BAD_NUMBERS.length)];
  lines[r] = fields.join(d);
  return 'bad_number';
}

/** One mutation of the log's bytes (before any gzip); returns its name. */
function mutateBytes(rng: Prng, format: FuzzFormat, parts: { bytes: Buffer }): string {
  const k = rng.int(15);
  const buf = parts.bytes;
  const at = (): number => rng.int(Math.max(1, buf.length));
  const splice = (pos: number, insert: Buffer, remove = 0): Buffer => Buffer.concat([buf.subarray(0, pos), insert, buf.subarray(pos + remove)]);
  switch (k) {
    case 0: {
      const copy = Buffer.from(buf);
      const flips = 1 + rng.int(4);
      for (let i = 0; i < flips && copy.length > 0; i++) copy[at()] ^= 1 << rng.int(8);
      parts.bytes = copy;
      return 'byte_flip';
    }
    case 1:
      parts.bytes = buf.subarray(0, at());
      return 'truncate';
    case 2:
      parts.bytes = splice(at(), Buffer.from([0]));
      return 'nul';
    case 3:
      parts.bytes = splice(at(), Buffer.from(BAD_UTF8[rng.int(BAD_UTF8.length)]));
      return 'invalid_utf8';
    case 4:
      parts.bytes = rng.int(2) === 0 ? Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), buf]) : splice(at(), Buffer.from([0xef, 0xbb, 0xbf]));
      return 'bom';
    case 5:
      parts.bytes = Buffer.from(buf.toString('latin1').replace(/\r?\n/g, '\r'), 'latin1');
      return 'cr_only';
    case 6:
      parts.bytes = Buffer.from(buf.toString('latin1').replace(/\r?\n/g, '\r\n'), 'latin1');
      return 'crlf';
    case 7: {
      // A quote opened at the start of a field (or of a line) that never closes, or a field quoted
      // over two lines (RFC 4180), as warehouse exports write descriptions.
      const text = buf.toString('latin1');
      const cands: number[] = [0];
      for (let i = 0; i < text.length && cands.length < 400; i++) if (text[i] === ',' || text[i] === '\t' || text[i] === '\n') cands.push(i + 1);
      const p = cands[rng.int(cands.length)];
      if (format === 'jsonl' || rng.int(2) === 0) {
        parts.bytes = splice(p, Buffer.from('"'));
        return 'open_quote';
      }
      const d = format === 'csv' ? ',' : format === 'tsv' ? '\t' : '::';
      const ends = [text.indexOf(d, p), text.indexOf('\n', p), text.indexOf('\r', p)].filter((x) => x >= 0);
      const q = ends.length > 0 ? Math.min(...ends) : text.length;
      const k = p + rng.int(q - p + 1);
      const field = `"${text.slice(p, k)}${['\n', '\r\n', '\r'][rng.int(3)]}${text.slice(k, q)}"`;
      parts.bytes = splice(p, Buffer.from(field, 'latin1'), q - p);
      return 'multiline_field';
    }
    case 8: {
      // Usually a long line (up to 64 KiB), now and then one over the 4 MiB line limit.
      const huge = rng.int(25) === 0;
      const size = huge ? (4 << 20) + 1 + rng.int(1000) : 1000 + rng.int(1 << 16);
      const fill = Buffer.alloc(size, rng.int(2) === 0 ? 'x' : '7');
      const nl = buf.indexOf(10, at());
      parts.bytes = splice(nl === -1 ? buf.length : nl + 1, Buffer.concat([fill, Buffer.from('\n')]));
      return huge ? 'huge_line' : 'long_line';
    }
    case 9: {
      // A row whose ids differ from others only in bytes that are not UTF-8.
      const bad = Buffer.from(BAD_UTF8[rng.int(BAD_UTF8.length)]);
      const row =
        format === 'jsonl'
          ? Buffer.concat([Buffer.from('{"user_id":"u'), bad, Buffer.from('","item_id":"i'), bad, Buffer.from('","rating":3,"timestamp":1600000000}')])
          : Buffer.concat([Buffer.from('u'), bad, Buffer.from(format === 'csv' ? ',' : format === 'tsv' ? '\t' : '::'), Buffer.from('i'), bad]);
      parts.bytes = Buffer.concat([buf, row, Buffer.from('\n')]);
      return 'invalid_utf8_id';
    }
    case 10:
      parts.bytes = Buffer.concat([buf, Buffer.from(rng.int(2) === 0 ? '\n\n\r\n' : '   \n\t\n')]);
      return 'blank_lines';
    case 11:
      parts.bytes = splice(at(), Buffer.from(rng.int(2) === 0 ? '\r' : '\n'));
      return 'stray_eol';
    case 12:
      parts.bytes = rng.int(2) === 0 ? Buffer.alloc(0) : Buffer.from('\n\r\n');
      return 'empty';
    default: {
      // Random bytes over a stretch of the file.
      const copy = Buffer.from(buf);
      const s = at();
      for (let i = s; i < Math.min(copy.length, s + 1 + rng.int(40)); i++) copy[i] = rng.int(256);
      parts.bytes = copy;
      return 'random_bytes';
    }
  }
}

/** The i-th case of the stream seeded by `seed` (cases are independent of how many are drawn). */
export function fuzzCase(seed: number, index: number): FuzzCase {
  const rng = Prng.fromSeed(seed, `fuzz-${index}`);
  const formats: FuzzFormat[] = ['csv', 'csv', 'tsv', 'dat', 'jsonl', 'jsonl'];
  const format = formats[rng.int(formats.length)];
  const gzip = rng.int(4) === 0;
  const { lines, events } = baseRows(rng, format);
  const mutations: string[] = [];
  const rowMutations = rng.int(3);
  for (let m = 0; m < rowMutations; m++) mutations.push(mutateRows(rng, lines, format));
  const parts = { bytes: Buffer.from(`${lines.join('\n')}${rng.int(5) === 0 ? '' : '\n'}`) };
  const byteMutations = (rowMutations === 0 ? 1 : 0) + rng.int(3);
  for (let m = 0; m < byteMutations; m++) mutations.push(mutateBytes(rng, format, parts));
  let bytes = parts.bytes;
  if (gzip) {
    bytes = gzipSync(bytes);
    const g = rng.int(6);
    if (g === 0) {
      bytes = bytes.subarray(0, rng.int(bytes.length));
      mutations.push('gzip_truncate');
    } else if (g === 1) {
      const copy = Buffer.from(bytes);
      copy[rng.int(copy.length)] ^= 1 << rng.int(8);
      bytes = copy;
      mutations.push('gzip_flip');
    } else if (g === 2) {
      bytes = Buffer.concat([bytes, gzipSync(Buffer.from('7,i1,3,1600000000\n'))]);
      mutations.push('gzip_members');
    }
  }
  const config: Record<string, unknown> = {};
  if (rng.int(2) === 0) config.max_rejects = '100%';
  const split = ['random:0.8,0.1,0.1', 'none', 'leave-last', 'temporal:0.8,0.1,0.1'][rng.int(4)];
  config.split = split;
  if (events && rng.int(2) === 0) config.event_weights = 'view=1,cart=3,buy=5,click=2';
  const ext = format === 'dat' ? 'dat' : format;
  return { index, format, gzip, name: `case-${index}.${ext}${gzip ? '.gz' : ''}`, bytes, mutations, config };
}

/** Non-empty physical lines (LF, CRLF or CR ends; BOM dropped), less the header when prep saw one. */
export function physicalDataLines(text: Buffer, format: FuzzFormat, header: boolean): number {
  let s = text.toString('latin1');
  if (s.startsWith('\xef\xbb\xbf')) s = s.slice(3);
  const blank = format === 'jsonl' ? /^[ \t]*$/ : /^$/;
  const n = s.split(/\r\n|\r|\n/).filter((l) => !blank.test(l)).length;
  return header && n > 0 ? n - 1 : n;
}

/**
 * Where a line of a delimited row ends, read from the start of a row (`open` false) or inside a
 * quoted field: whether a quoted field is still open at the end, and whether a quote broke RFC 4180
 * (one inside an unquoted field, or a closing quote followed by neither the delimiter nor the end).
 */
function quoteState(line: string, d: string, open: boolean): { open: boolean; improper: boolean } {
  const body = /(?:[^"]|"")*/y;
  let pos = 0;
  let improper = false;
  let quoted = open;
  for (;;) {
    if (quoted) {
      body.lastIndex = pos;
      body.exec(line);
      if (body.lastIndex >= line.length) return { open: true, improper };
      pos = body.lastIndex + 1;
      quoted = false;
      if (pos === line.length) return { open: false, improper };
      if (!line.startsWith(d, pos)) {
        improper = true;
        const next = line.indexOf(d, pos);
        if (next === -1) return { open: false, improper };
        pos = next;
      }
      pos += d.length;
      continue;
    }
    if (line[pos] === '"') {
      quoted = true;
      pos++;
      continue;
    }
    const next = line.indexOf(d, pos);
    if ((next === -1 ? line.slice(pos) : line.slice(pos, next)).includes('"')) improper = true;
    if (next === -1) return { open: false, improper };
    pos = next + d.length;
  }
}

/**
 * Data rows of a delimited file as prep must count them (docs/datasets.md), independently of its
 * readers: a row whose quoted field is open at the end of a line goes on over the next lines; it is
 * one row when the field closes within the bounds and the row is strict RFC 4180, else only its
 * first line is a (rejected) row and counting resumes at its second line. Empty lines between rows
 * are skipped; the header, when prep saw one, is the first row.
 */
export function delimitedDataRows(text: Buffer, delimiter: string, header: boolean, bounds: { maxLines: number; maxBytes: number }): number {
  let s = text.toString('latin1');
  if (s.startsWith('\xef\xbb\xbf')) s = s.slice(3);
  const lines = s.split(/\r\n|\r|\n/);
  if (/[\r\n]$/.test(s)) lines.pop();
  let rows = 0;
  let i = 0;
  while (i < lines.length) {
    if (lines[i] === '') {
      i++;
      continue;
    }
    rows++;
    let st = lines[i].length > MAX_LINE_BYTES ? { open: false, improper: false } : quoteState(lines[i], delimiter, false);
    if (!st.open) {
      i++;
      continue;
    }
    let improper = st.improper;
    let n = 1;
    let bytes = lines[i].length;
    let end = -1;
    for (let j = i + 1; n < bounds.maxLines && bytes < bounds.maxBytes && j < lines.length && lines[j].length <= MAX_LINE_BYTES; j++) {
      n++;
      bytes += lines[j].length + 1;
      st = quoteState(lines[j], delimiter, true);
      improper ||= st.improper;
      if (!st.open) {
        end = improper ? -1 : j;
        break;
      }
    }
    i = end >= 0 ? end + 1 : i + 1;
  }
  return header && rows > 0 ? rows - 1 : rows;
}

/** Whether `id` is in the input as is, or with its newlines (LF in a value) written as CRLF or CR. */
function inInput(input: Buffer, id: string): boolean {
  if (input.includes(Buffer.from(id))) return true;
  if (!id.includes('\n')) return false;
  const latin1 = Buffer.from(id, 'utf8').toString('latin1');
  const pattern = latin1.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').split('\n').join('(?:\r\n|\r|\n)');
  return new RegExp(pattern).test(input.toString('latin1'));
}

/**
 * What prep stored must come from the input unchanged: every id byte-exact in the input (so no
 * two ids were merged by decoding or rounding; JSON ids may be escaped; a newline inside a quoted
 * id is LF whatever ended the line) and every value finite.
 */
function checkStoredData(out: string, input: Buffer, format: FuzzFormat): string[] {
  const problems: string[] = [];
  for (const vocab of ['users.arrow', 'items.arrow']) {
    const ids = tableFromIPC(readFileSync(join(out, vocab))).getChild('id');
    const seen = new Set<string>();
    for (let i = 0; i < (ids?.length ?? 0); i++) {
      const id = String(ids?.get(i));
      if (seen.has(id)) problems.push(`${vocab}: id ${JSON.stringify(id)} twice`);
      seen.add(id);
      const literal = inInput(input, id);
      const escaped = format === 'jsonl' && input.includes(Buffer.from(JSON.stringify(id).slice(1, -1)));
      if (!literal && !escaped && problems.length < 5) problems.push(`${vocab}: id ${JSON.stringify(id)} is not in the input`);
    }
  }
  for (const split of ['train.arrow', 'valid.arrow', 'test.arrow']) {
    const t = tableFromIPC(readFileSync(join(out, split)));
    const values = t.getChild('value');
    for (let i = 0; i < (values?.length ?? 0); i++) {
      const v = Number(values?.get(i));
      if (!Number.isFinite(v)) {
        problems.push(`${split}: value ${v} at row ${i}`);
        break;
      }
    }
  }
  return problems;
}

/** The error class of a message: its first words, numbers and quoted text taken out. */
function errorClass(message: string, file: string): string {
  return message
    .split(file)
    .join('FILE')
    .replace(/"(?:[^"\\]|\\.)*"/g, '"…"')
    .replace(/\d+(\.\d+)?/g, 'N')
    .split(/[.;(]/)[0]
    .slice(0, 80);
}

/** Runs one case in `dir` (made if absent) and checks the contract. */
export async function runFuzzCase(c: FuzzCase, dir: string): Promise<FuzzOutcome> {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, c.name);
  const out = join(dir, `out-${c.index}`);
  writeFileSync(file, c.bytes);
  const violations: string[] = [];
  const leftovers = (): string[] => readdirSync(dirname(out)).filter((f) => f.startsWith(`.${basename(out)}.tmp-`) || f.includes('.tmp-'));
  try {
    const result = await runPrep(
      { inputs: [file], out, config: prepSchema.parse(c.config), seed: 7, recVersion: 'fuzz' },
      { log: silentLogger, progress: noProgress },
    );
    const m = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as DatasetManifest;
    const r = m.rows;
    if (r.read !== r.accepted + r.rejected) violations.push(`read ${r.read} != accepted ${r.accepted} + rejected ${r.rejected}`);
    if (r.accepted !== r.deduplicated + r.filtered + r.train + r.valid + r.test) violations.push(`accepted != deduplicated + filtered + splits: ${JSON.stringify(r)}`);
    const sum = Object.values(m.rejected_by_reason).reduce((a, b) => a + b, 0);
    if (sum !== r.rejected) violations.push(`rejected_by_reason sums to ${sum}, rejected ${r.rejected}`);
    for (const k of ['read', 'accepted', 'rejected', 'deduplicated', 'filtered', 'train', 'valid', 'test'] as const) {
      if (!Number.isInteger(r[k]) || r[k] < 0) violations.push(`rows.${k} is ${r[k]}, not a non-negative integer`);
      if (result.rows[k] !== r[k]) violations.push(`rows.${k}: result ${result.rows[k]}, manifest ${r[k]}`);
    }
    let text: Buffer | null = c.bytes;
    if (c.gzip) {
      try {
        text = gunzipSync(c.bytes);
      } catch {
        text = null;
      }
    }
    if (text === null) violations.push('prep read a gzip stream that gunzip rejects');
    else {
      const src = m.sources[0];
      const cfg = prepSchema.parse(c.config);
      const bounds = { maxLines: cfg.max_quoted_lines, maxBytes: cfg.max_quoted_bytes };
      const expected =
        c.format === 'jsonl' || src.delimiter === null
          ? physicalDataLines(text, c.format, src.header === true)
          : delimitedDataRows(text, src.delimiter, src.header === true, bounds);
      if (r.read !== expected) violations.push(`read ${r.read}, but the input has ${expected} data rows`);
    }
    if (text !== null) violations.push(...checkStoredData(out, text, c.format));
    const left = leftovers();
    if (left.length > 0) violations.push(`temp folders left beside the dataset: ${left.join(', ')}`);
    rmSync(out, { recursive: true, force: true });
    return { kind: violations.length ? 'violation' : 'ok', read: r.read, rejected_by_reason: m.rejected_by_reason, violations };
  } catch (error) {
    if (!(error instanceof RecError)) {
      violations.push(`not a RecError: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      rmSync(out, { recursive: true, force: true });
      return { kind: 'violation', violations };
    }
    if (error.exitCode !== 1 && error.exitCode !== 2) violations.push(`exit code ${error.exitCode}, expected 1 or 2`);
    if (!error.message.includes(file)) violations.push(`message does not name the file: ${error.message}`);
    if (/^Too many rejected rows/.test(error.message) && !error.message.includes(`${file}:`)) violations.push(`message names no line: ${error.message}`);
    if (existsSync(out)) violations.push('a dataset folder was left behind by a failed prep');
    const left = leftovers();
    if (left.length > 0) violations.push(`temp folders left behind: ${left.join(', ')}`);
    rmSync(out, { recursive: true, force: true });
    return { kind: violations.length ? 'violation' : 'rec_error', exitCode: error.exitCode, error: errorClass(error.message, file), violations };
  } finally {
    rmSync(file, { force: true });
  }
}

export interface FuzzSummary {
  cases: number;
  seed: number;
  seconds: number;
  outcomes: Record<string, number>;
  errors: Record<string, number>;
  rejected_by_reason: Record<string, number>;
  mutations: Record<string, number>;
  /** The first violations (case index, mutations, what broke). */
  violations: { index: number; name: string; mutations: string[]; violations: string[] }[];
}

function bump(m: Record<string, number>, k: string, by = 1): void {
  m[k] = (m[k] ?? 0) + by;
}

function sorted(m: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(m).sort((a, b) => a[0].localeCompare(b[0])));
}

/** Runs cases [from, n) of `seed` in `dir`, one after another. */
export async function runFuzz(seed: number, n: number, dir: string, onCase?: (i: number) => void, from = 0): Promise<FuzzSummary> {
  const t0 = performance.now();
  const outcomes: Record<string, number> = {};
  const errors: Record<string, number> = {};
  const reasons: Record<string, number> = {};
  const mutations: Record<string, number> = {};
  const violations: FuzzSummary['violations'] = [];
  for (let i = from; i < n; i++) {
    const c = fuzzCase(seed, i);
    for (const m of c.mutations) bump(mutations, m);
    const o = await runFuzzCase(c, dir);
    bump(outcomes, o.kind === 'rec_error' ? `rec_error_exit_${o.exitCode}` : o.kind);
    if (o.error !== undefined) bump(errors, `exit ${o.exitCode}: ${o.error}`);
    for (const [k, v] of Object.entries(o.rejected_by_reason ?? {})) bump(reasons, k, v);
    if (o.violations.length > 0 && violations.length < 20) violations.push({ index: i, name: c.name, mutations: c.mutations, violations: o.violations });
    onCase?.(i);
  }
  return {
    cases: n - from,
    seed,
    seconds: Math.round((performance.now() - t0) / 10) / 100,
    outcomes: sorted(outcomes),
    errors: sorted(errors),
    rejected_by_reason: sorted(reasons),
    mutations: sorted(mutations),
    violations,
  };
}
