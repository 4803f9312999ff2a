import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BIN, REPO, rec, tempDir } from './helpers.js';

const TRACE = join(REPO, 'test/fixtures/startup/trace-imports.mjs');

/** The npm packages (by name) that `rec ARGS` loaded, from the import trace. */
async function packagesLoaded(args: string[], cwd?: string): Promise<{ code: number | null; packages: Set<string>; stderr: string }> {
  const file = join(tempDir('rec-trace-'), 'imports.txt');
  const r = await rec(args, { cwd, env: { REC_TRACE_IMPORTS: file, NODE_OPTIONS: `--import ${TRACE}` } });
  const packages = new Set<string>();
  for (const url of readFileSync(file, 'utf8').split('\n')) {
    const m = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
    if (m) packages.add(m[1]);
  }
  return { code: r.code, packages, stderr: r.stderr };
}

const HEAVY = ['@tensorflow/tfjs', '@tensorflow/tfjs-core', 'apache-arrow', 'zod', 'yaml', 'csv-parse', 'cli-progress', 'hyparquet', 'hyparquet-writer', 'hyparquet-compressors', '@duckdb/node-api'];

describe('start-up loads only what the command needs (docs/benchmarks.md#targets: within 4× a bare node)', () => {
  it.each(['--version', '--help', 'prep --help', 'train --help', 'help eval', 'promote --help', 'drift --help', 'synth --help', 'recommend --help'])('rec %s loads commander and nothing heavy', async (line) => {
    const args = line.split(' ');
    const r = await packagesLoaded(args);
    expect(r.code).toBe(0);
    expect(r.packages.has('commander')).toBe(true);
    for (const name of HEAVY) expect(r.packages.has(name), `${name} loaded by rec ${args.join(' ')}`).toBe(false);
  });

  it('rec drift reads a log and a dataset without loading TF.js', async () => {
    const out = join(tempDir(), 'ds');
    const log = join(REPO, 'test/fixtures/prep/basic.tsv');
    expect((await rec(['prep', log, '--out', out, '--split', 'none'])).code).toBe(0);
    const r = await packagesLoaded(['drift', out, log]);
    expect(r.stderr).not.toMatch(/error/);
    expect(r.code).toBe(0);
    expect([...r.packages].filter((p) => p.startsWith('@tensorflow/'))).toEqual([]);
  });

  it('rec promote checks a checkpoint without loading TF.js', async () => {
    const dir = tempDir();
    const r = await packagesLoaded(['promote', dir, '--to', dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/not a complete rec checkpoint/);
    // Config loading (zod, yaml) is every command's; the model and data libraries are not promote's.
    expect([...r.packages].filter((p) => p.startsWith('@tensorflow/') || p === 'apache-arrow')).toEqual([]);
  });

  it('rec prep reads and writes Arrow without loading TF.js', async () => {
    const out = join(tempDir(), 'ds');
    const r = await packagesLoaded(['prep', join(REPO, 'test/fixtures/prep/basic.tsv'), '--out', out, '--split', 'none']);
    expect(r.stderr).not.toMatch(/error/);
    expect(r.code).toBe(0);
    expect(r.packages.has('apache-arrow')).toBe(true);
    expect([...r.packages].filter((p) => p.startsWith('@tensorflow/'))).toEqual([]);
  });
});

describe('help and version are output: stdout, exit 0', () => {
  it('rec --version prints only the version on stdout', async () => {
    const r = await rec(['--version']);
    const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string };
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${pkg.version}\n`);
    expect(r.stderr).toBe('');
  });

  it.each(['train --help', 'help train'])('rec %s prints the flags on stdout (so | grep finds them)', async (line) => {
    const r = await rec(line.split(' '));
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ {2}--lr <x>/m);
    expect(r.stdout).toMatch(/Examples:/);
    expect(r.stderr).toBe('');
  });

  it('rec with no arguments prints the overview on stdout', async () => {
    const r = await rec([]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Usage: rec/);
    expect(r.stdout).toMatch(/Exit codes/);
  });

  it('a usage error stays on stderr, exit 2, with nothing on stdout', async () => {
    const r = await rec(['train', '--no-such-flag']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/unknown option '--no-such-flag'/);
  });
});

describe('a reader that stops early', () => {
  it('rec train --help | head: a closed stdout is exit 0 without a stack trace', async () => {
    const child = spawn(process.execPath, [BIN, 'train', '--help'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CI: 'true' } });
    // Closed before the child has written anything, so its writes meet EPIPE.
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((done) => child.on('close', (c) => done(c)));
    expect(stderr).toBe('');
    expect(code).toBe(0);
  });
});
