/**
 * `rec synth` (README.md#commands): a seeded synthetic e-commerce behaviour log with planted latent
 * structure (see synth/world.ts for the generative model). Used for the bundled default dataset,
 * tests and scale benchmarks.
 *
 * The log is streamed user by user (memory is bounded by the catalogue and one user's rows, not
 * by the output size) into a temporary file beside the destination, renamed into place at the end.
 * Same request and seed ⇒ byte-identical file.
 */
import { createWriteStream } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { ensureDir, removeStaleTemps, tempNameBeside } from '../io/atomic.js';
import { checkOutputFile, errorCode, outputFsError } from '../io/output-dir.js';
import { describeValue, interruptedError, RecError, UsageError } from '../util/errors.js';
import { parseSafeInteger } from '../util/numbers.js';
import { Prng } from '../util/prng.js';
import type { ProgressBar } from '../util/progress.js';
import type { RunIO } from '../util/run-io.js';
import { CatalogueDrawer } from './synth/catalogue.js';
import { searchLines, type SearchTally, type SearchWorld } from './synth/search.js';
import { buildWorld, categoryName, createUserGenerator, EVENT_TYPES, type EventType, type World } from './synth/world.js';
import { plural } from '../util/plural.js';

export type SynthFormat = 'csv' | 'tsv' | 'jsonl' | 'parquet';

export interface SynthRequest {
  /** Output file; the format comes from the extension (.csv, .tsv, .jsonl, each optionally .gz), or a folder with `format: 'parquet'` or a name ending in .parquet. */
  out: string;
  /** `parquet`: a folder of day partitions (synth-parquet.ts); else from the extension of `out`. */
  format?: 'parquet';
  /** Replace an existing `out` file (without it, an existing file is refused before any work). */
  force?: boolean;
  users?: number;
  items?: number;
  categories?: number;
  days?: number;
  /** Total rows to write (exact). Default: users × eventsPerUser when that is given, else 40 × users. */
  events?: number;
  /** Mean rows per user; an alternative to `events`. */
  eventsPerUser?: number;
  seed?: number;
  /** First day (UTC): an ISO date such as `2024-01-01`, or unix seconds. */
  start?: string | number;
  /** Add a 1–5 `rating` column derived from the latent affinity plus noise. */
  explicit?: boolean;
  /**
   * Popularity drift over the days, in [0, 1] (synth/world.ts): item popularity trends day by day
   * and new items launch after the first day. 0 or absent: the stationary log (same bytes as ever).
   */
  drift?: number;
  /**
   * Share of the items, in [0, 1], launched on a later day (synth/world.ts): none of their rows comes
   * before their launch day, and a few launch the day after the log ends (catalogue-only items).
   * 0 or absent: as `drift` says (same bytes as ever without it).
   */
  newItems?: number;
  /**
   * Also write the item catalogue (synth/catalogue.ts), JSON Lines (`.jsonl`, optionally `.gz`):
   * `true` for `items.jsonl` beside `out`, or a path. Drawn from streams of its own: the log is the
   * same bytes with or without it.
   */
  catalogue?: true | string;
  /**
   * Also write search sessions (synth/search.ts; needs `catalogue`): `user,query,item,ts,event` CSV, `searches.csv`
   * beside the log or the path given (.csv, optionally .gz). The other outputs are the same bytes with or without it.
   */
  search?: true | string;
}

/** What `--search` wrote. */
export interface SynthSearchResult {
  path: string;
  rows: number;
  sessions: number;
  /** Distinct query texts. */
  queries: number;
}

/** What `--catalogue` wrote. */
export interface SynthCatalogueResult {
  path: string;
  items: number;
  /** Items launched after the first day (with `newItems` or `drift`). */
  launched_later: number;
  /** Items with no row in the log (launched after it, or never drawn). */
  not_in_log: number;
}

export interface SynthResult {
  path: string;
  format: SynthFormat;
  gzip: boolean;
  rows: number;
  /** Distinct users and items that appear in the file. */
  users: number;
  items: number;
  events_by_type: Record<EventType, number>;
  catalogue?: SynthCatalogueResult;
  search?: SynthSearchResult;
  seconds: number;
}

export const SYNTH_DEFAULTS = {
  users: 1500,
  items: 600,
  categories: 20,
  days: 30,
  eventsPerUser: 40,
  seed: 2020,
  start: '2024-01-01',
} as const;

