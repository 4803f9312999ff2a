import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BIN, REPO, rec, tempDir } from './helpers.js';

/** Every object key in a JSON document, at any depth. */
function keysOf(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(keysOf);
  if (value && typeof value === 'object') return Object.entries(value).flatMap(([k, v]) => [k, ...keysOf(v)]);
  return [];
}

describe('--log-level on every command', () => {
  it('rec synth accepts --log-level and prints its summary once', async () => {
    const dir = tempDir();
    const loud = await rec(['synth', '--out', join(dir, 'a.csv'), '--users', '20', '--items', '30', '--events', '200']);
    expect(loud.code).toBe(0);
    expect(loud.stdout).toBe('');
    expect(loud.stderr.match(/wrote 200 rows/g)).toHaveLength(1);
    const quiet = await rec(['synth', '--out', join(dir, 'b.csv'), '--users', '20', '--items', '30', '--events', '200', '--log-level', 'warn']);
    expect(quiet.code).toBe(0);
    expect(quiet.stderr).toBe('');
    expect(readFileSync(join(dir, 'b.csv'), 'utf8')).toBe(readFileSync(join(dir, 'a.csv'), 'utf8'));
  });

  it('rec synth refuses a bad --log-level naming the key, value and choices (exit 2)', async () => {
    const r = await rec(['synth', '--out', join(tempDir(), 'a.csv'), '--log-level', 'loud']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/log_level.*"loud".*flag:--log-level/s);
  });

  it('rec doctor accepts --log-level, and its --json keys are snake_case like every other JSON', async () => {
    const r = await rec(['doctor', '--json', '--log-level', 'error']);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as { tfjs_version: string; gpu_requirements: { cuda: string }; gpu: { nvidia_smi: boolean } };
    expect(report.tfjs_version).toMatch(/^\d+\.\d+\.\d+$/);
    expect(report.gpu_requirements.cuda).toBe('11.2');
    expect(typeof report.gpu.nvidia_smi).toBe('boolean');
    expect(keysOf(report).filter((k) => /[A-Z]/.test(k))).toEqual([]);
  });
});

describe('only built models are offered', () => {
  it('rec train --help lists the built models and the SASRec flags', async () => {
    const r = await rec(['train', '--help']);
    expect(r.stdout).toMatch(/--model <name> +mf\|gmf\|mlp\|neumf\|sasrec\|pop\|itemknn\|ease\|ials\|bpmf\|bm25\|two-tower\|hybrid\n/);
    expect(r.stdout).toMatch(/--max-len <n>/);
    expect(r.stdout).toMatch(/--heads <n>/);
    expect(r.stdout).toMatch(/--blocks <n>/);
  });

  it('rec train --model nope is exit 2 naming the built models, before anything is written', async () => {
    const out = join(tempDir(), 'ck');
    const r = await rec(['train', '--model', 'nope', '--out', out]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('expected one of mf|gmf|mlp|neumf|sasrec');
    expect(existsSync(out)).toBe(false);
  });
});

describe('interrupting rec train', () => {
  it('SIGINT ends with the resume command to paste, the folder quoted (exit 130)', async () => {
    const cwd = tempDir();
    // Batch size 1 through the autograd step: an epoch is thousands of short steps, so the signal lands inside one.
    const child = spawn(process.execPath, [BIN, 'train', '--data', join(REPO, 'datasets/shop/events.csv'), '--epochs', '2', '--dim', '8', '--batch-size', '1', '--no-fused', '--backend', 'cpu', '--out', 'my runs/mf'], {
      cwd,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, CI: 'true', REC_LOG_LEVEL: '' },
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((done) => child.on('close', (code) => done(code)));
    const runJson = join(cwd, 'my runs/mf/run.json');
    for (let i = 0; i < 6000 && !existsSync(runJson); i++) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 1000));
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(stderr).toMatch(/SIGINT received: saved a resumable state at epoch 1, step \d+\. Continue with: rec train --out 'my runs\/mf' --resume\n/);
  }, 60_000);
});

describe('the checkpoint folder explains itself', () => {
  it('rec train writes README.md describing every entry it created', async () => {
    const out = join(tempDir(), 'ck');
    const r = await rec(['train', '--data', join(REPO, 'datasets/shop/events.csv'), '--epochs', '1', '--dim', '8', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const readme = readFileSync(join(out, 'README.md'), 'utf8');
    expect(readme).toMatch(/^# rec checkpoint \(mf\)/);
    for (const entry of readdirSync(out, { withFileTypes: true })) {
      if (entry.name === 'README.md') continue;
      expect(readme, entry.name).toContain(`\`${entry.name}${entry.isDirectory() ? '/' : ''}\``);
    }
    for (const entry of readdirSync(join(out, 'last'))) expect(readme, `last/${entry}`).toContain(entry.replace(/\.(json|bin)$/, ''));
  });
});
