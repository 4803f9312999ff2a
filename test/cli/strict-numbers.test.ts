import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { rec, tempDir } from './helpers.js';

// Number() would have read each of these as a value (16, Infinity, 0): exit 2 naming where it came from.
describe.concurrent('numbers from flags, REC_* and config files are plain finite decimals (exit 2, no stack trace)', () => {
  const dir = tempDir('rec-numbers-');
  const config = join(dir, 'hex.yaml');
  writeFileSync(config, 'train:\n  epochs: 2\n  lr: 0x10\n');
  const ckpt = join(dir, 'ckpt');
  mkdirSync(ckpt);
  const cases: [string, string[], NodeJS.ProcessEnv, string][] = [
    ['--lr 0x10', ['train', '--lr', '0x10'], {}, '--lr expects a finite decimal number such as 0.005 or 5e-3'],
    ['--epochs ""', ['train', '--epochs', ''], {}, '--epochs expects an integer (digits only, at most 9007199254740991). Received: "".'],
    ['REC_TRAIN_BATCH_SIZE=1e999', ['train'], { REC_TRAIN_BATCH_SIZE: '1e999' }, 'Environment variable REC_TRAIN_BATCH_SIZE expects an integer'],
    ['--k 10,Infinity', ['eval', ckpt, '--k', '10,Infinity'], {}, '--k expects a comma-separated list of non-negative integers, e.g. 5,10,20. Received: "10,Infinity".'],
    ['--fail-under ndcg@10=1e999', ['eval', ckpt, '--fail-under', 'ndcg@10=1e999'], {}, '--fail-under: cannot read "ndcg@10=1e999"'],
    ['--max-drop ndcg@10=0x1%', ['eval', ckpt, '--max-drop', 'ndcg@10=0x1%'], {}, '--max-drop: cannot read "ndcg@10=0x1%"'],
    ['config lr: 0x10', ['train', '--config', config], {}, `Invalid value for train.lr at ${config}:3:7: "0x10" is not a plain decimal number`],
    ['synth --users 1e3', ['synth', '--out', join(dir, 's.csv'), '--users', '1e3'], {}, '--users expects a positive integer'],
  ];
  for (const [name, args, env, message] of cases) {
    it(name, async () => {
      const r = await rec(args, { cwd: dir, env });
      expect(r.stderr).toContain(message);
      expect(r.stderr).not.toMatch(/unexpected failure|bug in rec|\n\s+at /);
      expect(r.code, r.stderr).toBe(2);
    });
  }
});
