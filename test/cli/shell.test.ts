import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { rec, tempDir } from './helpers.js';

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
  it('rec train --help lists the built models and no SASRec flags', async () => {
    const r = await rec(['train', '--help']);
    expect(r.stdout).toMatch(/--model <name> +mf\|gmf\|mlp\|neumf\n/);
    expect(r.stdout).not.toMatch(/sasrec|--max-len|--heads|--blocks/i);
  });

  it('rec train --model sasrec is exit 2 saying it is not built, before anything is written', async () => {
    const out = join(tempDir(), 'ck');
    const r = await rec(['train', '--model', 'sasrec', '--out', out]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('sasrec is not built in this version of rec; expected one of mf|gmf|mlp|neumf');
    expect(existsSync(out)).toBe(false);
  });
});
