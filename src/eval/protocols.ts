/**
 * Evaluation protocols (docs/evaluation.md#protocols): `full`, `sampled:N` and `candidates:FILE`.
 *
 * - `full`: rank every item, excluding the user's train items (and valid items when evaluating test).
 * - `sampled:N`: each relevant item against N items the user never interacted with in any split,
 *   drawn from the seeded PRNG and saved beside the eval file for reuse.
 * - `candidates:FILE`: each relevant item against the user's given candidates (e.g. the NCF paper's
 *   99 negatives), read from a TSV line per user: the raw user id, then raw item ids.
 *
 * Negatives file format (written by `writeNegativesFile`, read by `readCandidatesFile` too, so a
 * saved draw can be reused as `candidates:FILE`): UTF-8 text; lines starting with `#` are comments,
 * the first being `# rec-negatives v1 n=<N> seed=<S>`; then one line per user, tab-separated: the
 * raw user id followed by its raw negative item ids in draw order. Raw ids (not indices), so the
 * file stays valid for any model trained on the same vocabulary and readable by pandas/DuckDB
 * (`comment='#'`, `sep='\t'`, no header).
 */
import { basename, dirname, join } from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';
import { evalFileName as contractEvalFileName, negativesFileName } from '../io/checkpoint-contract.js';
import { readTextLines } from '../io/text-lines.js';
import { DataError, describeValue, UsageError } from '../util/errors.js';
import { Prng } from '../util/prng.js';

export type ProtocolSpec = { name: 'full' } | { name: 'sampled'; n: number } | { name: 'candidates'; file: string };

const PROTOCOL_HELP = 'Expected full, sampled:N (N a positive integer, e.g. sampled:100) or candidates:FILE.';

/** Parses `--protocol`. The candidates path is returned as written; the CLI resolves it. */
export function parseProtocol(spec: string, flag = '--protocol'): ProtocolSpec {
  const text = spec.trim();
  if (text === 'full') return { name: 'full' };
  const colon = text.indexOf(':');
  const head = colon < 0 ? text : text.slice(0, colon);
  const arg = colon < 0 ? '' : text.slice(colon + 1);
  if (head === 'sampled') {
    const n = /^\d+$/.test(arg) ? Number(arg) : NaN;
    if (!Number.isSafeInteger(n) || n < 1) {
      throw new UsageError(`${flag}: bad negative count in ${describeValue(spec)}. ${PROTOCOL_HELP}`);
    }
    return { name: 'sampled', n };
  }
  if (head === 'candidates') {
    if (arg === '') throw new UsageError(`${flag}: candidates needs a file, e.g. candidates:test.negative. Received: ${describeValue(spec)}.`);
    return { name: 'candidates', file: arg };
  }
  throw new UsageError(`${flag}: unknown protocol ${describeValue(spec)}. ${PROTOCOL_HELP}`);
}

/** The protocol part of eval file names: `full`, `sampled100`, `candidates` (docs/evaluation.md). */
export function protocolTag(spec: ProtocolSpec): string {
  return spec.name === 'sampled' ? `sampled${spec.n}` : spec.name;
}

/**
 * Which relevant items an evaluation ranks (`rec eval --items`, docs/evaluation.md#new-items):
 * `all`; `warm`, only those with a training row; `cold`, only those without (new products). The
 * cold ones split in two by what a deployed system could know of them when the evaluated period
 * begins: `new`, no row in any split before the evaluated one (launched within it: no count
 * exists anywhere); `recent`, rows before it but none in training (sold between the end of
 * training and the evaluated period, e.g. in valid when evaluating test: counts exist).
 */
export type ItemsMode = 'all' | 'warm' | 'cold' | 'new' | 'recent';

/**
 * The tag of an evaluation of some relevant items only (`rec eval --items warm|cold|new|recent`): the protocol
 * tag with `.warm` / `.cold` / `.new` / `.recent`, so `eval-test-full.cold.json` sits beside `eval-test-full.json` and
 * TensorBoard curves stay apart. No dash: the file name's split is everything before the last one.
 */
export function evalTag(spec: ProtocolSpec, items: ItemsMode = 'all'): string {
  return items === 'all' ? protocolTag(spec) : `${protocolTag(spec)}.${items}`;
}

/** `eval-<split>-<protocol>[.warm|.cold|.new|.recent].json` inside the checkpoint folder (named by the checkpoint contract). */
export function evalFileName(split: string, spec: ProtocolSpec, items: ItemsMode = 'all'): string {
  return contractEvalFileName(split, evalTag(spec, items));
}

/** Where sampled negatives are saved: beside the eval file, `eval-test-sampled100.negatives.tsv`. */
export function negativesPathFor(evalFile: string): string {
  return join(dirname(evalFile), negativesFileName(basename(evalFile)));
}

// ---------------------------------------------------------------------------------------------
// sampled:N

