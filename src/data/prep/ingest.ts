/**
 * One input row → one stored row or one reject. Rows arrive either as byte ranges of a Buffer
 * (the fast path) or as strings (csv-parse, JSONL); both go through the same checks and number
 * parsers so they store identical values. Ids are interned only after the whole row has passed,
 * so a rejected row never adds to the vocabularies.
 */
import { DataError } from '../../util/errors.js';
import type { ColumnPlan } from './columns.js';
import { invalidDetail } from './encoding.js';
import { FLOAT32_MAX, isFiniteFloat32, parseNumberBytes, parseNumberString } from './numbers.js';
import type { RejectReason, RejectSink } from './rejects.js';
import { RowStore } from './store.js';
import { numericTsToMs, parseIsoTs, type TsParser, type TsUnit } from './timestamps.js';
import { IdVocab, InternableId } from './vocab.js';

export interface IngestOptions {
  feedback: 'explicit' | 'implicit';
  hasTs: boolean;
  hasEvents: boolean;
  /** Implicit weight per event name; null: every event weighs 1. */
  eventWeights: Map<string, number> | null;
  tsUnit: TsUnit;
  /** Set when --ts-format is given (then every ts goes through it). */
  tsPattern: TsParser | null;
  tsParser: TsParser;
  rejects: RejectSink;
  /** Called after each reject; throws to abort early (count limit). */
  onReject: () => void;
  /** A search log (a query column is mapped); null for a behaviour log. */
  search?: SearchOptions | null;
}

export interface SearchOptions {
  /** --relevance-range MIN,MAX: values outside are rejected `relevance_out_of_range`; null: any finite value. */
  relevanceRange: [number, number] | null;
}

/** Longest query kept, in UTF-16 units: real queries are a few words; a longer one is a pasted document or an attack. */
export const MAX_QUERY_CHARS = 1000;

/** Controls (Unicode Cc); the whitespace ones become a space so the words either side stay apart. */
const CONTROL_CHARS = /\p{Cc}/gu;
const WHITESPACE_CONTROL = /[\t\n\v\f\r]/;

export interface FileContext {
  /** The input path as given, for rejects and messages. */
  file: string;
  plan: ColumnPlan;
  /** Fields every row must have (delimited input); 0 for JSONL. */
  columnCount: number;
  /** The encoding the file is read in (encoding.ts); a line invalid in one other than UTF-8 is rejected `invalid_encoding`. */
  encoding?: string;
}

export interface FileCounts {
  read: number;
  rejected: number;
}

const MAX_EVENT_TYPES = 0xffff;
const MAX_SAFE_BIG = BigInt(Number.MAX_SAFE_INTEGER);

/** One row of a typed (columnar) input, by role; unmapped roles stay undefined. */
export interface TypedRow {
  user: unknown;
  item: unknown;
  rating: unknown;
  event: unknown;
  ts: unknown;
  /** A search log's query: columnar inputs refuse the role for now (src/data/prep/columnar.ts), so it stays unset. */
  query: unknown;
}

/**
 * A typed column whose rows are keys into a table (the flat Parquet decoder's FlatRole), read by
 * acceptKeyed without a JS value per row. Any row this cannot answer goes through acceptTyped.
 */
export interface KeyedColumn {
  /** Whether row i is a non-empty ASCII id: text the id checks accept as it is. */
  asciiIdAt(i: number): boolean;
  /** Row i's id (asciiIdAt true) interned in vocab, as InternableId.intern gives it. */
  internAt(i: number, vocab: IdVocab): number;
  /** Row i's dictionary entry when it is text, else -1 (null, a plain page's value, a number). */
  dictKeyAt(i: number): number;
  /** Row i as the number acceptTyped would read (NaN: null, text, or an integer beyond 2^53). */
  numberAt(i: number): number;
  /** Ingest's value per dictionary entry (NaN: not known yet), emptied when the dictionary changes; memoCode beside it. */
  readonly memo: Float64Array;
  readonly memoCode: Int32Array;
}

