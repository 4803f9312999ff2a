/**
 * The shape of a dataset's manifest.json, checked before any reader looks inside it: a manifest
 * with a key missing or of the wrong type (edited by hand, cut short, written by another tool) is a
 * clear error naming the key, instead of a TypeError deep in prep, train or eval. Objects are
 * loose: keys a newer rec adds are kept, not refused. Only the keys readers use are checked in
 * depth; every key here has been in every manifest of format_version 1 except the optional ones.
 */
import { z } from 'zod';
import { DataError, describeValue } from '../util/errors.js';
import type { DatasetManifest } from './manifest.js';

const count = z.number().int().nonnegative();
const nullableNumber = z.number().nullable();
const sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'expected 64 lowercase hex digits');
const splitStats = z.looseObject({ rows: count, users: count, items: count, cold_users: count, cold_items: count });

const manifestShape = z.looseObject({
  format_version: z.number(),
  rec_version: z.string(),
  seed: z.number(),
  sources: z.array(
    z.looseObject({
      path: z.string(),
      role: z.enum(['log', 'valid', 'test']),
      sha256: z.string(),
      columns: z.record(z.string(), z.union([z.string(), z.number()])).optional(),
      rows_read: count.optional(),
    }),
  ),
  prep: z.record(z.string(), z.unknown()),
  rows: z.looseObject({ read: count, accepted: count, rejected: count, deduplicated: count, filtered: count, train: count, valid: count, test: count }),
  rejected_by_reason: z.record(z.string(), count),
  users: count,
  items: count,
  split: z.looseObject({
    kind: z.enum(['random', 'temporal', 'query', 'days', 'leave-last', 'none']),
    spec: z.string(),
    ratios: z.array(z.number()).nullable(),
    predefined: z.looseObject({ valid: z.string().nullable(), test: z.string().nullable() }),
    cuts: z.looseObject({ valid_from_ts: nullableNumber, test_from_ts: nullableNumber }).nullable(),
  }),
  splits: z.looseObject({ train: splitStats, valid: splitStats, test: splitStats }),
  feedback: z.looseObject({
    kind: z.enum(['explicit', 'implicit']),
    event_weights: z.record(z.string(), z.number()).nullable(),
    value_min: nullableNumber,
    value_max: nullableNumber,
  }),
  events: z.array(z.string()).nullable(),
  dedupe: z.enum(['first', 'last', 'max', 'sum', 'none']),
  kcore: z.looseObject({ min_user: count, min_item: count }),
  time: z.looseObject({ has_ts: z.boolean(), min_ts: nullableNumber, max_ts: nullableNumber }),
  anonymize: z.looseObject({ algorithm: z.string(), key_fingerprint: z.string() }).nullable(),
  files_sha256: z
    .looseObject({ train: sha256, valid: sha256, test: sha256, users: sha256, items: sha256, rejects: sha256, item_features: sha256.optional(), item_feature_vocab: sha256.optional(), queries: sha256.optional() })
    .optional(),
  catalogue: z
    .looseObject({
      key: z.string(),
      features: z.record(z.string(), z.enum(['text', 'category', 'multi', 'number'])),
      catalogue_only_items: count,
      catalogue_only_from: count,
      text_featurizer: z.looseObject({ version: z.string(), seed: z.number(), num_buckets: count }),
    })
    .nullable()
    .optional(),
  window: z.looseObject({ days: z.number() }).nullable().optional(),
  search: z
    .looseObject({
      queries: count,
      anonymous: z.boolean(),
      text_featurizer: z.looseObject({ version: z.string(), seed: z.number(), num_buckets: count, max_chars: count, max_units: count }),
    })
    .nullable()
    .optional(),
});

/** The value at `path` inside `root`, for the error message. */
function at(root: unknown, path: readonly PropertyKey[]): unknown {
  let v = root;
  for (const key of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[key];
  }
  return v;
}

function keyPath(path: readonly PropertyKey[]): string {
  return path.map((k, i) => (typeof k === 'number' ? `[${k}]` : `${i > 0 ? '.' : ''}${String(k)}`)).join('');
}

/** The parsed manifest.json of `path` as a DatasetManifest, or a DataError naming the first bad key. */
export function checkManifestShape(value: unknown, path: string): DatasetManifest {
  const r = manifestShape.safeParse(value);
  if (r.success) return value as DatasetManifest;
  const issue = r.error.issues[0];
  const received = at(value, issue.path);
  const key = keyPath(issue.path);
  const what = received === undefined ? `has no "${key}"` : `has an invalid "${key}": ${describeValue(received)} (${issue.message})`;
  const more = r.error.issues.length > 1 ? ` (and ${r.error.issues.length - 1} more problem${r.error.issues.length > 2 ? 's' : ''})` : '';
  throw new DataError(`${path} ${what}${more}. Expected a manifest written by rec prep, unedited; re-run rec prep to rebuild the dataset.`);
}