/** Per evaluated user, the drawn negative item indices. `negatives[j]` belongs to `users[j]`. */
export interface SampledNegatives {
  n: number;
  seed: number;
  users: Int32Array;
  negatives: Int32Array[];
}

/**
 * Draws, for each user, `n` distinct items the user never interacted with in any split.
 *
 * Each user has its own PRNG stream (`eval/negatives/<user index>`), so a user's negatives do not
 * depend on which other users are evaluated or in what order. A user with fewer than n such items
 * gets all of them (in a seeded random order).
 *
 * `interacted(u)` lists the user's items in train, valid and test (duplicates allowed).
 */
export function drawSampledNegatives(args: {
  users: ArrayLike<number>;
  interacted: (user: number) => ArrayLike<number>;
  numItems: number;
  n: number;
  seed: number;
  /** Items that may be drawn (1); all when absent. */
  eligible?: Uint8Array;
}): SampledNegatives {
  const { users, interacted, numItems, n, seed, eligible } = args;
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`drawSampledNegatives: n must be a positive integer; got ${n}`);
  // 3 marks an item no user may draw; 1 one this user interacted with; 2 one already drawn.
  const taken = new Uint8Array(numItems);
  let pool = numItems;
  if (eligible) {
    for (let i = 0; i < numItems; i++) if (eligible[i] !== 1) taken[i] = 3;
    pool = 0;
    for (let i = 0; i < numItems; i++) if (taken[i] === 0) pool++;
  }
  const out: Int32Array[] = [];
  for (let j = 0; j < users.length; j++) {
    const u = users[j];
    const seen = interacted(u);
    let blocked = 0;
    for (let t = 0; t < seen.length; t++) {
      if (taken[seen[t]] === 0) {
        taken[seen[t]] = 1;
        blocked++;
      }
    }
    const available = pool - blocked;
    const want = Math.min(n, available);
    const rng = Prng.fromSeed(seed, `eval/negatives/${u}`);
    const drawn = new Int32Array(want);
    // Rejection sampling while at least half the catalogue can be drawn (checked only with
    // `eligible`, so draws without it are exactly those of earlier versions).
    if (want * 2 <= available && (eligible === undefined || available * 2 >= numItems)) {
      // Rejection sampling: each draw succeeds with probability ≥ 1/2.
      let got = 0;
      while (got < want) {
        const i = rng.int(numItems);
        if (taken[i] === 0) {
          taken[i] = 2;
          drawn[got++] = i;
        }
      }
    } else {
      // Few items left: a partial Fisher–Yates over the free ones.
      const free = new Int32Array(available);
      let f = 0;
      for (let i = 0; i < numItems; i++) if (taken[i] === 0) free[f++] = i;
      for (let got = 0; got < want; got++) {
        const r = got + rng.int(available - got);
        const tmp = free[got];
        free[got] = free[r];
        free[r] = tmp;
        drawn[got] = free[got];
      }
    }
    for (let t = 0; t < seen.length; t++) if (taken[seen[t]] === 1) taken[seen[t]] = 0;
    for (let t = 0; t < want; t++) taken[drawn[t]] = 0;
    out.push(drawn);
  }
  return { n, seed, users: Int32Array.from(users), negatives: out };
}

const NEGATIVES_MAGIC = 'rec-negatives v1';

/** Writes drawn negatives as raw ids (format in the module comment), atomically. */
export async function writeNegativesFile(
  path: string,
  negatives: SampledNegatives,
  ids: { user: (index: number) => string; item: (index: number) => string },
): Promise<void> {
  const lines = [`# ${NEGATIVES_MAGIC} n=${negatives.n} seed=${negatives.seed}`];
  for (let j = 0; j < negatives.users.length; j++) {
    const row = [ids.user(negatives.users[j])];
    for (const i of negatives.negatives[j]) row.push(ids.item(i));
    lines.push(row.join('\t'));
  }
  await writeFileAtomic(path, `${lines.join('\n')}\n`);
}

/** The `n` and `seed` a negatives file was drawn with, from its first comment line; null if absent. */
export function negativesFileMeta(comments: readonly string[]): { n: number; seed: number } | null {
  for (const c of comments) {
    const m = new RegExp(`^#\\s*${NEGATIVES_MAGIC} n=(\\d+) seed=(\\d+)\\s*$`).exec(c);
    if (m) return { n: Number(m[1]), seed: Number(m[2]) };
  }
  return null;
}

/**
 * Reloads saved negatives for reuse. Returns null when the file was drawn with another n or seed
 * (the caller then draws afresh); throws DataError when an id no longer maps, naming file:line.
 */