export function synthFormatOf(path: string, forced?: 'parquet'): { format: SynthFormat; gzip: boolean } {
  const lower = path.toLowerCase();
  if (forced === 'parquet' || lower.endsWith('.parquet')) return { format: 'parquet', gzip: false };
  const gzip = lower.endsWith('.gz');
  const base = gzip ? lower.slice(0, -3) : lower;
  for (const format of ['csv', 'tsv', 'jsonl'] as const) {
    if (base.endsWith(`.${format}`)) return { format, gzip };
  }
  throw new UsageError(
    `--out must end in .csv, .tsv or .jsonl (optionally .gz), or be a folder with --format parquet. Received: ${describeValue(path)}. ` +
      'The file extension selects the output format.',
  );
}

function positiveInt(value: number | undefined, fallback: number, flag: string, max = 2 ** 31 - 1): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < 1 || v > max) {
    throw new UsageError(`${flag} must be an integer in [1, ${max}]. Received: ${describeValue(v)}.`);
  }
  return v;
}

const MAX_DATE_SECONDS = 8_640_000_000_000;

function parseStart(start: string | number): number {
  if (typeof start === 'number') {
    if (!Number.isInteger(start) || start < 0) {
      throw new UsageError(`--start must be an ISO date or non-negative unix seconds. Received: ${describeValue(start)}.`);
    }
    return start;
  }
  if (/^\d+$/.test(start)) {
    const seconds = parseSafeInteger(start);
    // Beyond what a Date holds (8.64e15 ms), timestamps would be garbage, not an error.
    if (!(seconds <= MAX_DATE_SECONDS)) {
      throw new UsageError(`--start as unix seconds must be at most ${MAX_DATE_SECONDS} (the latest a date can be). Received: ${describeValue(start)}.`);
    }
    return seconds;
  }
  const withZone = /^\d{4}-\d{2}-\d{2}$/.test(start) ? `${start}T00:00:00Z` : start;
  const ms = Date.parse(withZone);
  if (!Number.isFinite(ms)) {
    throw new UsageError(`--start must be an ISO date such as 2024-01-01. Received: ${describeValue(start)}.`);
  }
  return Math.floor(ms / 1000);
}

interface ResolvedSynth {
  users: number;
  items: number;
  categories: number;
  days: number;
  events: number;
  seed: number;
  startTs: number;
  explicit: boolean;
  drift: number;
  newItems: number;
  catalogue: { path: string; gzip: boolean } | null;
  search: { path: string; gzip: boolean } | null;
}

export function resolveSynthRequest(req: SynthRequest): ResolvedSynth {
  const users = positiveInt(req.users, SYNTH_DEFAULTS.users, '--users');
  const items = positiveInt(req.items, SYNTH_DEFAULTS.items, '--items');
  const categories = positiveInt(req.categories, SYNTH_DEFAULTS.categories, '--categories');
  if (categories > items) {
    throw new UsageError(`--categories must not exceed --items. Received: ${categories} categories for ${items} items.`);
  }
  const days = positiveInt(req.days, SYNTH_DEFAULTS.days, '--days', 36500);
  if (req.events !== undefined && req.eventsPerUser !== undefined) {
    throw new UsageError('Give either --events or --events-per-user, not both.');
  }
  const perUser = positiveInt(req.eventsPerUser, SYNTH_DEFAULTS.eventsPerUser, '--events-per-user');
  const events = positiveInt(req.events, users * perUser, '--events', Number.MAX_SAFE_INTEGER);
  const seed = req.seed ?? SYNTH_DEFAULTS.seed;
  if (!Number.isSafeInteger(seed) || seed < 0) {
    throw new UsageError(`--seed must be a non-negative integer. Received: ${describeValue(seed)}.`);
  }
  const drift = req.drift ?? 0;
  if (!(Number.isFinite(drift) && drift >= 0 && drift <= 1)) {
    throw new UsageError(`--drift must be a number in [0, 1] (0: no drift, 1: strong). Received: ${describeValue(drift)}.`);
  }
  if (drift > 0 && days < 2) throw new UsageError(`--drift ${drift} needs at least 2 days of activity to drift over. Received: --days ${days}.`);
  const newItems = req.newItems ?? 0;
  if (!(Number.isFinite(newItems) && newItems >= 0 && newItems <= 1)) {
    throw new UsageError(`--new-items must be a share of the items in [0, 1] (e.g. 0.2). Received: ${describeValue(newItems)}.`);
  }
  return {
    users,
    items,
    categories,
    days,
    events,
    seed,
    startTs: parseStart(req.start ?? SYNTH_DEFAULTS.start),
    explicit: req.explicit === true,
    drift,
    newItems,
    catalogue: req.catalogue === undefined ? null : cataloguePath(req.out, req.catalogue),
    search: searchPath(req),
  };
}

