import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readTrials } from '../../../src/io/study.js';

const dir = (): string => mkdtempSync(join(tmpdir(), 'rec-io-study-'));

describe('readTrials', () => {
  it('reads the epoch count and the metric by epoch, the last complete line of each trial winning', async () => {
    const d = dir();
    const line = (status: string, curve: (number | null)[]) =>
      JSON.stringify({ trial: 0, params: { 'train.lr': 0.01 }, status, value: 0.9, epochs: curve.length, metric_by_epoch: curve, best_epoch: 2, seconds: 3, checkpoint: 'trials/000', at: '2026-12-07T00:00:00Z' });
    // The last line is torn (no newline): a kill mid-write; it is dropped.
    writeFileSync(join(d, 'trials.jsonl'), `${line('running', [])}\n${line('completed', [0.95, 0.9, null])}\n{"trial": 0, "sta`);
    const r = (await readTrials(d)).get(0);
    expect(r).toMatchObject({ status: 'completed', epochs: 3, metric_by_epoch: [0.95, 0.9, null] });
  });

  it('reads a study written when `epochs` held the curve as a count plus metric_by_epoch', async () => {
    const d = dir();
    const legacy = { trial: 4, params: {}, status: 'pruned', value: 1.1, epochs: [1.3, 1.2, 1.1], best_epoch: 3, seconds: 2, checkpoint: 'trials/004', reason: 'median', at: '2026-12-06T00:00:00Z' };
    writeFileSync(join(d, 'trials.jsonl'), `${JSON.stringify(legacy)}\n`);
    expect((await readTrials(d)).get(4)).toMatchObject({ status: 'pruned', epochs: 3, metric_by_epoch: [1.3, 1.2, 1.1] });
  });
});