export async function readNegativesFile(
  path: string,
  expect: { n: number; seed: number },
  lookup: { user: (raw: string) => number | undefined; item: (raw: string) => number | undefined },
): Promise<SampledNegatives | null> {
  const file = await readCandidatesFile(path);
  const meta = negativesFileMeta(file.comments);
  if (!meta || meta.n !== expect.n || meta.seed !== expect.seed) return null;
  const users = new Int32Array(file.lists.length);
  const negatives: Int32Array[] = [];
  file.lists.forEach((list, j) => {
    const u = lookup.user(list.user);
    if (u === undefined) throw new DataError(`${path}:${list.line}: unknown user ${describeValue(list.user)} in saved negatives.`);
    users[j] = u;
    const items = new Int32Array(list.items.length);
    list.items.forEach((raw, t) => {
      const i = lookup.item(raw);
      if (i === undefined) throw new DataError(`${path}:${list.line}: unknown item ${describeValue(raw)} in saved negatives.`);
      items[t] = i;
    });
    negatives.push(items);
  });
  return { n: meta.n, seed: meta.seed, users, negatives };
}

// ---------------------------------------------------------------------------------------------
// candidates:FILE

export interface CandidateList {
  user: string;
  items: string[];
  /** 1-based line number in the file, for messages. */
  line: number;
}

export interface CandidatesFile {
  lists: CandidateList[];
  /** Comment lines (starting with `#`), in order. */
  comments: string[];
}

/**
 * Reads a candidates TSV (optionally .gz): per line a raw user id then one or more raw item ids,
 * tab-separated. Lines end at LF, CRLF or a lone CR and a leading BOM is dropped (io/text-lines.ts,
 * the splitter prep uses). Blank lines and `#` comments are skipped. A line that is not UTF-8,
 * has no item or an empty field, or lists a user twice is a DataError naming file:line: the file
 * defines the protocol, so it is refused whole rather than evaluated on a silently shorter list.
 */
export async function readCandidatesFile(path: string): Promise<CandidatesFile> {
  const lists: CandidateList[] = [];
  const comments: string[] = [];
  const firstLine = new Map<string, number>();
  for await (const { text, line } of readTextLines(path, '--protocol candidates file')) {
    if (text.trim() === '') continue;
    if (text.startsWith('#')) {
      comments.push(text);
      continue;
    }
    const fields = text.split('\t');
    if (fields.length < 2) {
      throw new DataError(
        `${path}:${line}: expected a raw user id then at least one raw item id, tab-separated. Received: ${describeValue(text)}.`,
      );
    }
    const empty = fields.findIndex((f) => f.trim() === '');
    if (empty >= 0) {
      throw new DataError(`${path}:${line}: field ${empty + 1} is empty (two tabs in a row or a trailing tab). Received: ${describeValue(text)}.`);
    }
    const user = fields[0];
    const before = firstLine.get(user);
    if (before !== undefined) {
      throw new DataError(`${path}:${line}: user ${describeValue(user)} already has candidates on line ${before}. Expected one line per user.`);
    }
    firstLine.set(user, line);
    lists.push({ user, items: fields.slice(1), line });
  }
  return { lists, comments };
}

export const SKIP_UNKNOWN_ITEM = 'unknown_item';

export interface ResolvedCandidates {
  /** `unknown_item` when none of the user's relevant items is known to the model; else null. */
  skip: typeof SKIP_UNKNOWN_ITEM | null;
  /** Model indices of the relevant items the model knows (each ranked against `candidates`). */
  relevant: Int32Array;
  /** Model indices of the kept candidates, in file order. */
  candidates: Int32Array;
  /** Candidates removed because the model has never seen them (`candidates.dropped_unknown`). */
  droppedUnknown: number;
  /** Candidates removed because they equal a relevant item (`candidates.dropped_positive`). */
  droppedPositive: number;
}

/**
 * Applies the candidate rules of docs/evaluation.md#protocols to one user, given the model's raw-id → index lookup:
 * a candidate equal to one of the user's relevant items is removed (counted as dropped_positive,
 * compared on raw ids, so this holds even for a relevant item the model does not know); then a
 * candidate unknown to the model is dropped (dropped_unknown). The user is skipped as
 * `unknown_item` when all its relevant items are unknown to the model. Duplicated candidates are
 * kept as given.
 */
export function resolveCandidates(
  input: { relevant: readonly string[]; candidates: readonly string[] },
  lookupItem: (raw: string) => number | undefined,
): ResolvedCandidates {
  const relevantRaw = new Set(input.relevant);
  const relevant: number[] = [];
  for (const raw of relevantRaw) {
    const i = lookupItem(raw);
    if (i !== undefined) relevant.push(i);
  }
  const kept: number[] = [];
  let droppedUnknown = 0;
  let droppedPositive = 0;
  for (const raw of input.candidates) {
    if (relevantRaw.has(raw)) {
      droppedPositive++;
      continue;
    }
    const i = lookupItem(raw);
    if (i === undefined) droppedUnknown++;
    else kept.push(i);
  }
  return {
    skip: relevant.length === 0 ? SKIP_UNKNOWN_ITEM : null,
    relevant: Int32Array.from(relevant),
    candidates: Int32Array.from(kept),
    droppedUnknown,
    droppedPositive,
  };
}