/** Where `--search` writes: `searches.csv` beside the log, or the path given (.csv, optionally .gz); it needs --catalogue. */
function searchPath(req: SynthRequest): { path: string; gzip: boolean } | null {
  if (req.search === undefined) return null;
  if (req.catalogue === undefined) throw new UsageError('--search draws its queries from the catalogue\'s titles. Expected --catalogue beside it.');
  const path = req.search === true ? join(dirname(req.out), 'searches.csv') : req.search;
  const lower = path.toLowerCase();
  if (!lower.endsWith('.csv') && !lower.endsWith('.csv.gz')) throw new UsageError(`--search must end in .csv or .csv.gz. Received: ${describeValue(path)}.`);
  const others = [req.out, cataloguePath(req.out, req.catalogue).path].map((p) => resolve(p));
  if (others.includes(resolve(path))) throw new UsageError(`--search must not be the --out or --catalogue file. Received: ${describeValue(path)}.`);
  return { path, gzip: lower.endsWith('.gz') };
}

/** Where `--catalogue` writes: `items.jsonl` beside the log, or the path given (JSON Lines, optionally .gz). */
export function cataloguePath(out: string, catalogue: true | string): { path: string; gzip: boolean } {
  const path = catalogue === true ? join(dirname(out), 'items.jsonl') : catalogue;
  const lower = path.toLowerCase();
  if (!lower.endsWith('.jsonl') && !lower.endsWith('.jsonl.gz')) {
    throw new UsageError(
      `--catalogue must end in .jsonl or .jsonl.gz (one JSON object per item: its categories are a list). Received: ${describeValue(path)}.`,
    );
  }
  if (resolve(path) === resolve(out)) throw new UsageError(`--catalogue must not be the --out file. Received: ${describeValue(path)} for both.`);
  return { path, gzip: lower.endsWith('.gz') };
}

/**
 * Rows per user: a log-normal activity level (σ = 1: a heavy tail of very active users), scaled
 * so the budgets add up to `events` exactly (cumulative rounding), with at least min(3, events/users)
 * rows each so most users survive a leave-last split.
 */
function userBudgets(users: number, events: number, seed: number): Float64Array {
  const rng = Prng.fromSeed(seed, 'synth/activity');
  const w = new Float64Array(users);
  let total = 0;
  for (let u = 0; u < users; u++) {
    w[u] = Math.exp(rng.normal());
    total += w[u];
  }
  const base = Math.min(3, Math.floor(events / users));
  const rest = events - base * users;
  const budgets = new Float64Array(users);
  let cum = 0;
  let given = 0;
  for (let u = 0; u < users; u++) {
    cum += w[u];
    const upTo = u === users - 1 ? rest : Math.round((rest * cum) / total);
    budgets[u] = base + upTo - given;
    given = upTo;
  }
  return budgets;
}

const CHUNK_BYTES = 1 << 20;

function ascii(text: string): Buffer {
  return Buffer.from(text, 'latin1');
}

/** Many short ASCII strings packed into one byte array; string i is bytes[offsets[i], offsets[i+1]). */
function fragments(n: number, text: (i: number) => string): { bytes: Uint8Array; offsets: Int32Array } {
  const parts: Buffer[] = [];
  const offsets = new Int32Array(n + 1);
  for (let i = 0; i < n; i++) {
    const b = ascii(text(i));
    parts.push(b);
    offsets[i + 1] = offsets[i] + b.length;
  }
  return { bytes: Buffer.concat(parts), offsets };
}

function interrupted(signal: AbortSignal): Error {
  return interruptedError(signal, 'rec synth was interrupted; no --out file was written.');
}

