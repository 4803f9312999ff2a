import { tableFromIPC, type Table } from 'apache-arrow';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll } from 'vitest';
import { prepSchema, type PrepConfig } from '../../../../src/config/schema.js';
import type { DatasetManifest } from '../../../../src/data/manifest.js';
import { runPrep, type PrepRequest, type PrepResult } from '../../../../src/data/prep/run.js';
import { memoryLogger } from '../../../../src/util/log.js';
import { noProgress } from '../../../../src/util/progress.js';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');
export const FIXTURES = join(REPO, 'test/fixtures/prep');
export const SHARED = resolve(REPO, '../shared/datasets');

export function fixture(name: string): string {
  return join(FIXTURES, name);
}

/** A temp folder per test file (made on first use), removed afterwards. */
export function tempRoot(): () => string {
  let root: string | null = null;
  let k = 0;
  afterAll(() => {
    if (root !== null) rmSync(root, { recursive: true, force: true });
  });
  return () => {
    root ??= mkdtempSync(join(tmpdir(), 'rec-prep-test-'));
    return join(root, `out-${k++}`);
  };
}

export function config(overrides: Partial<Record<keyof PrepConfig, unknown>> = {}): PrepConfig {
  return prepSchema.parse(overrides);
}

export interface Prepped {
  out: string;
  result: PrepResult;
  manifest: DatasetManifest;
  logs: string[];
}

export async function prep(
  out: string,
  inputs: string[],
  overrides: Partial<Record<keyof PrepConfig, unknown>> = {},
  extra: Partial<PrepRequest> = {},
): Promise<Prepped> {
  const log = memoryLogger('debug');
  const result = await runPrep(
    { inputs, out, config: config(overrides), seed: 2020, recVersion: 'test', ...extra },
    { log, progress: noProgress },
  );
  const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as DatasetManifest;
  return { out, result, manifest, logs: log.lines };
}

export function table(out: string, file: string): Table {
  return tableFromIPC(readFileSync(join(out, file)));
}

/** Rows of an Arrow file as plain objects (int64 as number). */
export function rows(out: string, file: string): Record<string, unknown>[] {
  return table(out, file)
    .toArray()
    .map((r: { toJSON(): Record<string, unknown> }) => {
      const o = r.toJSON();
      for (const k of Object.keys(o)) if (typeof o[k] === 'bigint') o[k] = Number(o[k]);
      return o;
    });
}

export function rejects(out: string): { file: string; line: number; reason: string; detail: string; raw: string | null }[] {
  const text = readFileSync(join(out, 'rejects.jsonl'), 'utf8');
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as { file: string; line: number; reason: string; detail: string; raw: string | null });
}

/** The row-accounting identities of docs/datasets.md. */
export function expectAccounting(m: DatasetManifest, expect: (cond: boolean, what: string) => void): void {
  const r = m.rows;
  expect(r.read === r.accepted + r.rejected, `read ${r.read} = accepted ${r.accepted} + rejected ${r.rejected}`);
  expect(r.accepted === r.deduplicated + r.filtered + r.train + r.valid + r.test, `accepted = dedup + filtered + splits: ${JSON.stringify(r)}`);
  const sum = Object.values(m.rejected_by_reason).reduce((a, b) => a + b, 0);
  expect(sum === r.rejected, `rejected_by_reason sums to ${sum}, rejected ${r.rejected}`);
  for (const k of ['read', 'accepted', 'rejected', 'deduplicated', 'filtered', 'train', 'valid', 'test'] as const) {
    expect(Number.isInteger(r[k]) && r[k] >= 0, `rows.${k} is a non-negative integer`);
  }
  expect(m.splits.train.rows === r.train && m.splits.valid.rows === r.valid && m.splits.test.rows === r.test, 'split stats match rows');
}

/** The dataset folder itself and any staged temp folder beside it (`.NAME.tmp-…`). */
export function leftovers(out: string): string[] {
  const base = out.split('/').pop() ?? '';
  return readdirSync(dirname(out)).filter((f) => f === base || f.startsWith(`.${base}.tmp-`));
}
