import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { rec, tempDir, type RunResult } from './helpers.js';

const DATASET = ['items.arrow', 'manifest.json', 'rejects.jsonl', 'test.arrow', 'train.arrow', 'users.arrow', 'valid.arrow'];
const root = tempDir('rec-out-safety-');
afterAll(() => rmSync(root, { recursive: true, force: true }));
let k = 0;
const fresh = (): string => {
  const dir = join(root, `case-${k++}`);
  mkdirSync(dir);
  return dir;
};
const LOG_TEXT = 'user_id,item_id,rating\n' + Array.from({ length: 60 }, (_, i) => `u${i % 7},i${i % 11},${1 + (i % 5)}`).join('\n') + '\n';

/** A handled failure: the exit code, a message naming what was wrong, and no stack trace. */
function expectClean(r: RunResult, code: number, message: RegExp): void {
  expect(r.stderr).not.toMatch(/unexpected failure|bug in rec|\n\s+at /);
  expect(r.stderr).toMatch(message);
  expect(r.code, r.stderr).toBe(code);
}

describe('rec prep --out never clobbers a user folder (issue: --out . wiped a notebook folder)', () => {
  it('refuses a folder with a notebook, notes and the input log (exit 2, naming them); --force keeps them all', async () => {
    const dir = fresh();
    writeFileSync(join(dir, 'events.csv'), LOG_TEXT);
    writeFileSync(join(dir, 'notes.md'), 'notes');
    writeFileSync(join(dir, 'explore.ipynb'), '{}');
    const refused = await rec(['prep', 'events.csv', '--out', '.', '--json'], { cwd: dir });
    expectClean(refused, 2, /--out .* is not a dataset folder written by rec: it holds events\.csv, explore\.ipynb, notes\.md\. Nothing was written\..*--force/);
    expect(refused.stdout).toBe('');
    expect(readdirSync(dir).sort()).toEqual(['events.csv', 'explore.ipynb', 'notes.md']);

    const forced = await rec(['prep', 'events.csv', '--out', '.', '--force', '--json'], { cwd: dir });
    expect(forced.code, forced.stderr).toBe(0);
    expect(readdirSync(dir).sort()).toEqual([...DATASET, 'events.csv', 'explore.ipynb', 'notes.md'].sort());
    expect(readFileSync(join(dir, 'events.csv'), 'utf8')).toBe(LOG_TEXT);
    expect(readFileSync(join(dir, 'notes.md'), 'utf8')).toBe('notes');
  });

  it('an input named like a dataset file inside --out is refused even with --force', async () => {
    const dir = fresh();
    writeFileSync(join(dir, 'rejects.jsonl'), '{"user_id":"u1","item_id":"i1"}\n');
    const r = await rec(['prep', 'rejects.jsonl', '--out', '.', '--force'], { cwd: dir });
    expectClean(r, 2, /holds the input .*rejects\.jsonl, which writing the dataset would overwrite/);
    expect(readdirSync(dir)).toEqual(['rejects.jsonl']);
  });

  it('rec train --data LOG refuses a CKPT/data folder holding other files before training', async () => {
    const dir = fresh();
    writeFileSync(join(dir, 'events.csv'), LOG_TEXT);
    mkdirSync(join(dir, 'ckpt', 'data'), { recursive: true });
    writeFileSync(join(dir, 'ckpt', 'data', 'mine.txt'), 'keep');
    const r = await rec(['train', '--data', 'events.csv', '--out', 'ckpt', '--epochs', '1'], { cwd: dir });
    // The checkpoint check comes first: ckpt/ holds a data/ folder but no run.json, so it is not a checkpoint rec wrote.
    expectClean(r, 2, /--out .*ckpt holds checkpoint files but no valid run\.json/);
    expect(readdirSync(join(dir, 'ckpt', 'data'))).toEqual(['mine.txt']);
  });

  it('rec train --out under a regular file is a one-line error naming the path (exit 1)', async () => {
    const dir = fresh();
    writeFileSync(join(dir, 'events.csv'), LOG_TEXT);
    const prep = await rec(['prep', 'events.csv', '--out', 'ds', '-q'], { cwd: dir });
    expect(prep.code, prep.stderr).toBe(0);
    const r = await rec(['train', '--data', 'ds', '--out', 'events.csv/ckpt', '--epochs', '1', '--backend', 'cpu'], { cwd: dir });
    expectClean(r, 1, /Cannot .*events\.csv\/ckpt.*: a part of the path is a file, not a folder \(ENOTDIR\)/);
  });
});