export async function runSynth(req: SynthRequest, io: RunIO): Promise<SynthResult> {
  const started = performance.now();
  const { format, gzip } = synthFormatOf(req.out, req.format);
  const r = resolveSynthRequest(req);
  if (format === 'parquet') {
    if (r.catalogue !== null) throw new UsageError('--catalogue is not written with --format parquet. Expected a CSV/TSV/JSONL --out for a log with its catalogue.');
    await (await import('./synth-parquet.js')).checkSynthFolder(req.out, req.force === true);
  } else await checkOutputFile(req.out, req.force === true);
  if (r.catalogue !== null) await checkOutputFile(r.catalogue.path, req.force === true, '--catalogue');
  if (r.search !== null) await checkOutputFile(r.search.path, req.force === true, '--search');
  const world = buildWorld({
    users: r.users,
    items: r.items,
    categories: r.categories,
    days: r.days,
    startTs: r.startTs,
    seed: r.seed,
    ...(r.drift > 0 ? { drift: r.drift } : {}),
    ...(r.newItems > 0 ? { newItems: r.newItems } : {}),
  });
  const budgets = userBudgets(r.users, r.events, r.seed);
  // --search: each user's taste as the log's generator drew it (no draw of its own), in the order users get rows.
  const tastes: number[] = [];
  const nextUser = createUserGenerator(world, r.explicit, r.search !== null ? (u) => tastes.push(...u) : undefined);
  const frags = rowFragments(world, r, format);
  const searchTally: SearchTally = { rows: 0, sessions: 0, queries: new Set<string>() };
  const tally: SynthTally = { counts: new Float64Array(EVENT_TYPES.length), itemSeen: new Uint8Array(r.items), rows: 0, usersWithRows: 0 };
  // Both files are written in full beside their destinations before either is renamed into place.
  const staged: [string, string][] = [];
  try {
    if (r.catalogue !== null) {
      const catBar = io.progress.start('synth catalogue', r.items, 'items');
      staged.push([await writeSynthTemp(r.catalogue.path, r.catalogue.gzip, encodeCatalogue(world, catBar, io.signal), catBar), r.catalogue.path]);
    }
    const bar = io.progress.start('synth', r.events, 'rows', { rate: { unit: 'rows', scale: 1 } });
    if (format === 'parquet') {
      const { users, days, startTs, explicit } = r;
      // hyparquet-writer loads only here: every other command starts without it.
      const { writeSynthParquet } = await import('./synth-parquet.js');
      await writeSynthParquet({ out: req.out, force: req.force === true, world, users, days, startTs, explicit, budgets, nextUser, tally, bar, signal: io.signal });
    } else staged.push([await writeSynthTemp(req.out, gzip, encodeRows({ r, budgets, nextUser, frags, tally, bar, signal: io.signal }), bar), req.out]);
    if (r.search !== null) {
      const searchBar = io.progress.start('synth search', budgets.length, 'users');
      const sw = searchWorld(world, budgets, Float32Array.from(tastes));
      staged.push([await writeSynthTemp(r.search.path, r.search.gzip, textChunks(searchLines(sw, searchTally)), searchBar), r.search.path]);
    }
  } catch (error) {
    for (const [tmp] of staged) await rm(tmp, { force: true });
    throw error;
  }
  await publish(staged);

  const { rows, usersWithRows } = tally;
  let items = 0;
  for (let i = 0; i < r.items; i++) items += tally.itemSeen[i];
  const seconds = (performance.now() - started) / 1000;
  const events_by_type = {} as Record<EventType, number>;
  EVENT_TYPES.forEach((e, k) => (events_by_type[e] = tally.counts[k]));
  const launches = r.newItems > 0 ? `, ${Math.round(r.newItems * 100)}% of items launched later` : '';
  io.log.info(
    `synth: wrote ${plural(rows, 'row')} (${plural(usersWithRows, 'user')}, ${plural(items, 'item')}) to ${req.out} in ${seconds.toFixed(2)} s ` +
      `(${Math.round(rows / Math.max(seconds, 1e-9))} rows/s)${r.drift > 0 ? `, popularity drift ${r.drift} over ${r.days} days` : ''}${launches}`,
  );
  const catalogue = r.catalogue === null ? undefined : catalogueSummary(world, r.catalogue.path, r.items - items);
  if (catalogue !== undefined) {
    io.log.info(
      `synth: catalogue of ${plural(catalogue.items, 'item')} to ${catalogue.path} (${catalogue.launched_later} launched after the first day, ` +
        `${catalogue.not_in_log} with no row in the log)`,
    );
  }
  const search = r.search === null ? undefined : { path: r.search.path, rows: searchTally.rows, sessions: searchTally.sessions, queries: searchTally.queries.size };
  if (search !== undefined) io.log.info(`synth: ${plural(search.rows, 'search row')} (${plural(search.sessions, 'session')}, ${plural(search.queries, 'distinct query', 'distinct queries')}) to ${search.path}`);
  return { path: req.out, format, gzip, rows, users: usersWithRows, items, events_by_type, ...(catalogue ? { catalogue } : {}), ...(search ? { search } : {}), seconds };
}

