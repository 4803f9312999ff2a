import { describe, expect, it } from 'vitest';
import { parseMetrics } from '../../../src/eval/metrics/registry.js';
import { evalNotes } from '../../../src/eval/notes.js';

const base = { numItems: 50, feedback: 'implicit' as const, relevanceThreshold: null };

describe('evalNotes', () => {
  it('nothing to say for cut-offs below the catalogue on implicit data', () => {
    expect(evalNotes({ ...base, specs: parseMetrics(['hr', 'ndcg'], [5, 10]), protocol: { name: 'full' } })).toEqual({ warnings: [], info: [] });
  });

  it('a k at or beyond the catalogue (full) or the sampled list (N + 1) is a warning naming it', () => {
    const full = evalNotes({ ...base, specs: parseMetrics(['hr'], [10, 50, 80]), protocol: { name: 'full' } });
    expect(full.warnings).toEqual([expect.stringMatching(/^--k 50,80 are not below the 50 items of the catalogue/)]);
    const sampled = evalNotes({ ...base, specs: parseMetrics(['hr'], [10, 20]), protocol: { name: 'sampled', n: 9 } });
    expect(sampled.warnings).toEqual([expect.stringMatching(/^--k 10,20 are not below the 10 items ranked per relevant item under sampled:9/)]);
  });

  it('ranking metrics on explicit ratings without a relevance threshold: an info line; rmse alone or a threshold: none', () => {
    const explicit = { ...base, feedback: 'explicit' as const };
    expect(evalNotes({ ...explicit, specs: parseMetrics(['ndcg'], [10]), protocol: { name: 'full' } }).info).toEqual([
      expect.stringMatching(/every held-out rating counts as a relevant item.*--relevance-threshold R/),
    ]);
    expect(evalNotes({ ...explicit, specs: parseMetrics(['rmse'], [10]), protocol: { name: 'full' } }).info).toEqual([]);
    expect(evalNotes({ ...explicit, relevanceThreshold: 4, specs: parseMetrics(['ndcg'], [10]), protocol: { name: 'full' } }).info).toEqual([]);
  });
});
