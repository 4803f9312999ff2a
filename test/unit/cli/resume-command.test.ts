import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resumeCommand, shellQuote, withResumeCommand } from '../../../src/cli/resume-command.js';
import { InterruptedError, UsageError } from '../../../src/util/errors.js';

describe('shellQuote', () => {
  it.each(['checkpoints/mf-20261129-041500', '/abs/path_1.x', 'my runs/mf', "it's", 'a$b`c"d', '*', ''])('sh reads %j back unchanged', (arg) => {
    const r = spawnSync('sh', ['-c', `printf %s ${shellQuote(arg)}`], { encoding: 'utf8' });
    expect(r.stdout).toBe(arg);
  });

  it('leaves plain paths bare', () => {
    expect(shellQuote('checkpoints/mf-1')).toBe('checkpoints/mf-1');
  });
});

describe('resumeCommand', () => {
  it('names the folder relative to the working directory when it lies below it', () => {
    expect(resumeCommand('/home/u/proj/my runs/mf', '/home/u/proj')).toBe("rec train --out 'my runs/mf' --resume");
  });

  it('keeps an absolute path for a folder elsewhere', () => {
    expect(resumeCommand('/data/ckpt/mf', '/home/u/proj')).toBe('rec train --out /data/ckpt/mf --resume');
  });
});

describe('withResumeCommand', () => {
  const ckpt = (withState: boolean) => {
    const dir = join(mkdtempSync(join(tmpdir(), 'rec-resume-')), 'ck');
    mkdirSync(join(dir, 'last'), { recursive: true });
    if (withState) writeFileSync(join(dir, 'last', 'trainer_state.json'), '{}');
    return dir;
  };

  it('appends the command to an interruption that saved a state, keeping signal and exit code', async () => {
    const out = ckpt(true);
    const e = (await withResumeCommand(new InterruptedError('SIGTERM', 'SIGTERM received: saved a resumable state after epoch 2.'), out, '/')) as InterruptedError;
    expect(e).toBeInstanceOf(InterruptedError);
    expect(e.signal).toBe('SIGTERM');
    expect(e.exitCode).toBe(143);
    expect(e.message).toBe(`SIGTERM received: saved a resumable state after epoch 2. Continue with: rec train --out ${out.slice(1)} --resume`);
  });

  it('leaves an interruption without a saved state, and other errors, as they are', async () => {
    const interrupted = new InterruptedError('SIGINT', 'stopped');
    expect(await withResumeCommand(interrupted, ckpt(false), '/')).toBe(interrupted);
    const usage = new UsageError('bad');
    expect(await withResumeCommand(usage, ckpt(true), '/')).toBe(usage);
  });
});