/** The columns of a keyed slice, by role (rating only for explicit feedback). */
export interface KeyedRows {
  user: KeyedColumn;
  item: KeyedColumn;
  rating: KeyedColumn | undefined;
  event: KeyedColumn | undefined;
  ts: KeyedColumn | undefined;
}

/** Why a typed id cannot be used (reason and detail), or null when it can (text, integer, bigint). */
function typedIdProblem(id: unknown, role: 'user' | 'item'): [RejectReason, string] | null {
  if (typeof id === 'string') {
    if (id === '') return ['empty_id', `empty ${role} id`];
    return id.charCodeAt(0) === 0xfeff ? ['bad_id', bomDetail(role)] : null;
  }
  if (typeof id === 'bigint' || id instanceof InternableId) return null;
  if (typeof id === 'number') return Number.isInteger(id) ? null : ['bad_id', `${role} id ${id} is not an integer`];
  if (id === null || id === undefined) return ['empty_id', `${role} id is null`];
  return ['bad_id', `${role} id is a ${typeof id}, expected text or an integer`];
}

/** Why a rating text is unusable (its parsed value is not a finite float32). */
function ratingDetail(text: string, value: number): string {
  const shown = JSON.stringify(text);
  if (Number.isNaN(value)) return `rating ${shown} is not a decimal number`;
  if (!Number.isFinite(value)) return `rating ${shown} is not finite`;
  return `rating ${shown} is outside the float32 range ±${FLOAT32_MAX} in which values are stored`;
}

/** True when a UTF-8 BOM (U+FEFF) starts at i. */
function bomAt(buf: Buffer, i: number): boolean {
  return buf[i] === 0xef && buf[i + 1] === 0xbb && buf[i + 2] === 0xbf;
}

/**
 * An id that starts with U+FEFF (typically a BOM left inside concatenated exports) reads back
 * without it from Arrow in JavaScript (TextDecoder drops a leading BOM), so it would meet the same
 * id without one in eval and recommend.
 */
function bomDetail(role: 'user' | 'item'): string {
  return `${role} id starts with U+FEFF (a byte-order mark inside the file), which Arrow readers drop; expected an id without it`;
}

/** What a timestamp should look like, for the detail of a bad_ts reject. */
function tsExpected(opts: IngestOptions): string {
  if (opts.tsPattern !== null) return 'expected the --ts-format pattern';
  if (opts.tsUnit === 'iso') return 'expected ISO-8601, e.g. 2021-03-04T05:06:07Z';
  const unit = opts.tsUnit === 's' ? 'unix seconds' : opts.tsUnit === 'ms' ? 'unix milliseconds' : 'unix seconds or milliseconds, or ISO-8601';
  return `expected ${unit} within ±2^53 ms`;
}

export class Ingest {
  readonly store: RowStore;
  readonly users = new IdVocab();
  readonly items = new IdVocab();
  readonly eventNames: string[] = [];
  /** Search logs: the query texts (cleaned), dense in order of first appearance. */
  readonly queries = new IdVocab();
  /** Search logs: queries accepted that had control characters removed. */
  queriesCleaned = 0;
  private readonly search: SearchOptions | null;
  /** Search logs without a user column: every row's user index (one internal anonymous user, never written). */
  private anonymousUser = -1;
  private readonly eventIndex = new Map<string, number>();
  /** Events rejected for having no weight, with their row counts (at most 100 names). */
  readonly unweighted = new Map<string, number>();
  readonly opts: IngestOptions;
  /** Rows read so far over all files (the next row's seq). */
  seq = 0;
  ctx: FileContext = { file: '', plan: { user: 0, item: 1, rating: -1, event: -1, ts: -1, query: -1 }, columnCount: 0 };
  private fileRead = 0;
  private fileRejected = 0;
  private readonly explicit: boolean;
  // The plan of the current file, unpacked for the per-row path.
  private pUser = 0;
  private pItem = 1;
  private pRating = -1;
  private pEvent = -1;
  private pTs = -1;
  private pQuery = -1;
  private colCount = 0;
  /** 0: ts digits read as unix s/ms by magnitude (auto), 1: seconds, 2: milliseconds, 3: text parser only. */
  private tsMode = 0;
  private readonly tsHint: string;