/** The catalogue's titles and brands (drawn again, in the catalogue's order, so they are its) and the users with rows. */
function searchWorld(world: World, budgets: Float64Array, tastes: Float32Array): SearchWorld {
  const { items } = world.spec;
  const internal = new Int32Array(items);
  for (let j = 0; j < items; j++) internal[world.itemExternal[j]] = j;
  const drawer = new CatalogueDrawer(world);
  const titles = new Array<string>(items);
  const brands = new Array<string | null>(items);
  for (let e = 0; e < items; e++) {
    const f = drawer.features(internal[e]);
    titles[internal[e]] = f.title;
    brands[internal[e]] = f.brand;
  }
  const users: number[] = [];
  for (let u = 0; u < budgets.length; u++) if (budgets[u] > 0) users.push(u);
  return { world, titles, brands, users: Int32Array.from(users), tastes };
}

function* textChunks(lines: Generator<string>): Generator<Uint8Array> {
  for (const text of lines) yield Buffer.from(text, 'utf8');
}

function catalogueSummary(world: World, path: string, notInLog: number): SynthCatalogueResult {
  let later = 0;
  const launch = world.launchDay;
  if (launch !== null) for (let j = 0; j < launch.length; j++) if (launch[j] > 0) later++;
  return { path, items: world.spec.items, launched_later: later, not_in_log: notInLog };
}

const DAY_S = 86_400;

/**
 * The catalogue's bytes, one JSON line per item in public id order (so line order says nothing
 * about the category). `launched` (the launch day, an ISO date) only when items launch over time.
 */
function* encodeCatalogue(world: World, bar: ProgressBar, signal: AbortSignal | undefined): Generator<Uint8Array> {
  const { items, startTs } = world.spec;
  const internal = new Int32Array(items);
  for (let j = 0; j < items; j++) internal[world.itemExternal[j]] = j;
  const drawer = new CatalogueDrawer(world);
  const launch = world.launchDay;
  let lines: string[] = [];
  let bytes = 0;
  for (let e = 0; e < items; e++) {
    if (signal?.aborted) throw interrupted(signal);
    const j = internal[e];
    const f = drawer.features(j);
    const launched = launch === null ? {} : { launched: new Date((startTs + launch[j] * DAY_S) * 1000).toISOString().slice(0, 10) };
    const line = `${JSON.stringify({ item: `i${e + 1}`, title: f.title, brand: f.brand, categories: f.categories, price: f.price, ...launched })}\n`;
    lines.push(line);
    bytes += line.length;
    if (bytes >= CHUNK_BYTES) {
      yield Buffer.from(lines.join(''), 'utf8');
      bar.update(e + 1);
      lines = [];
      bytes = 0;
    }
  }
  if (lines.length > 0) yield Buffer.from(lines.join(''), 'utf8');
}

/**
 * Rows are encoded straight into byte buffers from pre-encoded ASCII fragments (no string per
 * row: that alone was half the run time). A row is userPart + itemPart + eventPart + ts [+ rating] + end.
 */
interface RowFragments {
  header: string;
  user: (u: number) => Buffer;
  item: { bytes: Uint8Array; offsets: Int32Array };
  event: { bytes: Uint8Array; offsets: Int32Array };
  rating: Buffer;
  end: Buffer;
  explicit: boolean;
}

/** What the written rows hold, counted while they are encoded. */
interface SynthTally {
  counts: Float64Array;
  itemSeen: Uint8Array;
  rows: number;
  usersWithRows: number;
}

function rowFragments(world: World, r: ResolvedSynth, format: SynthFormat): RowFragments {
  const sep = format === 'tsv' ? '\t' : ',';
  const json = format === 'jsonl';
  return {
    header: json ? '' : `${['user_id', 'item_id', 'category', 'event', 'ts', ...(r.explicit ? ['rating'] : [])].join(sep)}\n`,
    user: (u) => ascii(json ? `{"user_id":"u${u + 1}",` : `u${u + 1}${sep}`),
    item: fragments(r.items, (j) => {
      const id = `i${world.itemExternal[j] + 1}`;
      const cat = categoryName(world.itemCategory[j]);
      return json ? `"item_id":"${id}","category":"${cat}",` : `${id}${sep}${cat}${sep}`;
    }),
    event: fragments(EVENT_TYPES.length, (e) => (json ? `"event":"${EVENT_TYPES[e]}","ts":` : `${EVENT_TYPES[e]}${sep}`)),
    rating: ascii(json ? ',"rating":' : sep),
    end: ascii(json ? '}\n' : '\n'),
    explicit: r.explicit,
  };
}

