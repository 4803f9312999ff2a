import { copyFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO, rec, tempDir } from './helpers.js';

const fixture = (name: string) => join(REPO, 'test/fixtures/prep', name);

// No shell expands ~ inside a YAML value or an environment variable; rec does, like for path flags.
describe('a leading ~ in config and REC_* path values is the home folder', () => {
  it('prep.test from a config file and REC_PREP_TEST', async () => {
    const home = tempDir('rec-home-');
    const cwd = tempDir('rec-cwd-');
    copyFileSync(fixture('predef-train.tsv'), join(home, 'train.tsv'));
    copyFileSync(fixture('predef-test.tsv'), join(home, 'test.tsv'));
    const config = join(home, 'prep.yaml');
    writeFileSync(config, 'prep:\n  test: ~/test.tsv\n  split: none\n');
    const viaConfig = await rec(['prep', '~/train.tsv', '--out', 'a', '--config', '~/prep.yaml', '--json'], { cwd, env: { HOME: home } });
    expect(viaConfig.code, viaConfig.stderr).toBe(0);
    const viaEnv = await rec(['prep', '~/train.tsv', '--out', 'b', '--split', 'none', '--json'], { cwd, env: { HOME: home, REC_PREP_TEST: '~/test.tsv' } });
    expect(viaEnv.code, viaEnv.stderr).toBe(0);
    for (const out of ['a', 'b']) {
      expect(readFileSync(join(cwd, out, 'manifest.json'), 'utf8')).toContain(JSON.stringify(join(home, 'test.tsv')));
    }
    expect(existsSync(join(cwd, '~'))).toBe(false);
    expect(readdirSync(cwd).sort()).toEqual(['a', 'b']);
  });

  it('a missing ~ path names the expanded path and its source (exit 2)', async () => {
    const home = tempDir('rec-home-');
    copyFileSync(fixture('predef-train.tsv'), join(home, 'train.tsv'));
    const r = await rec(['prep', join(home, 'train.tsv'), '--out', join(home, 'out')], { cwd: home, env: { HOME: home, REC_PREP_TEST: '~/nope.tsv' } });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(join(home, 'nope.tsv'));
  });
});