  constructor(opts: IngestOptions) {
    this.opts = opts;
    this.explicit = opts.feedback === 'explicit';
    this.search = opts.search ?? null;
    this.store = new RowStore(opts.hasTs, opts.hasEvents, 1 << 16, this.search !== null);
    this.tsMode = opts.tsPattern !== null || opts.tsUnit === 'iso' ? 3 : opts.tsUnit === 's' ? 1 : opts.tsUnit === 'ms' ? 2 : 0;
    this.tsHint = tsExpected(opts);
  }

  /**
   * Seeds the vocabularies and event codes with an existing dataset's, in its index order
   * (rec prep --append-to), so its ids keep their indices and its rows their event codes.
   */
  preload(users: readonly string[], items: readonly string[], events: readonly string[] | null): void {
    if (this.users.size !== 0 || this.items.size !== 0 || this.eventNames.length !== 0) throw new DataError('Internal error: Ingest.preload after rows were read. Please report this.');
    for (let k = 0; k < users.length; k++) {
      if (this.users.internString(users[k]) !== k) throw new DataError(`The base dataset's users.arrow lists the id ${JSON.stringify(users[k])} twice. Re-run rec prep for the base.`);
    }
    for (let k = 0; k < items.length; k++) {
      if (this.items.internString(items[k]) !== k) throw new DataError(`The base dataset's items.arrow lists the id ${JSON.stringify(items[k])} twice. Re-run rec prep for the base.`);
    }
    if (events !== null) for (const name of events) this.eventCode(name);
  }

  beginFile(ctx: FileContext): void {
    this.ctx = ctx;
    this.fileRead = 0;
    this.fileRejected = 0;
    this.pUser = ctx.plan.user;
    this.pItem = ctx.plan.item;
    this.pRating = ctx.plan.rating;
    this.pEvent = ctx.plan.event;
    this.pTs = ctx.plan.ts;
    this.pQuery = ctx.plan.query;
    this.colCount = ctx.columnCount;
    if (this.search !== null && ctx.plan.user < 0 && this.anonymousUser < 0) this.anonymousUser = this.users.internString('');
  }

  /** Whether every row of this search log is anonymous (no user column mapped). */
  get anonymous(): boolean {
    return this.anonymousUser >= 0;
  }

  /**
   * A search row's query: control characters removed (counted), then refused when empty or only
   * whitespace (`empty_query`) or over MAX_QUERY_CHARS (`query_too_long`). Its index, or -1 after a reject.
   */
  private queryIndex(text: string, line: number, raw: () => string): number {
    let q = text;
    let cleaned = false;
    if (CONTROL_CHARS.test(q)) {
      CONTROL_CHARS.lastIndex = 0;
      q = q.replace(CONTROL_CHARS, (c) => (WHITESPACE_CONTROL.test(c) ? ' ' : ''));
      cleaned = true;
    }
    CONTROL_CHARS.lastIndex = 0;
    if (q.trim() === '') {
      this.reject(line, 'empty_query', text === '' ? 'empty query' : 'query of whitespace or control characters only', raw());
      return -1;
    }
    if (q.length > MAX_QUERY_CHARS) {
      this.reject(line, 'query_too_long', `query of ${q.length} characters, over the ${MAX_QUERY_CHARS}-character limit`, raw());
      return -1;
    }
    if (cleaned) this.queriesCleaned++;
    return this.queries.internString(q);
  }

  /** A relevance outside --relevance-range: rejects the row and returns true. */
  private outOfRange(value: number, line: number, raw: () => string): boolean {
    const range = this.search?.relevanceRange ?? null;
    if (range === null || (value >= range[0] && value <= range[1])) return false;
    this.reject(line, 'relevance_out_of_range', `relevance ${value} is outside --relevance-range ${range[0]},${range[1]}`, raw());
    return true;
  }

