import { readFileSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { rec, tempDir } from './helpers.js';

describe('rec CLI shell', () => {
  it('--help leads with examples and exit codes', async () => {
    const r = await rec(['--help']);
    expect(r.code).toBe(0);
    expect(r.stderr + r.stdout).toMatch(/Examples:/);
    expect(r.stderr + r.stdout).toMatch(/rec prep/);
    expect(r.stderr + r.stdout).toMatch(/Exit codes/);
  });

  it('--version prints the package version', async () => {
    const r = await rec(['--version']);
    const pkg = JSON.parse(readFileSync(join(__dirname, '../../package.json'), 'utf8')) as { version: string };
    expect(r.code).toBe(0);
    expect(r.stdout + r.stderr).toContain(pkg.version);
  });

  it('an unknown flag is a usage error (exit 2)', async () => {
    const r = await rec(['prep', 'x.csv', '--out', 'y', '--no-such-flag']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown option/);
  });

  it('a misspelt config key is exit 2 naming the key path and a suggestion', async () => {
    const dir = tempDir();
    const cfg = join(dir, 'bad.yaml');
    writeFileSync(cfg, 'train:\n  learning_rte: 0.1\n');
    const r = await rec(['train', '--config', cfg, '--out', join(dir, 'ck'), '--json']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/Unknown config key train\.learning_rte/);
    expect(r.stderr).toMatch(/Did you mean train\.lr/);
    expect(existsSync(join(dir, 'ck'))).toBe(false);
  });

  it('a bad flag value names the flag, the value and what was expected', async () => {
    const r = await rec(['train', '--lr', '-0.5', '--out', join(tempDir(), 'ck')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/train\.lr/);
    expect(r.stderr).toMatch(/-0\.5/);
    expect(r.stderr).toMatch(/flag:--lr/);
  });

  it('a missing input file is exit 2 naming the path', async () => {
    const dir = tempDir();
    const r = await rec(['prep', join(dir, 'missing.csv'), '--out', join(dir, 'ds')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('missing.csv');
    expect(readdirSync(dir)).toEqual([]);
  });

  it('environment variables sit between config files and flags', async () => {
    const dir = tempDir();
    const cfg = join(dir, 'c.yaml');
    writeFileSync(cfg, 'train:\n  epochs: 0\n');
    // epochs 0 is invalid: from the file alone it fails, REC_TRAIN_EPOCHS overrides it, a flag overrides both.
    const fromFile = await rec(['train', '--config', cfg, '--out', join(dir, 'a')]);
    expect(fromFile.code).toBe(2);
    expect(fromFile.stderr).toMatch(/train\.epochs.*config:/s);
    const fromEnv = await rec(['train', '--config', cfg, '--out', join(dir, 'b'), '--lr', 'oops'], { env: { REC_TRAIN_EPOCHS: '1' } });
    expect(fromEnv.code).toBe(2);
    expect(fromEnv.stderr).toMatch(/--lr expects a finite decimal number.*Received: "oops"/);
  });
});

describe('rec doctor', () => {
  it('reports wasm and cpu as loading, the tfjs-node engines as not installed, and GPU advice', async () => {
    const r = await rec(['doctor', '--json']);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as { engines: { name: string; loads: boolean }[]; auto: string; advice: string[] };
    const byName = Object.fromEntries(report.engines.map((e) => [e.name, e.loads]));
    expect(byName.wasm).toBe(true);
    expect(byName.cpu).toBe(true);
    expect(byName['node-gpu']).toBe(false);
    expect(report.auto).toBe('wasm');
    expect(report.advice.join('\n')).toMatch(/tfjs-node-gpu/);
  });
});