// Each case is one spawn of the binary; run them side by side. Over-long names and the other
// errno mappings are covered in test/unit/data/prep/output.test.ts.
describe.concurrent('unusable --out paths are clear errors, not stack traces or hangs', () => {
  const dir = fresh();
  const log = join(dir, 'events.csv');
  writeFileSync(log, LOG_TEXT);
  const cases: [string, string[], number, RegExp][] = [
    ['prep: a path under a regular file', ['prep', log, '--out', join(log, 'ds')], 1, /Cannot write .*events\.csv\/ds: a part of the path is a file, not a folder \(ENOTDIR\)/],
    ['prep: the root folder', ['prep', log, '--out', '/'], 2, /--out \/ is the root of the file system/],
    // Node's recursive mkdir used to spin here for minutes and ignore the first SIGTERM.
    ['prep: /proc/self/nope', ['prep', log, '--out', '/proc/self/nope'], 1, /Cannot write \/proc\/self\/nope/],
    ['synth: a path under a regular file', ['synth', '--out', join(log, 'x.csv')], 1, /Cannot write .*: a part of the path is a file, not a folder \(ENOTDIR\)/],
    ['synth: read-only /proc', ['synth', '--out', '/proc/self/nope/x.csv'], 1, /Cannot write \/proc\/self\/nope\/x\.csv/],
    ['synth: an existing file', ['synth', '--out', log], 2, /events\.csv already exists\. Nothing was written\..*--force/],
  ];
  for (const [name, args, code, message] of cases) {
    it(name, async () => {
      const r = await rec(args, { cwd: dir, timeoutMs: 20_000 });
      expectClean(r, code, message);
      expect(readFileSync(log, 'utf8')).toBe(LOG_TEXT);
      expect(readdirSync(dir)).toEqual(['events.csv']);
    });
  }
});

describe('a leading ~ in a path flag is the home folder, not a folder named ~', () => {
  it('expands --out, --out=… and positional logs', async () => {
    const home = fresh();
    const cwd = fresh();
    const env = { HOME: home };
    const synth = await rec(['synth', '--out', '~/shop.csv', '--users', '30', '--items', '20', '--events', '300', '-q'], { cwd, env });
    expect(synth.code, synth.stderr).toBe(0);
    const prep = await rec(['prep', '~/shop.csv', '--out=~/data/shop', '--json'], { cwd, env });
    expect(prep.code, prep.stderr).toBe(0);
    expect((JSON.parse(prep.stdout) as { dataset: string }).dataset).toBe(join(home, 'data', 'shop'));
    expect(readdirSync(join(home, 'data', 'shop')).sort()).toEqual(DATASET);
    expect(existsSync(join(cwd, '~'))).toBe(false);
    expect(readdirSync(cwd)).toEqual([]);
  });
});

describe.concurrent('hostile --config files are exit 2 (ConfigError), not a hang or a stack trace', () => {
  const dir = fresh();
  const log = join(dir, 'events.csv');
  writeFileSync(log, LOG_TEXT);
  const bomb = ['a: &a [x, x, x, x, x, x, x, x, x]']
    .concat(['b', 'c', 'd', 'e', 'f', 'g'].map((key, i) => `${key}: &${key} [${Array(9).fill(`*${'abcdefg'[i]}`).join(', ')}]`))
    .join('\n');
  for (const [name, text, message] of [
    ['bomb.yaml', bomb, /Invalid YAML in .*bomb\.yaml: .*alias/i],
    ['proto.yaml', '__proto__:\n  seed: 1\n', /Config key __proto__ \(from config:.*proto\.yaml\) is not allowed/],
  ] as const) {
    it(name, async () => {
      writeFileSync(join(dir, name), text);
      const r = await rec(['prep', log, '--out', join(dir, 'ds'), '--config', join(dir, name)], { timeoutMs: 20_000 });
      expectClean(r, 2, message);
      expect(existsSync(join(dir, 'ds'))).toBe(false);
    });
  }
});
