import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CHECKPOINT_README, checkpointReadme, writeCheckpointReadme } from '../../../src/io/checkpoint-readme.js';

describe('checkpoint README.md', () => {
  it('describes every entry of PRODUCT §4 and names the model', () => {
    const text = checkpointReadme('neumf');
    expect(text).toMatch(/^# rec checkpoint \(neumf\)\n/);
    for (const entry of ['model/', 'last/', 'vocab/', 'config.yaml', 'run.json', 'metrics.jsonl', 'best.json', 'eval-<split>-<protocol>.json', 'trainer_state.json']) {
      expect(text).toContain(`\`${entry}\``);
    }
  });

  it('is written atomically as README.md, with no temporary left', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rec-readme-'));
    await writeCheckpointReadme(dir, 'mf');
    expect(readdirSync(dir)).toEqual([CHECKPOINT_README]);
    expect(readFileSync(join(dir, CHECKPOINT_README), 'utf8')).toBe(checkpointReadme('mf'));
  });
});
