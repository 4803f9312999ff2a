import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { configSchema } from '../../src/config/schema.js';

const REPO = resolve(__dirname, '../..');
const README = readFileSync(join(REPO, 'README.md'), 'utf8');
const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { bin: Record<string, string>; scripts: Record<string, string> };

function codeBlocks(lang: string): string[] {
  return [...README.matchAll(new RegExp('```' + lang + '\\n([\\s\\S]*?)```', 'g'))].map((m) => m[1]);
}

describe('README set-up', () => {
  it('the first screen has exactly two set-up commands: the main job on the bundled data, and the tests', () => {
    const commands = codeBlocks('sh')[0].split('\n').map((l) => l.replace(/#.*$/, '').trim()).filter(Boolean);
    expect(commands).toEqual(['npm ci && npx rec train', 'npm test']);
    expect(README.indexOf('npm ci && npx rec train')).toBeLessThan(1500);
  });

  it('npx rec resolves to this package: the bin it names exists, and npm test builds first', () => {
    expect(pkg.bin.rec).toBe('bin/rec.js');
    expect(existsSync(join(REPO, pkg.bin.rec))).toBe(true);
    expect(pkg.scripts.test).toMatch(/^npm run build && /);
    expect(existsSync(join(REPO, 'datasets/shop/events.csv'))).toBe(true);
  });

  it('offers a quick subset, npm run test:quick (unit and docs tests, built first), and says so', () => {
    expect(pkg.scripts['test:quick']).toMatch(/^npm run build && vitest run --config test\/vitest.config.ts test\/unit test\/docs$/);
    expect(README).toMatch(/`npm run test:quick` builds and\s+runs only `test\/unit` and `test\/docs`/);
  });

  it('says how the bare rec of the examples gets on PATH', () => {
    expect(README).toMatch(/`npm link`/);
    expect(README).toMatch(/alias rec="npx rec"/);
  });
});

describe('README config example', () => {
  it('points editors at configs/schema.json, which exists, and is a valid config', () => {
    const yaml = codeBlocks('yaml')[0];
    const modeline = /^# yaml-language-server: \$schema=(\S+)$/m.exec(yaml);
    expect(modeline).not.toBeNull();
    expect(existsSync(join(REPO, modeline?.[1] ?? ''))).toBe(true);
    expect(configSchema.safeParse(parse(yaml)).success).toBe(true);
  });
});

describe('README examples', () => {
  it("every folder or file an example writes (--out, --to) is ignored by git, so trying them leaves git status clean", () => {
    const written = [...README.matchAll(/--(?:out|to) ([\w./-]+)/g)].map((m) => m[1]).filter((p) => !/^(DIR|FILE)$/.test(p));
    expect(written).toEqual(expect.arrayContaining(['data/games', 'ckpt/sasrec', 'ncf8.html']));
    // --no-index: the rules alone decide, whatever this checkout happens to hold.
    const notIgnored = written.filter((p) => spawnSync('git', ['check-ignore', '-q', '--no-index', p], { cwd: REPO }).status !== 0);
    expect(notIgnored).toEqual([]);
  });
});
