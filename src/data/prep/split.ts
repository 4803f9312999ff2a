/**
 * Assigns the pool rows (rows of the logs, after dedupe and k-core) to train / valid / test.
 * Rows of --valid / --test files are already in their split; the split then divides the pool only
 * among the splits that are not predefined (their shares renormalised).
 *  - random: one seeded uniform draw per row, in input order.
 *  - temporal: global time cut at the quantiles of the pool rows' timestamps; rows with the same
 *    timestamp always land in the same split, so every valid row is at or after every train row.
 *  - leave-last: per user, the latest row (by ts, then input order) → test, the one before → valid;
 *    a user with fewer rows than (splits to fill + 1), i.e. < 3 normally, stays wholly in train.
 *  - days: cut points counted back from the newest pool row's ts, in whole days of 86 400 000 ms
 *    (no calendar, no time zone): rows with ts > newest − TEST days → test, rows with
 *    ts > newest − (VALID + TEST) days → valid, the rest → train. So `days:0,1` makes the last 24
 *    hours of the log the test slice, whatever the clock time of its newest row.
 *  - none: everything to train.
 */
import { Prng } from '../../util/prng.js';
import { UsageError } from '../../util/errors.js';
import type { SplitSpec } from './options.js';
import type { RowStore } from './store.js';
import { DAY_MS } from './timestamps.js';
import { POOL, TEST, TRAIN, VALID } from './order.js';

export interface SplitOutcome {
  /** Shares actually applied to the pool (random/temporal), in train, valid, test order. */
  ratios: [number, number, number] | null;
  /** temporal: first ts (ms) of valid and of test; null when that split is empty. */
  cuts: { valid_from_ts: number | null; test_from_ts: number | null } | null;
  /** Notes for the log (e.g. a share dropped because its split is predefined). */
  notes: string[];
}

export function applySplit(
  store: RowStore,
  assign: Uint8Array,
  nUsers: number,
  spec: SplitSpec,
  predefined: { valid: boolean; test: boolean },
  seed: number,
): SplitOutcome {
  const n = store.length;
  const notes: string[] = [];
  if (spec.kind === 'query') throw new UsageError('--split query:… (config prep.split) needs a search log (--columns query=C,…).');
  if (spec.kind === 'none') {
    for (let i = 0; i < n; i++) if (assign[i] === POOL) assign[i] = TRAIN;
    return { ratios: null, cuts: null, notes };
  }
  if (spec.kind === 'leave-last') {
    leaveLast(store, assign, nUsers, predefined);
    return { ratios: null, cuts: null, notes };
  }
  if (spec.kind === 'days') return daySplit(store, assign, spec, predefined, notes);
  const ratios = splitShares(spec.kind, spec.ratios, predefined, notes);
  if (spec.kind === 'random') {
    const prng = Prng.fromSeed(seed, 'prep.split');
    // Compare the raw 32-bit draw with scaled thresholds: x / 2^32 < a ⇔ x < a · 2^32.
    const a = ratios[0] * 4294967296;
    const b = (ratios[0] + ratios[1]) * 4294967296;
    // Draws in blocks (the same sequence as one nextUint32 per row; the stream ends here).
    const draws = new Uint32Array(Math.max(1, Math.min(n, 1 << 16)));
    let k = draws.length;
    for (let i = 0; i < n; i++) {
      if (assign[i] !== POOL) continue;
      if (k === draws.length) {
        prng.fillUint32(draws);
        k = 0;
      }
      const x = draws[k++];
      assign[i] = x < a ? TRAIN : x < b ? VALID : TEST;
    }
    return { ratios, cuts: null, notes };
  }
  if (!store.hasTs) throw new UsageError('--split temporal (config prep.split) needs timestamps, but no ts column is mapped. Expected --columns …,ts=C or another split.');
  let m = 0;
  for (let i = 0; i < n; i++) if (assign[i] === POOL) m++;
  const sorted = new Float64Array(m);
  for (let i = 0, j = 0; i < n; i++) if (assign[i] === POOL) sorted[j++] = store.tsAt(i);
  sorted.sort();
  const k1 = Math.round(ratios[0] * m);
  const k2 = Math.round((ratios[0] + ratios[1]) * m);
  const validFrom = k1 < m ? sorted[k1] : Number.POSITIVE_INFINITY;
  const testFrom = ratios[2] === 0 ? Number.POSITIVE_INFINITY : k2 < m ? sorted[k2] : Number.POSITIVE_INFINITY;
  for (let i = 0; i < n; i++) {
    if (assign[i] !== POOL) continue;
    const t = store.tsAt(i);
    assign[i] = t < validFrom ? TRAIN : t < testFrom ? VALID : TEST;
  }
  const finite = (x: number): number | null => (Number.isFinite(x) ? x : null);
  return { ratios, cuts: { valid_from_ts: ratios[1] === 0 ? null : finite(validFrom), test_from_ts: finite(testFrom) }, notes };
}