  /** Rows read and rejected in the current file. */
  fileCounts(): FileCounts {
    return { read: this.fileRead, rejected: this.fileRejected };
  }

  reject(line: number, reason: RejectReason, detail: string, raw: string): void {
    this.fileRejected++;
    const enc = this.ctx.encoding;
    if (reason === 'invalid_utf8' && enc !== undefined && enc !== 'utf-8') {
      // The decoder marked the bytes invalid in the declared encoding (encoding.ts): name that encoding.
      this.opts.rejects.add(this.ctx.file, line, 'invalid_encoding', invalidDetail(enc), raw);
      this.opts.onReject();
      return;
    }
    this.opts.rejects.add(this.ctx.file, line, reason, detail, raw);
    this.opts.onReject();
  }

  private nextSeq(): number {
    const s = this.seq++;
    this.fileRead++;
    if (s > 0xffffffff) throw new DataError(`Too many input rows: more than ${0xffffffff}.`);
    return s;
  }

  private eventCode(name: string): number {
    let code = this.eventIndex.get(name);
    if (code === undefined) {
      if (this.eventNames.length >= MAX_EVENT_TYPES) throw new DataError(`${this.ctx.file}: more than ${MAX_EVENT_TYPES} distinct event types.`);
      code = this.eventNames.length;
      this.eventIndex.set(name, code);
      this.eventNames.push(name);
      this.store.noteEventCode(code);
    }
    return code;
  }

  /** Value of an event under implicit feedback, NaN for an unknown or empty event. */
  private eventWeight(name: string): number {
    if (name === '') return Number.NaN;
    const w = this.opts.eventWeights;
    if (w === null) return 1;
    const v = w.get(name);
    if (v === undefined) {
      const seen = this.unweighted.get(name);
      if (seen !== undefined || this.unweighted.size < 100) this.unweighted.set(name, (seen ?? 0) + 1);
      return Number.NaN;
    }
    return v;
  }

  private tsFromString(text: string): number {
    return this.opts.tsParser(text);
  }

  private tsFromBytes(buf: Buffer, s: number, e: number): number {
    const unit = this.opts.tsUnit;
    if (this.opts.tsPattern !== null || unit === 'iso') return this.opts.tsParser(buf.toString('utf8', s, e));
    const n = parseNumberBytes(buf, s, e);
    if (!Number.isNaN(n)) return Number.isFinite(n) ? numericTsToMs(n, unit) : Number.NaN;
    return unit === 'auto' ? parseIsoTs(buf.toString('utf8', s, e)) : Number.NaN;
  }

