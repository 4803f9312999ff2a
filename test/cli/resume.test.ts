import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { killMidEpoch, rec, savedState, tempDir } from './helpers.js';

const metricsOf = (ck: string) =>
  readFileSync(join(ck, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { epoch: number; loss: number; valid: Record<string, number> })
    .map((r) => ({ epoch: r.epoch, loss: r.loss, valid: r.valid }));

describe('kill -9 mid-epoch, then --resume', () => {
  it('finishes with exactly the metrics of an uninterrupted run (cpu engine, same seed)', async () => {
    const dir = tempDir();
    const log = join(dir, 'log.csv');
    expect((await rec(['synth', '--out', log, '--users', '200', '--items', '100', '--events', '12000', '--seed', '4'])).code).toBe(0);
    const ds = join(dir, 'ds');
    expect((await rec(['prep', log, '--out', ds])).code).toBe(0);
    const args = (out: string) => ['train', '--data', ds, '--epochs', '3', '--dim', '8', '--batch-size', '64', '--save-every', '7', '--seed', '9', '--backend', 'cpu', '--patience', '0', '--out', out];

    const full = join(dir, 'full');
    const ref = await rec(args(full), { timeoutMs: 120_000 });
    expect(ref.code, ref.stderr).toBe(0);

    const killed = join(dir, 'killed');
    expect(await killMidEpoch(args(killed), killed)).toBe('SIGKILL');
    const at = savedState(killed);
    expect(at?.epoch).toBe(1);
    expect(at?.step_in_epoch).toBeGreaterThan(0);

    const resumed = await rec(['train', '--out', killed, '--resume', '--json', '--backend', 'cpu'], { timeoutMs: 120_000 });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(metricsOf(killed)).toEqual(metricsOf(full));
  }, 240_000);
});
