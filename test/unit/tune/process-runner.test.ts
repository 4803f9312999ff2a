import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { processRunner } from '../../../src/tune/process-runner.js';
import type { TrialJob } from '../../../src/tune/study.js';

/** A stand-in for the CLI: `node -e SCRIPT train …`, so the runner's process handling is tested without TF.js. */
const runner = (script: string) => processRunner({ cli: [process.execPath, '-e', script], data: '/data' });

function job(): TrialJob {
  const dir = mkdtempSync(join(tmpdir(), 'rec-runner-'));
  return { trial: 0, dir: join(dir, '000'), config: join(dir, '000.yaml'), log: join(dir, '000.log'), resume: false, force: false, workers: 1 };
}

describe('processRunner', () => {
  it('records a crashing trial with its own error line and exit code', async () => {
    const j = job();
    const exit = await runner("process.stderr.write('engine: cpu\\nerror: Training diverged: loss is NaN at epoch 2, step 5.\\n'); process.exit(1)").train(j, async () => false);
    expect(exit).toEqual({ ok: false, interrupted: false, usage: false, message: 'Training diverged: loss is NaN at epoch 2, step 5. (exit 1)' });
    expect(readFileSync(j.log, 'utf8')).toMatch(/^engine: cpu/);
  });

  it('says a trial killed by SIGKILL may have run out of memory, and a usage refusal is exit 2', async () => {
    const killed = await runner("process.kill(process.pid, 'SIGKILL')").train(job(), async () => false);
    expect(killed).toMatchObject({ ok: false, interrupted: false, message: expect.stringMatching(/killed by SIGKILL \(out of memory, or killed\)/) as unknown });
    const usage = await runner("process.stderr.write('error: bad key\\n'); process.exit(2)").train(job(), async () => false);
    expect(usage).toMatchObject({ ok: false, usage: true, message: 'bad key (exit 2)' });
    const interrupted = await runner('process.exit(143)').train(job(), async () => false);
    expect(interrupted).toMatchObject({ ok: false, interrupted: true });
  });

  it('passes the train arguments, reports each epoch over IPC and sends back the verdict', async () => {
    const script = `
      const args = process.argv.slice(1);
      let epoch = 0;
      process.on('message', (m) => {
        if (m.type !== 'verdict') return;
        if (m.stop || epoch === 3) { process.stderr.write(JSON.stringify({ args, epoch }) + '\\n'); process.disconnect(); return; }
        process.send({ type: 'epoch', record: { epoch: ++epoch, valid: { rmse: 1 / epoch } } });
      });
      process.send({ type: 'epoch', record: { epoch: ++epoch, valid: { rmse: 1 } } });`;
    const j = job();
    const seen: number[] = [];
    const exit = await runner(script).train(j, async (record) => (seen.push(record.epoch), record.epoch === 2));
    expect(exit).toEqual({ ok: true });
    expect(seen).toEqual([1, 2]);
    const told = JSON.parse(readFileSync(j.log, 'utf8').trim()) as { args: string[]; epoch: number };
    expect(told.epoch).toBe(2);
    expect(told.args).toEqual(['train', '--data', '/data', '--config', j.config, '--out', j.dir, '--workers', '1', '--tune-ipc', '--no-progress', '--heartbeat', '0']);
  });
});