  /**
   * A delimited row as byte ranges [starts[k], ends[k]) of `buf`, k < nf. `ls..le` is the line
   * (for the raw text of a reject).
   */
  acceptBytes(buf: Buffer, starts: Int32Array, ends: Int32Array, nf: number, line: number, ls: number, le: number): void {
    const seq = this.seq++;
    this.fileRead++;
    if (seq > 0xffffffff) throw new DataError(`Too many input rows: more than ${0xffffffff}.`);
    if (nf !== this.colCount) {
      this.reject(line, 'wrong_column_count', `expected ${this.colCount} fields, got ${nf}`, buf.toString('utf8', ls, le));
      return;
    }
    const anon = this.anonymousUser >= 0;
    // An anonymous search row has no user field: a dummy non-empty range passes the empty-id check.
    const us = anon ? 0 : starts[this.pUser];
    const ue = anon ? 1 : ends[this.pUser];
    const is = starts[this.pItem];
    const ie = ends[this.pItem];
    if (us === ue || is === ie) {
      this.reject(line, 'empty_id', us === ue ? 'empty user id' : 'empty item id', buf.toString('utf8', ls, le));
      return;
    }
    if ((!anon && buf[us] === 0xef && bomAt(buf, us)) || (buf[is] === 0xef && bomAt(buf, is))) {
      this.reject(line, 'bad_id', bomDetail(bomAt(buf, us) ? 'user' : 'item'), buf.toString('utf8', ls, le));
      return;
    }
    let value = 1;
    let event = 0;
    const pe = this.pEvent;
    if (pe >= 0) {
      const name = buf.toString('utf8', starts[pe], ends[pe]);
      if (!this.explicit) {
        value = this.eventWeight(name);
        if (Number.isNaN(value)) {
          this.reject(line, 'unknown_event', `event ${JSON.stringify(name)} has no weight in --event-weights`, buf.toString('utf8', ls, le));
          return;
        }
      } else if (name === '') {
        this.reject(line, 'unknown_event', 'empty event type', buf.toString('utf8', ls, le));
        return;
      }
      event = this.eventCode(name);
    }
    if (this.explicit) {
      const pr = this.pRating;
      value = parseNumberBytes(buf, starts[pr], ends[pr]);
      if (!isFiniteFloat32(value)) {
        this.reject(line, 'bad_rating', ratingDetail(buf.toString('utf8', starts[pr], ends[pr]), value), buf.toString('utf8', ls, le));
        return;
      }
      if (this.search !== null && this.outOfRange(value, line, () => buf.toString('utf8', ls, le))) return;
    }
    let ts = 0;
    const pt = this.pTs;
    if (pt >= 0) {
      const s = starts[pt];
      const e = ends[pt];
      // Plain digits (the common case) are read here; anything else by the general parser.
      let v = -1;
      if (this.tsMode !== 3 && e - s > 0 && e - s <= 15) {
        v = 0;
        for (let k = s; k < e; k++) {
          const c = buf[k];
          if (c < 48 || c > 57) {
            v = -1;
            break;
          }
          v = v * 10 + (c - 48);
        }
      }
      if (v >= 0) {
        const mode = this.tsMode;
        ts = mode === 2 || (mode === 0 && v >= 1e11) ? v : v * 1000;
        // 15 digits of seconds overflow the exact range, as in numericTsToMs.
        if (ts > Number.MAX_SAFE_INTEGER) ts = Number.NaN;
      } else {
        ts = this.tsFromBytes(buf, s, e);
      }
      if (Number.isNaN(ts)) {
        this.reject(line, 'bad_ts', `timestamp ${JSON.stringify(buf.toString('utf8', s, e))} cannot be read; ${this.tsHint}`, buf.toString('utf8', ls, le));
        return;
      }
    }
    let q = 0;
    if (this.search !== null) {
      const pq = this.pQuery;
      q = this.queryIndex(buf.toString('utf8', starts[pq], ends[pq]), line, () => buf.toString('utf8', ls, le));
      if (q < 0) return;
    }
    const u = anon ? this.anonymousUser : this.users.internBytes(buf, us, ue);
    const it = this.items.internBytes(buf, is, ie);
    const store = this.store;
    const i = store.length;
    if (i === store.capacity) store.reserve(1);
    store.users[i] = u;
    store.items[i] = it;
    store.setValue(i, value);
    if (store.hasTs) store.setTs(i, ts);
    store.noteSeq(i, seq);
    if (store.events !== null) store.events[i] = event;
    if (store.queries !== null) store.queries[i] = q;
    store.length = i + 1;
  }

