import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FUZZ_SEED, fuzzCase, runFuzz, type FuzzSummary } from '../../../../bench/fuzz-cases.js';

// Memory-backed when there is one: each case writes a small dataset, and fsyncs dominate on disk.
const dir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'rec-fuzz-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const CASES = 1000;
const BATCH = 100;
/**
 * Each batch runs once, by whichever case asks first: the coverage case reads every batch's
 * summary, and runs the batches itself when it runs alone (`-t`).
 */
const batches = new Map<number, Promise<FuzzSummary>>();
function batch(b: number): Promise<FuzzSummary> {
  let summary = batches.get(b);
  if (summary === undefined) {
    summary = runFuzz(FUZZ_SEED, (b + 1) * BATCH, dir, undefined, b * BATCH);
    batches.set(b, summary);
  }
  return summary;
}

describe('rec prep under 1,000 mutated logs (issue #11; npm run bench -- fuzz runs 10,000)', () => {
  for (let b = 0; b < CASES / BATCH; b++) {
    it(`cases ${b * BATCH}–${(b + 1) * BATCH - 1}: success with the identities and read = data rows (RFC 4180 rows over lines), or a RecError naming the file, nothing left behind`, async () => {
      const s = await batch(b);
      expect(s.violations).toEqual([]);
    });
  }

  it('covered every kind of outcome and mutation it is meant to', async () => {
    const summaries: FuzzSummary[] = [];
    for (let b = 0; b < CASES / BATCH; b++) summaries.push(await batch(b));
    const outcomes = new Set(summaries.flatMap((s) => Object.keys(s.outcomes)));
    expect(outcomes.has('ok') && outcomes.has('rec_error_exit_1'), [...outcomes].join(',')).toBe(true);
    const reasons = new Set(summaries.flatMap((s) => Object.keys(s.rejected_by_reason)));
    for (const r of ['unclosed_quote', 'invalid_utf8', 'unsafe_integer_id', 'bad_id', 'bad_rating', 'bad_ts', 'bad_json', 'wrong_column_count', 'line_too_long']) {
      expect(reasons.has(r), `some case rejected rows as ${r}`).toBe(true);
    }
    const errors = summaries.flatMap((s) => Object.keys(s.errors)).join('\n');
    expect(errors).toMatch(/not a valid gzip stream/);
    expect(errors).toMatch(/Too many rejected rows/);
    const mutations = new Set(summaries.flatMap((s) => Object.keys(s.mutations)));
    for (const m of ['byte_flip', 'truncate', 'nul', 'invalid_utf8', 'bom', 'cr_only', 'crlf', 'open_quote', 'multiline_field', 'huge_line', 'bad_number', 'far_ts', 'bad_json_id', 'gzip_truncate', 'gzip_flip']) {
      expect(mutations.has(m), `some case used ${m}`).toBe(true);
    }
  }, 300_000);

  it('draws the same case for the same seed and index', () => {
    expect(fuzzCase(FUZZ_SEED, 17).bytes.equals(fuzzCase(FUZZ_SEED, 17).bytes)).toBe(true);
    expect(fuzzCase(FUZZ_SEED, 17).bytes.equals(fuzzCase(FUZZ_SEED, 18).bytes)).toBe(false);
  });
});
