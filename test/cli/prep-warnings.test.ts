import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { rec, tempDir } from './helpers.js';

// Issue #13: prep explains a mapping that makes no sense on stderr and in the manifest; --strict fails.
const dir = tempDir('rec-prepwarn-');
const log = join(dir, 'u.data');
writeFileSync(log, Array.from({ length: 30 }, (_, k) => `${k % 6}\t${100 + (k % 7)}\t${1 + (k % 5)}\t${881250949 + k * 3607}\n`).join(''));
const swapped = ['--columns', 'user=0,item=1,ts=2,rating=3'];

describe('rec prep warnings', () => {
  it('warns on stderr and in --json and the manifest, and still writes the dataset (exit 0)', async () => {
    const out = join(dir, 'warned');
    const r = await rec(['prep', log, '--out', out, ...swapped, '--json']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/warning: column 3, mapped as rating, holds 30 distinct values .*try --columns user=0,item=1,rating=2,ts=3/);
    expect(r.stderr).toMatch(/warning: column 2, mapped as ts, puts 30 of 30 rows before 1995/);
    const json = JSON.parse(r.stdout) as { warnings: string[] };
    const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as { warnings: string[]; prep: { strict: boolean } };
    expect(json.warnings).toHaveLength(2);
    expect(manifest.warnings).toEqual(json.warnings);
    expect(manifest.prep.strict).toBe(false);
  });

  it('--strict: exit 1 with the warning as the error, nothing written', async () => {
    const out = join(dir, 'strict');
    const r = await rec(['prep', log, '--out', out, ...swapped, '--strict']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/column 3, mapped as rating, .*--strict, config prep\.strict, makes this warning an error; no dataset was written/);
    expect(r.stderr).not.toMatch(/unexpected failure/);
    expect(existsSync(out)).toBe(false);
  });

  it('--strict passes a clean log, and prints the guessed mapping as info', async () => {
    const out = join(dir, 'clean');
    const r = await rec(['prep', log, '--out', out, '--strict']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/no --columns given; guessed user=0,item=1,rating=2,ts=3 by position/);
    expect(r.stderr).not.toMatch(/warning/);
  });
});