function daySplit(store: RowStore, assign: Uint8Array, spec: { valid: number; test: number }, predefined: { valid: boolean; test: boolean }, notes: string[]): SplitOutcome {
  const n = store.length;
  if (!store.hasTs) throw new UsageError(`--split days:${spec.valid},${spec.test} (config prep.split) needs timestamps, but no ts column is mapped. Expected --columns …,ts=C or another split.`);
  let testDays = spec.test;
  let validDays = spec.valid;
  if (predefined.valid && validDays > 0) {
    notes.push(`the ${validDays} valid days of --split are not used: --valid gives the validation rows`);
    validDays = 0;
  }
  if (predefined.test && testDays > 0) {
    notes.push(`the ${testDays} test days of --split are not used: --test gives the test rows`);
    testDays = 0;
  }
  let newest = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < n; i++) if (assign[i] === POOL && store.tsAt(i) > newest) newest = store.tsAt(i);
  // Rows with ts > cut belong to the later split; integer ms, so the first ms in it is cut + 1.
  // Durations below a day (days:0,15m) are fractions of DAY_MS: cuts are whole ms, as ts are.
  const testCut = testDays > 0 ? newest - Math.round(testDays * DAY_MS) : Number.POSITIVE_INFINITY;
  const validCut = validDays > 0 ? testCut - Math.round(validDays * DAY_MS) : testCut;
  for (let i = 0; i < n; i++) {
    if (assign[i] !== POOL) continue;
    const t = store.tsAt(i);
    assign[i] = t > testCut ? TEST : t > validCut ? VALID : TRAIN;
  }
  const finite = Number.isFinite(newest);
  return {
    ratios: null,
    cuts: {
      valid_from_ts: finite && validDays > 0 ? validCut + 1 : null,
      test_from_ts: finite && testDays > 0 ? testCut + 1 : null,
    },
    notes,
  };
}

function leaveLast(store: RowStore, assign: Uint8Array, nUsers: number, predefined: { valid: boolean; test: boolean }): void {
  const roles: number[] = [];
  if (!predefined.test) roles.push(TEST);
  if (!predefined.valid) roles.push(VALID);
  const hasTs = store.hasTs;
  const runs = store.runs;
  const count = new Int32Array(nUsers);
  const last = new Int32Array(nUsers).fill(-1);
  const prev = new Int32Array(nUsers).fill(-1);
  const later = (a: number, b: number): boolean => {
    if (!hasTs) return a > b;
    const ta = store.tsAt(a);
    const tb = store.tsAt(b);
    return ta !== tb ? ta > tb : a > b;
  };
  for (let u = 0; u < nUsers; u++) {
    const end = runs[u + 1];
    for (let i = runs[u]; i < end; i++) {
      if (assign[i] !== POOL) continue;
      count[u]++;
      assign[i] = TRAIN;
      const l = last[u];
      if (l < 0 || later(i, l)) {
        prev[u] = l;
        last[u] = i;
      } else if (prev[u] < 0 || later(i, prev[u])) {
        prev[u] = i;
      }
    }
  }
  if (roles.length === 0) return;
  for (let u = 0; u < nUsers; u++) {
    if (count[u] < roles.length + 1) continue;
    assign[last[u]] = roles[0];
    if (roles.length > 1) assign[prev[u]] = roles[1];
  }
}

/**
 * The shares of a ratio split, normalised to sum to 1, once predefined --valid/--test files have taken their splits
 * (their shares are dropped, with a note).
 */
export function splitShares(kind: string, given: readonly [number, number, number], predefined: { valid: boolean; test: boolean }, notes: string[]): [number, number, number] {
  const r: [number, number, number] = [...given];
  if (predefined.valid && r[1] > 0) {
    notes.push(`the valid share ${r[1]} of --split is not used: --valid gives the validation rows`);
    r[1] = 0;
  }
  if (predefined.test && r[2] > 0) {
    notes.push(`the test share ${r[2]} of --split is not used: --test gives the test rows`);
    r[2] = 0;
  }
  const sum = r[0] + r[1] + r[2];
  if (sum <= 0) {
    throw new UsageError(`--split (config prep.split) leaves no share for the rows of the logs once --valid/--test files are given. Expected a positive train share, e.g. ${kind}:0.9,0.1,0 or none.`);
  }
  return [r[0] / sum, r[1] / sum, r[2] / sum];
}
