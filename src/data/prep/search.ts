/**
 * Search logs in `rec prep` (docs/datasets.md#search-logs): rows of (query, item[, user][, ts][, relevance|event])
 * flow through the same reading, accounting and writing as behaviour logs, with a query index per row. What is
 * theirs alone lives here: the settings check, de-duplication on (user, query, item), the held-out-query split,
 * the query vocabulary after the split, queries.arrow and the manifest's `search` block.
 */
import { join } from 'node:path';
import type { PrepConfig } from '../../config/schema.js';
import { Prng } from '../../util/prng.js';
import { UsageError } from '../../util/errors.js';
import { SEARCH_FILES, type ManifestSearch } from '../manifest.js';
import { TextFeaturizer, type TextFeaturizerSpec } from '../text.js';
import { dropOf, type DedupeRule } from './dedupe.js';
import { MAX_QUERY_CHARS, type Ingest } from './ingest.js';
import type { SplitSpec } from './options.js';
import { POOL, REMOVED_DEDUPE, TEST, TRAIN, VALID, isAlive } from './order.js';
import { writeQueries } from './queries-write.js';
import type { RowStore } from './store.js';
import { splitShares, type SplitOutcome } from './split.js';

/** The split of a search log when --split is left at its default: whole queries held out. */
export const SEARCH_DEFAULT_SPLIT = 'query:0.8,0.1,0.1';

/** `MIN,MAX` of --relevance-range (config prep.relevance_range); null when not given. */
export function parseRelevanceRange(text: string | null): [number, number] | null {
  if (text === null) return null;
  const parts = text.split(',').map((s) => s.trim());
  const nums = parts.map(Number);
  if (parts.length !== 2 || parts.some((p) => p === '') || nums.some((x) => !Number.isFinite(x)) || nums[0] > nums[1]) {
    throw new UsageError(`--relevance-range (config prep.relevance_range) is invalid. Received: ${JSON.stringify(text)}. Expected MIN,MAX with MIN <= MAX, e.g. 1,3.`);
  }
  return [nums[0], nums[1]];
}

/**
 * Usage errors of a search log's settings, before anything is read: leave-last (a user's last row) means
 * nothing for a log of queries, and --append-to is not supported for one; a behaviour log cannot split by query.
 */
export function checkSearchSettings(cfg: PrepConfig, split: SplitSpec, search: boolean, appending: boolean): void {
  if (!search) {
    if (split.kind === 'query') throw new UsageError(`--split ${cfg.split} (config prep.split) splits a search log by query, but no query column is mapped. Expected --columns query=C,item=C,… or another split.`);
    if (cfg.relevance_range !== null) throw new UsageError('--relevance-range (config prep.relevance_range) is for search logs. Expected --columns query=C,item=C,relevance=C, or no --relevance-range.');
    return;
  }
  if (split.kind === 'leave-last') {
    throw new UsageError(
      `--split leave-last (config prep.split) holds out each user's last row, which is not how a search log is evaluated. Expected query:TRAIN,VALID,TEST (held-out queries, the default ${SEARCH_DEFAULT_SPLIT}), temporal:…, random:…, days:… or --test/--valid files.`,
    );
  }
  if (appending) throw new UsageError('--append-to is not supported for search logs yet. Expected a fresh rec prep of every log into --out.');
}

/**
 * Marks repeated (user, query, item) rows within each source group REMOVED_DEDUPE under `rule` (as dedupe.ts does
 * for (user, item)); rows are in (user, ts, seq) order, so one pass per user run with a map of (query, item) keys.
 * An anonymous log has one user: the key is (query, item).
 */
export function dedupeSearchRows(store: RowStore, assign: Uint8Array, nItems: number, rule: DedupeRule): number {
  const queries = store.queries;
  if (rule === 'none' || queries === null || store.length === 0) return 0;
  const items = store.items;
  const runs = store.runs;
  const kept = new Map<number, number>();
  let removed = 0;
  for (let u = 0; u + 1 < runs.length; u++) {
    kept.clear();
    const end = runs[u + 1];
    for (let i = runs[u]; i < end; i++) {
      const g = assign[i];
      if (!isAlive(g)) continue;
      // Below 2^53 for up to ~2^23 queries × items per group code; the product stays exact in a double.
      const key = (queries[i] * nItems + items[i]) * 4 + g;
      const k = kept.get(key);
      if (k === undefined) {
        kept.set(key, i);
        continue;
      }
      const drop = dropOf(store, rule, i, k, '(user, query, item) row');
      assign[drop] = REMOVED_DEDUPE;
      removed++;
      if (drop === k) kept.set(key, i);
    }
  }
  return removed;
}