interface EncodeJob {
  r: ResolvedSynth;
  budgets: Float64Array;
  nextUser: ReturnType<typeof createUserGenerator>;
  frags: RowFragments;
  tally: SynthTally;
  bar: ProgressBar;
  signal: AbortSignal | undefined;
}

/** The log's bytes in chunks of about CHUNK_BYTES, user by user. */
function* encodeRows({ r, budgets, nextUser, frags, tally, bar, signal }: EncodeJob): Generator<Uint8Array> {
  let buf = new Uint8Array(CHUNK_BYTES + 4096);
  let pos = 0;
  const put = (src: Uint8Array, from: number, to: number) => {
    for (let j = from; j < to; j++) buf[pos++] = src[j];
  };
  const putInt = (v: number) => {
    // Non-negative integers below 2^53: digits written backwards, then reversed in place.
    const start = pos;
    do {
      const q = Math.floor(v / 10);
      buf[pos++] = 48 + (v - q * 10);
      v = q;
    } while (v > 0);
    for (let a = start, b = pos - 1; a < b; a++, b--) {
      const t = buf[a];
      buf[a] = buf[b];
      buf[b] = t;
    }
  };
  const { item: itemFrag, event: eventFrag, rating: ratingFrag, end: endFrag } = frags;
  const headerBytes = ascii(frags.header);
  put(headerBytes, 0, headerBytes.length);
  for (let u = 0; u < r.users; u++) {
    if (signal?.aborted) throw interrupted(signal);
    const budget = budgets[u];
    if (budget === 0) continue;
    const userRows = nextUser(budget);
    tally.usersWithRows++;
    const userBytes = frags.user(u);
    for (let j = 0; j < userRows.count; j++) {
      const item = userRows.item[j];
      const e = userRows.event[j];
      tally.itemSeen[item] = 1;
      tally.counts[e]++;
      if (pos + userBytes.length + 256 > buf.length) {
        yield buf.subarray(0, pos);
        buf = new Uint8Array(CHUNK_BYTES + 4096);
        pos = 0;
        bar.update(tally.rows + j);
      }
      put(userBytes, 0, userBytes.length);
      put(itemFrag.bytes, itemFrag.offsets[item], itemFrag.offsets[item + 1]);
      put(eventFrag.bytes, eventFrag.offsets[e], eventFrag.offsets[e + 1]);
      putInt(userRows.ts[j]);
      if (frags.explicit) {
        put(ratingFrag, 0, ratingFrag.length);
        putInt(userRows.rating[j]);
      }
      put(endFrag, 0, endFrag.length);
    }
    tally.rows += userRows.count;
  }
  if (pos > 0) yield buf.subarray(0, pos);
}

function fsErrorOf(out: string, error: unknown): unknown {
  return !(error instanceof RecError) && errorCode(error) !== undefined ? outputFsError(out, error) : error;
}

/** Renames each staged temporary file onto its destination; on a failure, removes the ones not yet renamed. */
async function publish(staged: [string, string][]): Promise<void> {
  for (let s = 0; s < staged.length; s++) {
    const [tmp, out] = staged[s];
    try {
      await rename(tmp, out);
    } catch (error) {
      for (const [rest] of staged.slice(s)) await rm(rest, { force: true });
      throw fsErrorOf(out, error);
    }
  }
}

/** Streams the chunks (gzipped for .gz) into a temporary file beside `out`, synced; returns its name (the caller renames it). */
async function writeSynthTemp(out: string, gzip: boolean, chunks: Generator<Uint8Array>, bar: ProgressBar): Promise<string> {
  const fsError = (error: unknown): unknown => fsErrorOf(out, error);
  try {
    await ensureDir(dirname(out));
    await removeStaleTemps(dirname(out), basename(out));
  } catch (error) {
    bar.stop();
    throw fsError(error);
  }
  const tmp = tempNameBeside(out);
  try {
    const source = Readable.from(chunks, { objectMode: false, highWaterMark: 4 });
    const file = createWriteStream(tmp);
    if (gzip) await pipeline(source, createGzip({ level: 6 }), file);
    else await pipeline(source, file);
    const handle = await open(tmp, 'r+');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
    return tmp;
  } catch (error) {
    await rm(tmp, { force: true });
    throw fsError(error);
  } finally {
    bar.stop();
  }
}