  /** A row as strings indexed like the plan; `raw` is its text for a reject. */
  acceptStrings(fields: readonly string[], nf: number, line: number, raw: string, checkCount = true): void {
    const seq = this.nextSeq();
    const ctx = this.ctx;
    if (checkCount && nf !== ctx.columnCount) {
      this.reject(line, 'wrong_column_count', `expected ${ctx.columnCount} fields, got ${nf}`, raw);
      return;
    }
    const plan = ctx.plan;
    const anon = this.anonymousUser >= 0;
    const userId = anon ? '-' : (fields[plan.user] ?? '');
    const itemId = fields[plan.item] ?? '';
    if (userId === '' || itemId === '') {
      this.reject(line, 'empty_id', userId === '' ? 'empty user id' : 'empty item id', raw);
      return;
    }
    if (userId.charCodeAt(0) === 0xfeff || itemId.charCodeAt(0) === 0xfeff) {
      this.reject(line, 'bad_id', bomDetail(userId.charCodeAt(0) === 0xfeff ? 'user' : 'item'), raw);
      return;
    }
    let value = 1;
    let event = 0;
    if (plan.event >= 0) {
      const name = fields[plan.event] ?? '';
      if (!this.explicit) {
        value = this.eventWeight(name);
        if (Number.isNaN(value)) {
          this.reject(line, 'unknown_event', `event ${JSON.stringify(name)} has no weight in --event-weights`, raw);
          return;
        }
      } else if (name === '') {
        this.reject(line, 'unknown_event', 'empty event type', raw);
        return;
      }
      event = this.eventCode(name);
    }
    if (this.explicit) {
      const text = fields[plan.rating] ?? '';
      value = parseNumberString(text);
      if (!isFiniteFloat32(value)) {
        this.reject(line, 'bad_rating', ratingDetail(text, value), raw);
        return;
      }
      if (this.search !== null && this.outOfRange(value, line, () => raw)) return;
    }
    let ts = 0;
    if (plan.ts >= 0) {
      const text = fields[plan.ts] ?? '';
      ts = this.tsFromString(text);
      if (Number.isNaN(ts)) {
        this.reject(line, 'bad_ts', `timestamp ${JSON.stringify(text)} cannot be read; ${this.tsHint}`, raw);
        return;
      }
    }
    let q = 0;
    if (this.search !== null) {
      q = this.queryIndex(fields[plan.query] ?? '', line, () => raw);
      if (q < 0) return;
    }
    const u = anon ? this.anonymousUser : this.users.internString(userId);
    const it = this.items.internString(itemId);
    this.store.push(u, it, value, ts, seq, event, q);
  }

  /**
   * A row of typed values (Parquet, Arrow IPC; columnar.ts): ids as text, integers or bigints (beyond
   * 2^53 kept exact as their decimal text); a rating as a number or text; `ts` in epoch ms when
   * `tsMs` (timestamp and date columns), else read like a text field. null/undefined is a missing
   * value, rejected with its role named. An id may also be an InternableId (the flat Parquet
   * decoder's, interned from its bytes). `raw` makes the row's text for a reject.
   */
  acceptTyped(row: TypedRow, tsMs: boolean, line: number, raw: () => string): void {
    const seq = this.nextSeq();
    const userWhy = typedIdProblem(row.user, 'user');
    const itemWhy = userWhy === null ? typedIdProblem(row.item, 'item') : null;
    if (userWhy !== null || itemWhy !== null) {
      const why = (userWhy ?? itemWhy) as [RejectReason, string];
      this.reject(line, why[0], why[1], raw());
      return;
    }
    let value = 1;
    let event = 0;
    if (this.pEvent >= 0) {
      const ev = row.event;
      const name = ev === null || ev === undefined ? '' : typeof ev === 'string' ? ev : String(ev);
      if (!this.explicit) {
        value = this.eventWeight(name);
        if (Number.isNaN(value)) {
          this.reject(line, 'unknown_event', ev === null || ev === undefined ? 'event is null' : `event ${JSON.stringify(name)} has no weight in --event-weights`, raw());
          return;
        }
      } else if (name === '') {
        this.reject(line, 'unknown_event', ev === null || ev === undefined ? 'event is null' : 'empty event type', raw());
        return;
      }
      event = this.eventCode(name);
    }
    if (this.explicit) {
      const r = row.rating;
      value = typeof r === 'number' ? r : typeof r === 'bigint' ? Number(r) : typeof r === 'string' ? parseNumberString(r) : Number.NaN;
      if (!isFiniteFloat32(value)) {
        this.reject(line, 'bad_rating', r === null || r === undefined ? 'rating is null' : ratingDetail(String(r), value), raw());
        return;
      }
    }
    let ts = 0;
    if (this.pTs >= 0) {
      ts = this.typedTs(row.ts, tsMs);
      if (Number.isNaN(ts)) {
        const t = row.ts;
        this.reject(line, 'bad_ts', t === null || t === undefined ? 'timestamp is null' : `timestamp ${JSON.stringify(String(t))} cannot be read; ${this.tsHint}`, raw());
        return;
      }
    }
    this.store.push(this.internTyped(this.users, row.user), this.internTyped(this.items, row.item), value, ts, seq, event);
  }

