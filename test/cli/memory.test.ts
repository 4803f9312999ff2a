/**
 * A training step that cannot fit the engine's memory is refused before anything is built (issue
 * 19, item 13): SASRec's full softmax on 5M items used to run ~110 s to 6.1 GB, then abort with
 * `XNN status 6` and a wasm stack trace. The catalogue here is 20,000 items with --dim 8192, the
 * same table bytes as millions of items at dim 50, from a log of 20,000 rows: quick to prep.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import { rec, tempDir } from './helpers.js';

const dir = tempDir('rec-memory-');
const ds = join(dir, 'ds');

beforeAll(async () => {
  const rows = Array.from({ length: 20_000 }, (_, k) => `u${k % 2000},i${k},${1_000_000 + k}`);
  const log = join(dir, 'wide.csv');
  writeFileSync(log, `user,item,ts\n${rows.join('\n')}\n`);
  const p = await rec(['prep', log, '--out', ds, '--split', 'leave-last']);
  expect(p.code, p.stderr).toBe(0);
}, 60_000);

it('the full softmax over a catalogue too large for the wasm heap is exit 2 at once, naming --negatives N; nothing is written', async () => {
  const out = join(dir, 'ck');
  const r = await rec(['train', '--data', ds, '--model', 'sasrec', '--loss', 'ce', '--negatives', '0', '--dim', '8192', '--max-len', '2', '--batch-size', '8', '--backend', 'wasm', '--out', out]);
  expect(r.code, r.stderr).toBe(2);
  expect(r.stderr).toMatch(/--model sasrec with the full softmax over 20,000 items \(--loss ce --negatives 0\) needs about [\d.]+ GiB a training step .*more than the wasm engine heap/);
  expect(r.stderr).toMatch(/use --negatives 1000 \(sampled softmax/);
  expect(r.stderr).not.toMatch(/XNN status|Aborted\(\)|\n\s+at /);
  expect(existsSync(join(out, 'run.json'))).toBe(false);
}, 60_000);
