/**
 * What about an evaluation would surprise the reader of its numbers (issue #13), said before the
 * numbers rather than left for them to discover:
 * - a cut-off k beyond the items that can be ranked: every list holds all of them, so hr@k and
 *   recall@k reach their ceiling while precision@k still divides by k;
 * - ranking metrics on explicit ratings without --relevance-threshold: every held-out rating is a
 *   relevant item, a rating of 1 included (docs/evaluation.md#data-and-vocabulary), which is the rule but rarely the intent.
 */
import type { MetricSpec } from './metrics/registry.js';
import type { ProtocolSpec } from './protocols.js';

export interface EvalNoteInput {
  specs: readonly MetricSpec[];
  protocol: ProtocolSpec;
  /** Items in the model's vocabulary. */
  numItems: number;
  feedback: 'explicit' | 'implicit';
  relevanceThreshold: number | null;
}

export function evalNotes(input: EvalNoteInput): { warnings: string[]; info: string[] } {
  const warnings: string[] = [];
  const info: string[] = [];
  const ks = [...new Set(input.specs.flatMap((s) => (s.kind === 'ranking' || s.kind === 'coverage' ? [s.k] : [])))].sort((a, b) => a - b);
  const ranked = input.protocol.name === 'sampled' ? input.protocol.n + 1 : input.numItems;
  const what = input.protocol.name === 'sampled' ? `the ${ranked} items ranked per relevant item under sampled:${input.protocol.n}` : `the ${ranked} items of the catalogue`;
  const over = ks.filter((k) => k >= ranked);
  if (over.length > 0) {
    warnings.push(`--k ${over.join(',')} ${over.length === 1 ? 'is' : 'are'} not below ${what}: every list holds all of them, so hr and recall at that cut-off reach their ceiling and precision still divides by k.`);
  }
  if (input.feedback === 'explicit' && input.relevanceThreshold === null && ks.length > 0) {
    info.push('explicit ratings: every held-out rating counts as a relevant item, whatever its value; --relevance-threshold R (e.g. 4) keeps only ratings >= R.');
  }
  return { warnings, info };
}