  /**
   * Rows 0..n-1 of a keyed slice, each stored exactly as acceptTyped would store it: the rows it can
   * answer from keys (ASCII ids, a known event entry, a number ts and rating) are checked and stored
   * here; every other row goes to `typed(i)`, which reads it as values into acceptTyped. An event
   * entry is memoised once a row with it is stored (its name weighed and coded then, in row order).
   */
  acceptKeyed(cols: KeyedRows, n: number, tsMs: boolean, typed: (i: number) => void): void {
    const { user, item, rating, event, ts } = cols;
    const explicit = this.explicit;
    for (let i = 0; i < n; i++) {
      if (!user.asciiIdAt(i) || !item.asciiIdAt(i)) {
        typed(i);
        continue;
      }
      let value = 1;
      let code = 0;
      if (event !== undefined) {
        const k = event.dictKeyAt(i);
        if (k < 0 || Number.isNaN(event.memo[k])) {
          const stored = this.store.length;
          typed(i);
          const codes = this.store.events;
          if (k >= 0 && codes !== null && this.store.length > stored) this.memoEvent(event, k, codes[stored]);
          continue;
        }
        value = event.memo[k];
        code = event.memoCode[k];
      }
      if (explicit) {
        value = rating === undefined ? Number.NaN : rating.numberAt(i);
        if (!isFiniteFloat32(value)) {
          typed(i);
          continue;
        }
      }
      let t = 0;
      if (ts !== undefined) {
        t = this.numberTs(ts.numberAt(i), tsMs);
        if (Number.isNaN(t)) {
          typed(i);
          continue;
        }
      }
      const seq = this.nextSeq();
      this.store.push(user.internAt(i, this.users), item.internAt(i, this.items), value, t, seq, code);
    }
  }

  /** Memoises an event entry once a row with it was stored under `code`: its weight (1 for explicit feedback) and code. */
  private memoEvent(event: KeyedColumn, k: number, code: number): void {
    event.memo[k] = this.explicit ? 1 : this.eventWeight(this.eventNames[code]);
    event.memoCode[k] = code;
  }

  /** A number ts as acceptTyped reads it: epoch ms from a timestamp or date column (tsMs), else by --ts-unit. */
  private numberTs(t: number, tsMs: boolean): number {
    return tsMs ? (Number.isSafeInteger(Math.round(t)) ? Math.round(t) : Number.NaN) : numericTsToMs(t, this.opts.tsUnit === 'iso' ? 'auto' : this.opts.tsUnit);
  }

  private typedTs(t: unknown, tsMs: boolean): number {
    if (typeof t === 'number') return this.numberTs(t, tsMs);
    if (typeof t === 'bigint') return numericTsToMs(Number(t), this.opts.tsUnit === 'iso' ? 'auto' : this.opts.tsUnit);
    if (typeof t === 'string') return this.opts.tsParser(t);
    if (t instanceof Date) return t.getTime();
    return Number.NaN;
  }

  private internTyped(vocab: IdVocab, id: unknown): number {
    if (typeof id === 'string') return vocab.internString(id);
    if (typeof id === 'number') return vocab.internInteger(id);
    if (id instanceof InternableId) return id.intern(vocab);
    const big = id as bigint;
    return big >= -MAX_SAFE_BIG && big <= MAX_SAFE_BIG ? vocab.internInteger(Number(big)) : vocab.internString(big.toString());
  }

  /** A row that could not be split into fields at all (bad JSON, broken quoting). */
  rejectUnparsed(line: number, reason: RejectReason, detail: string, raw: string): void {
    this.nextSeq();
    this.reject(line, reason, detail, raw);
  }
}