/**
 * `query:TRAIN,VALID,TEST`: one seeded draw per query (in query-index order, i.e. first appearance), every pool
 * row of the query to its split, so test queries are never seen in training. Predefined splits drop their share.
 */
export function querySplit(store: RowStore, assign: Uint8Array, nQueries: number, spec: { ratios: [number, number, number] }, predefined: { valid: boolean; test: boolean }, seed: number): SplitOutcome {
  const notes: string[] = [];
  const ratios = splitShares('query', spec.ratios, predefined, notes);
  const prng = Prng.fromSeed(seed, 'prep.split.query');
  const a = ratios[0] * 4294967296;
  const b = (ratios[0] + ratios[1]) * 4294967296;
  const draws = new Uint32Array(Math.max(1, nQueries));
  prng.fillUint32(draws);
  const queries = store.queries as Int32Array;
  for (let i = 0; i < store.length; i++) {
    if (assign[i] !== POOL) continue;
    const x = draws[queries[i]];
    assign[i] = x < a ? TRAIN : x < b ? VALID : TEST;
  }
  return { ratios, cuts: null, notes };
}

/** The queries that keep rows, dense in order of first appearance, with their counts and per-split distinct counts. */
export interface QueryVocab {
  map: Int32Array;
  texts: string[];
  counts: Int32Array;
  perSplit: { train: number; valid: number; test: number };
}

export function queryVocab(ing: Ingest, assign: Uint8Array): QueryVocab {
  const store = ing.store;
  const queries = store.queries as Int32Array;
  const n0 = ing.queries.size;
  const counts0 = new Int32Array(n0);
  const seen = new Uint8Array(n0);
  const perSplit = { train: 0, valid: 0, test: 0 };
  const names = ['train', 'valid', 'test'] as const;
  for (let i = 0; i < store.length; i++) {
    const c = assign[i];
    if (c !== TRAIN && c !== VALID && c !== TEST) continue;
    const q = queries[i];
    counts0[q]++;
    const bit = 1 << c;
    if (!(seen[q] & bit)) {
      seen[q] |= bit;
      perSplit[names[c]]++;
    }
  }
  const map = new Int32Array(n0).fill(-1);
  const texts: string[] = [];
  const kept: number[] = [];
  for (let k = 0; k < n0; k++) {
    if (counts0[k] === 0) continue;
    map[k] = texts.length;
    texts.push(ing.queries.idAt(k));
    kept.push(counts0[k]);
  }
  return { map, texts, counts: Int32Array.from(kept), perSplit };
}

/** Writes queries.arrow with the catalogue's featuriser spec (or the default one without a catalogue). */
export async function writeSearchFiles(dir: string, queries: QueryVocab, spec: TextFeaturizerSpec | null): Promise<TextFeaturizerSpec> {
  const featurizer = spec !== null ? new TextFeaturizer({ numBuckets: spec.num_buckets, seed: spec.seed, maxChars: spec.max_chars, maxUnits: spec.max_units }) : new TextFeaturizer();
  await writeQueries(join(dir, SEARCH_FILES.queries), queries.texts, queries.counts, featurizer);
  return featurizer.spec();
}

/** The manifest's `search` block. */
export function searchManifest(
  ing: Ingest,
  queries: QueryVocab,
  spec: TextFeaturizerSpec,
  value: { relevance: boolean; min: number | null; max: number | null; range: [number, number] | null },
  itemsWithoutCatalogueRow: number | null,
): ManifestSearch {
  return {
    queries: queries.texts.length,
    queries_per_split: queries.perSplit,
    anonymous: ing.anonymous,
    relevance: value.relevance && value.min !== null && value.max !== null ? { min: value.min, max: value.max } : null,
    relevance_range: value.range,
    queries_cleaned: ing.queriesCleaned,
    max_query_chars: MAX_QUERY_CHARS,
    items_without_catalogue_row: itemsWithoutCatalogueRow,
    text_featurizer: { ...spec },
  };
}
