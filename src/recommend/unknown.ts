/**
 * Explaining ids the checkpoint does not know (issue #13). An unknown user still gets popular
 * items (`cold: true`, README.md#commands), but a typo such as `001` for `1`, `1.0` from a spreadsheet
 * export, or a quoted id must not pass for a genuinely new user: every unknown id is counted and
 * the first few named, with the vocabulary id it most likely means when one matches after
 * normalisation (`normalizeId`).
 */
import { anonymizeId } from '../data/anonymize.js';
import type { Vocab } from '../data/dataset.js';
import type { UserQueries } from './recommend.js';

/** How many unknown ids a message or the --json report names. */
export const SHOWN_UNKNOWN = 5;

export interface UnknownIds {
  /** Distinct ids not in the vocabulary. */
  count: number;
  /** The first SHOWN_UNKNOWN of them, as typed. */
  first: string[];
  /** Typed id → the id it probably means, for the ids in `first` that match one after normalisation. */
  did_you_mean: Record<string, string>;
}

/**
 * The forms one id takes on its way through files and tools: surrounding whitespace and quotes
 * (CSV exports), leading zeros and a `.0` suffix (a numeric id that went through a float column).
 * Only integers lose zeros: `007a` stays as it is, since non-numeric ids rarely pad.
 */
export function normalizeId(id: string): string {
  let s = id.trim();
  while (s.length >= 2 && (s[0] === '"' || s[0] === "'") && s[s.length - 1] === s[0]) s = s.slice(1, -1).trim();
  const m = /^([+-]?)(\d+)(?:\.0*)?$/.exec(s);
  if (m === null) return s;
  const digits = m[2].replace(/^0+(?=\d)/, '');
  return m[1] === '-' && digits !== '0' ? `-${digits}` : digits;
}

/**
 * A lookup from typed ids to the vocabulary id they normalise to. Under anonymisation the
 * vocabulary holds HMACs, so the typed id is normalised and hashed instead, and the suggestion is
 * the normalised raw id (what the user should type), never a hash.
 */
export function createSuggester(vocab: Vocab, key: Uint8Array | null): (typed: string) => string | null {
  if (key !== null) {
    return (typed) => {
      const n = normalizeId(typed);
      return n !== typed && vocab.lookup(anonymizeId(key, n)) >= 0 ? n : null;
    };
  }
  let byNormal: Map<string, string> | null = null;
  return (typed) => {
    if (byNormal === null) {
      // Built on the first unknown id only: a run where every id is known pays nothing.
      byNormal = new Map();
      for (const id of vocab.ids) {
        const n = normalizeId(id);
        if (!byNormal.has(n)) byNormal.set(n, id);
      }
    }
    const hit = byNormal.get(normalizeId(typed));
    return hit !== undefined && hit !== typed ? hit : null;
  };
}

/** The queries' labels whose index is -1, with suggestions for the first few. */
export function unknownUsers(queries: UserQueries, vocab: Vocab, key: Uint8Array | null): UnknownIds {
  const unknown: string[] = [];
  for (let j = 0; j < queries.indices.length; j++) if (queries.indices[j] < 0) unknown.push(queries.labels[j]);
  return unknownReport(unknown, createSuggester(vocab, key));
}

export function unknownReport(unknown: readonly string[], suggest: (typed: string) => string | null): UnknownIds {
  const first = unknown.slice(0, SHOWN_UNKNOWN);
  const did_you_mean: Record<string, string> = {};
  for (const id of first) {
    const s = suggest(id);
    if (s !== null) did_you_mean[id] = s;
  }
  return { count: unknown.length, first, did_you_mean };
}

/** `"001" (did you mean "1"?), "stranger" and 3 more`. */
export function describeIds(report: UnknownIds): string {
  const shown = report.first.map((id) => {
    const s = report.did_you_mean[id];
    return s === undefined ? JSON.stringify(id) : `${JSON.stringify(id)} (did you mean ${JSON.stringify(s)}?)`;
  });
  const more = report.count - report.first.length;
  return `${shown.join(', ')}${more > 0 ? ` and ${more} more` : ''}`;
}

/** The warning for unknown users; null when every id is known. */
export function unknownUsersMessage(report: UnknownIds, total: number, vocabSize: number): string | null {
  if (report.count === 0) return null;
  const hint = Object.keys(report.did_you_mean).length > 0
    ? ' Ids are matched exactly as typed: check for leading zeros, a ".0" suffix, quotes or spaces.'
    : '';
  return `${report.count} of ${total} user id${total === 1 ? '' : 's'} ${report.count === 1 ? 'is' : 'are'} not in the checkpoint's vocabulary (${vocabSize} users), so ${report.count === 1 ? 'it gets' : 'they get'} popular items marked "cold": true: ${describeIds(report)}.${hint}`;
}

const HEADER_WORDS = new Set(['user', 'users', 'userid', 'userids', 'uid', 'id', 'customer', 'customerid', 'client', 'clientid', 'visitor', 'visitorid', 'member', 'memberid', 'account', 'accountid']);

/** A first line such as `user_id`, `userId` or `"User ID"` in a --users file is a header, not a user. */
export function looksLikeHeader(id: string): boolean {
  return HEADER_WORDS.has(normalizeId(id).toLowerCase().replace(/[\s_-]/g, ''));
}
